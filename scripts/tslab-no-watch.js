// Preloaded into the tslab kernel (NODE_OPTIONS=--require; a no-op in any other node process) by
// scripts/run-notebook.sh and tests/notebook-browser.test.ts: turns off TypeScript's file and directory
// watchers. tslab 1.0.22 breaks ("Unexpected pending rebuildTimer" in the next cell, and every cell after)
// when a file is created or renamed under lib/ or node_modules/ while the kernel runs. Without the watchers,
// edits to lib/ are simply picked up after a kernel restart.
if (process.argv[2] === 'kernel' && /tslab/.test(process.argv[1] || '')) {
  try {
    const tslabDir = require('path').dirname(require.resolve('tslab/package.json', { paths: [process.cwd()] }));
    const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [tslabDir] }));
    const none = () => ({ close() {} });
    ts.sys.watchFile = none;
    ts.sys.watchDirectory = none;
  } catch (e) {
    process.stderr.write(`tslab-no-watch: could not turn off tslab's file watchers: ${e && e.message}\n`);
  }
}
