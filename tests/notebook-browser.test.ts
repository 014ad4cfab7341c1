/**
 * A real browser run of the project notebook: starts a Jupyter Notebook server (127.0.0.1, a free port, a
 * random token, rooted at the project), opens a copy of the notebook in headless Chromium (Debian's
 * /usr/bin/chromium driven by playwright-core; no browser is ever downloaded) and, through the UI, runs
 * only its last two code cells in the fresh kernel the page starts. Checks that they finish without an
 * error, that their outputs show a piano roll (a PNG image or an SVG that the browser really decodes) and
 * an HTML <audio> player whose WAV the browser can load, that no other cell ran, and that the committed
 * notebook was not modified.
 *
 * The copy is a hidden file in the project root (the kernel starts in the notebook's folder and cells
 * import `./lib/...`), with its outputs removed so that only outputs of this run can satisfy the checks;
 * it is deleted afterwards. A screenshot of the final page goes to out/notebook-browser.png
 * (NOTEBOOK_BROWSER_SCREENSHOT=path to change), also when the test fails.
 *
 * Needs Jupyter Notebook + the tslab kernel, Chromium, playwright-core, FluidSynth and a General-MIDI
 * SoundFont (`bash scripts/setup.sh` installs them all on Debian as root). Without them this test fails
 * when CI is set and is skipped otherwise. CHROMIUM_PATH=path uses another Chromium/Chrome binary;
 * MUSICGEN_NOTEBOOK=path runs another notebook (it must lie in the project root's folder tree like the
 * default one; the copy is always made in the root).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { synthMissingReason } from '../lib/show/synth';
import { ROOT } from './helpers';

const NOTEBOOK = path.resolve(ROOT, process.env.MUSICGEN_NOTEBOOK ?? 'Music_Generator.ipynb');
const SCREENSHOT = path.resolve(ROOT, process.env.NOTEBOOK_BROWSER_SCREENSHOT ?? 'out/notebook-browser.png');
const CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

const SERVER_START_MS = 60_000;
const PAGE_LOAD_MS = 60_000;
const KERNEL_START_MS = 120_000;
/** The two cells load the shipped model and generate (a few seconds on the WebAssembly backend). */
const CELLS_MS = 5 * 60_000;
const SHUTDOWN_MS = 15_000;
const TEST_MS = SERVER_START_MS + PAGE_LOAD_MS + KERNEL_START_MS + CELLS_MS + 4 * SHUTDOWN_MS + 60_000;

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/Applications/Chromium.app/Contents/MacOS/Chromium'];

// ---------------------------------------------------------------- what is needed, and whether it is here

function chromiumPath(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return fs.existsSync(env) ? env : null;
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/** Everything missing here, each with how to get it; empty when the test can run. */
function problems(): string[] {
  const out: string[] = [];
  const ks = spawnSync('jupyter', ['kernelspec', 'list', '--json'], { encoding: 'utf8' });
  if (ks.error || ks.status !== 0) {
    out.push('Jupyter (with `jupyter kernelspec`) is not installed (run `bash scripts/setup.sh`)');
  } else {
    try {
      const specs = (JSON.parse(ks.stdout) as { kernelspecs: Record<string, { spec: { argv: string[] } } | undefined> }).kernelspecs;
      const tslab = specs.tslab;
      if (!tslab) out.push('the tslab Jupyter kernel is not registered (run `bash scripts/setup.sh`)');
      else if (!fs.existsSync(tslab.spec.argv[0])) {
        out.push(`the tslab kernel points to a missing ${tslab.spec.argv[0]} (run \`bash scripts/setup.sh\`)`);
      }
    } catch {
      out.push('`jupyter kernelspec list --json` did not print JSON');
    }
    const nb = spawnSync('jupyter', ['notebook', '--version'], { encoding: 'utf8' });
    if (nb.error || nb.status !== 0) out.push('Jupyter Notebook (`jupyter notebook`) is not installed (run `bash scripts/setup.sh`)');
  }
  if (!chromiumPath()) {
    out.push(
      process.env.CHROMIUM_PATH
        ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist`
        : `Chromium is not installed (${CHROMIUM_CANDIDATES.join(' or ')}; run \`bash scripts/setup.sh\` or \`sudo apt-get install chromium\`, or set CHROMIUM_PATH)`,
    );
  }
  try {
    require.resolve('playwright-core');
  } catch {
    out.push('the npm package playwright-core is not installed (run `npm ci`)');
  }
  // The audio player needs what the library's synthesizer needs: FluidSynth and a General-MIDI SoundFont.
  const noSynth = synthMissingReason();
  if (noSynth) out.push(noSynth);
  return out;
}

const missing = problems();
const skip = missing.length > 0 && !CI ? missing.join('; ') : false;

// ---------------------------------------------------------------- notebook helpers

interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: unknown[];
  [key: string]: unknown;
}
interface Notebook {
  cells: Cell[];
  [key: string]: unknown;
}
const joined = (s: string | string[] | undefined): string => (Array.isArray(s) ? s.join('') : (s ?? ''));
const sha = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Error text tslab writes to a cell's stderr: compile diagnostics ("3:7 - …", or "lib/x.ts 3:7 - …" for an
 * imported file) or an uncaught error.
 */
const ERROR_TEXT = /^(?:(?:\S+\.[cm]?tsx? )?\d+:\d+ - |[A-Za-z]*Error: |unexpected error: )/m;

/** Preloaded into the tslab kernel, as scripts/run-notebook.sh does: turns off its file watchers (see the file for why). */
const NO_WATCH_PRELOAD = path.join(ROOT, 'scripts', 'tslab-no-watch.js');

// ---------------------------------------------------------------- process helpers

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids of processes whose command line mentions `marker` (Linux /proc; empty elsewhere). */
function processesMentioning(marker: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker)) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

// ---------------------------------------------------------------- the run

/** What the run started; everything is undone by cleanUp(), which may be called more than once. */
const state: {
  tmp?: string;
  copy?: string;
  server?: ChildProcess;
  serverLog: string;
  base?: string;
  token?: string;
  browser?: Browser;
  page?: Page;
  cleaned?: Promise<string[]>;
} = { serverLog: '' };

async function startServer(): Promise<void> {
  const tmp = state.tmp!;
  const runtime = path.join(tmp, 'runtime');
  const config = path.join(tmp, 'config');
  fs.mkdirSync(runtime);
  fs.mkdirSync(config);
  const token = crypto.randomBytes(24).toString('hex');
  const port = await freePort();
  const args = [
    'notebook',
    '--no-browser',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--port-retries=20',
    `--notebook-dir=${ROOT}`,
    `--NotebookApp.token=${token}`,
    '--ContentsManager.allow_hidden=True',
    '--MappingKernelManager.kernel_info_timeout=120',
  ];
  if (process.getuid?.() === 0) args.push('--allow-root');
  const server = spawn('jupyter', args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // the same small settings as scripts/run-notebook.sh's headless runs
      MUSICGEN_QUICK: '1',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : ''}--require "${NO_WATCH_PRELOAD}"`,
      // this server's connection files (and so its kernels' command lines) live here; no user config
      JUPYTER_RUNTIME_DIR: runtime,
      JUPYTER_CONFIG_DIR: config,
    },
  });
  state.server = server;
  state.token = token;
  const append = (d: Buffer): void => {
    state.serverLog = (state.serverLog + d.toString()).slice(-200_000);
  };
  server.stdout!.on('data', append);
  server.stderr!.on('data', append);

  const deadline = Date.now() + SERVER_START_MS;
  let exited: string | null = null;
  server.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
  while (!state.base) {
    if (exited) throw new Error(`the Jupyter server ${exited} while starting:\n${state.serverLog.slice(-4000)}`);
    if (Date.now() > deadline)
      throw new Error(`the Jupyter server did not start within ${SERVER_START_MS / 1000} s:\n${state.serverLog.slice(-4000)}`);
    const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(state.serverLog);
    if (m) {
      try {
        const res = await fetch(`http://127.0.0.1:${m[1]}/api/status`, { headers: { Authorization: `token ${token}` } });
        if (res.ok) state.base = `http://127.0.0.1:${m[1]}`;
      } catch {
        // not listening yet
      }
    }
    if (!state.base) await sleep(250);
  }
}

interface PageState {
  kernel: string | null;
  kernelName: string | null;
  dead: boolean;
  replies: Record<number, string>;
  started: number[];
  finished: number[];
  running: number[];
}

/** The page's execution state, from the hooks installed by installHooks(). */
const readState = (page: Page): Promise<PageState> =>
  page.evaluate(() => {
    const w = globalThis as unknown as {
      Jupyter: any;
      __nbtest: { started: number[]; finished: number[]; replies: Record<number, string>; dead: boolean };
      document: any;
    };
    const nb = w.Jupyter.notebook;
    const icon = w.document.querySelector('#kernel_indicator_icon');
    const kernel = icon ? (String(icon.className).match(/kernel_(\w+)_icon/)?.[1] ?? null) : null;
    const running: number[] = [];
    nb.get_cells().forEach((c: any, i: number) => {
      if (c.element.hasClass('running')) running.push(i);
    });
    return {
      kernel,
      kernelName: nb.kernel?.name ?? null,
      dead: w.__nbtest.dead,
      replies: { ...w.__nbtest.replies },
      started: [...w.__nbtest.started],
      finished: [...w.__nbtest.finished],
      running,
    };
  });

async function cleanUp(): Promise<string[]> {
  state.cleaned ??= (async () => {
    const notes: string[] = [];
    const note = (s: string): void => {
      notes.push(s);
    };
    if (state.browser) {
      await within(state.browser.close(), SHUTDOWN_MS, 'closing the browser').catch((e: Error) => note(e.message));
    }
    const server = state.server;
    if (server?.pid !== undefined) {
      const pid = server.pid;
      const exited = new Promise<void>((r) =>
        server.exitCode !== null || server.signalCode !== null ? r() : server.once('exit', () => r()),
      );
      if (state.base && alive(pid)) {
        // the Notebook server's own shutdown: stops its kernels, then exits
        await within(
          fetch(`${state.base}/api/shutdown`, { method: 'POST', headers: { Authorization: `token ${state.token}` } }),
          SHUTDOWN_MS,
          'POST /api/shutdown',
        ).catch((e: Error) => note(`asking the server to shut down failed: ${e.message}`));
      }
      if (
        !(await within(exited, SHUTDOWN_MS, 'server exit').then(
          () => true,
          () => false,
        ))
      ) {
        note('the Jupyter server did not exit after /api/shutdown; sending SIGTERM');
        try {
          process.kill(-pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (
          !(await within(exited, SHUTDOWN_MS, 'server exit').then(
            () => true,
            () => false,
          ))
        ) {
          note('the Jupyter server ignored SIGTERM; sending SIGKILL');
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    if (state.tmp) {
      // kernels this server started: their command lines name a connection file in our runtime dir
      const deadline = Date.now() + SHUTDOWN_MS;
      let left = processesMentioning(state.tmp);
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(250);
        left = processesMentioning(state.tmp);
      }
      for (const pid of left) {
        note(`killing leftover kernel process ${pid}`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      fs.rmSync(state.tmp, { recursive: true, force: true });
    }
    if (state.copy) {
      fs.rmSync(state.copy, { force: true });
      const checkpoints = path.join(ROOT, '.ipynb_checkpoints');
      fs.rmSync(path.join(checkpoints, `${path.basename(state.copy, '.ipynb')}-checkpoint.ipynb`), { force: true });
      try {
        fs.rmdirSync(checkpoints); // only when empty
      } catch {
        // not there, or holds other checkpoints
      }
    }
    return notes;
  })();
  return state.cleaned;
}

after(async () => {
  const notes = await cleanUp();
  for (const n of notes) console.error(`notebook-browser test: ${n}`);
});
// Last resort if the runner exits before the hooks: no server or kernel outlives the test.
process.on('exit', () => {
  if (state.server?.pid !== undefined && state.server.exitCode === null && state.server.signalCode === null) {
    try {
      process.kill(-state.server.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (state.copy) fs.rmSync(state.copy, { force: true });
});

test(
  "the notebook's last two code cells run in a browser and show a piano roll and an audio player",
  { skip, timeout: TEST_MS },
  async () => {
    if (missing.length > 0) assert.fail(`CI is set but this test cannot run: ${missing.join('; ')}`);
    const started = Date.now();
    const before = sha(NOTEBOOK);

    // A copy without outputs, in the project root: only this run's outputs can pass the checks below.
    const nb = JSON.parse(fs.readFileSync(NOTEBOOK, 'utf8')) as Notebook;
    const code = nb.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === 'code' && joined(c.source).trim() !== '');
    assert.ok(code.length >= 2, `${NOTEBOOK} has fewer than two code cells`);
    const targets = code.slice(-2).map(({ i }) => i);
    nb.cells = nb.cells.map((c) => (c.cell_type === 'code' ? { ...c, execution_count: null, outputs: [] } : c));
    // copies left by runs that were killed before they could clean up
    for (const f of fs.readdirSync(ROOT)) {
      const m = /^\.notebook-browser-test-(\d+)\.ipynb$/.exec(f);
      if (m && !alive(Number(m[1]))) fs.rmSync(path.join(ROOT, f), { force: true });
    }
    state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'notebook-browser-'));
    state.copy = path.join(ROOT, `.notebook-browser-test-${process.pid}.ipynb`);
    fs.writeFileSync(state.copy, JSON.stringify(nb, null, 1));

    let failure: unknown = null;
    try {
      await startServer();
      const { chromium } = await import('playwright-core');
      state.browser = await chromium.launch({
        executablePath: chromiumPath()!,
        headless: true,
        // as root Chromium refuses to start with its sandbox
        args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
        timeout: PAGE_LOAD_MS,
      });
      const context = await state.browser.newContext({ viewport: { width: 1280, height: 1400 } });
      const page = await context.newPage();
      state.page = page;
      const consoleErrors: string[] = [];
      page.on('pageerror', (e) => consoleErrors.push(e.message));

      const url = `${state.base}/notebooks/${encodeURIComponent(path.basename(state.copy))}?token=${state.token}`;
      const res = await page.goto(url, { timeout: PAGE_LOAD_MS, waitUntil: 'domcontentloaded' });
      assert.ok(res?.ok(), `opening ${url.replace(state.token!, '<token>')} gave HTTP ${res?.status()}`);
      // Notebook 6 (classic UI): the notebook is loaded and its kernel session is connected.
      await page.waitForFunction(
        () => {
          const J = (globalThis as unknown as { Jupyter?: any }).Jupyter;
          return !!J?.notebook?._fully_loaded && !!J.notebook.kernel?.is_connected?.();
        },
        undefined,
        { timeout: KERNEL_START_MS, polling: 250 },
      );
      await page.evaluate(() => {
        const J = (globalThis as unknown as { Jupyter: any }).Jupyter;
        J.notebook.set_autosave_interval(0); // never write the copy (or a checkpoint) while we look at it
        const hooks = { started: [] as number[], finished: [] as number[], replies: {} as Record<number, string>, dead: false };
        (globalThis as unknown as { __nbtest: typeof hooks }).__nbtest = hooks;
        // each cell's execute_reply status (ok / error / aborted), which the classic UI does not show
        const CodeCell = (globalThis as unknown as { requirejs: (m: string) => any }).requirejs('notebook/js/codecell').CodeCell;
        const handle = CodeCell.prototype._handle_execute_reply;
        CodeCell.prototype._handle_execute_reply = function (this: unknown, msg: { content: { status: string } }) {
          hooks.replies[J.notebook.find_cell_index(this)] = msg.content.status;
          return handle.call(this, msg);
        };
        J.notebook.events.on('execute.CodeCell', (_e: unknown, d: { cell: unknown }) =>
          hooks.started.push(J.notebook.find_cell_index(d.cell)),
        );
        J.notebook.events.on('finished_execute.CodeCell', (_e: unknown, d: { cell: unknown }) =>
          hooks.finished.push(J.notebook.find_cell_index(d.cell)),
        );
        J.notebook.events.on('kernel_dead.Kernel kernel_killed.Kernel', () => (hooks.dead = true));
      });
      const cells = page.locator('#notebook-container > .cell');
      assert.equal(await cells.count(), nb.cells.length, 'the page shows a different number of cells than the notebook has');
      let s = await readState(page);
      assert.equal(s.kernelName, 'tslab', `the page started kernel ${s.kernelName}, not tslab`);
      // the fresh kernel has finished starting
      const idleBy = Date.now() + KERNEL_START_MS;
      while (s.kernel !== 'idle') {
        assert.ok(!s.dead, 'the kernel died while starting');
        assert.ok(Date.now() < idleBy, `the kernel is still "${s.kernel}" after ${KERNEL_START_MS / 1000} s`);
        await sleep(250);
        s = await readState(page);
      }
      for (const i of targets) {
        assert.equal(await cells.nth(i).locator('.output_area').count(), 0, `code cell ${i} shows outputs before running`);
      }

      // Through the UI: select each cell by its prompt (command mode) and run it with Ctrl+Enter, which runs
      // the selected cell and stays there (Shift+Enter would move on, into a markdown cell or a new cell).
      for (const i of targets) {
        await cells.nth(i).locator('.input_prompt').first().click();
        await page.waitForFunction((idx) => (globalThis as unknown as { Jupyter: any }).Jupyter.notebook.get_selected_index() === idx, i, {
          timeout: 10_000,
        });
        await page.keyboard.press('Control+Enter');
      }
      const doneBy = Date.now() + CELLS_MS;
      for (;;) {
        s = await readState(page);
        assert.ok(!s.dead, `the kernel died while running the cells:\n${state.serverLog.slice(-4000)}`);
        if (targets.every((i) => s.finished.includes(i)) && s.running.length === 0 && s.kernel === 'idle') break;
        assert.ok(
          Date.now() < doneBy,
          `the last two cells did not finish within ${CELLS_MS / 1000} s (started ${JSON.stringify(s.started)}, finished ${JSON.stringify(s.finished)}, kernel ${s.kernel})`,
        );
        await sleep(500);
      }
      assert.deepEqual([...s.started].sort(), [...targets].sort(), 'cells other than the last two code cells ran');

      // No error: no error output, no error text on stderr.
      for (const i of targets) {
        const cell = cells.nth(i);
        const first = joined(nb.cells[i].source).split('\n')[0].slice(0, 60);
        const where = `code cell ${i} (${first})`;
        assert.equal(
          await cell.locator('.output_error').count(),
          0,
          `${where} shows an error output:\n${(await cell.locator('.output_error').allInnerTexts()).join('\n')}`,
        );
        const stderr = (await cell.locator('.output_stderr').allInnerTexts()).join('\n');
        assert.doesNotMatch(stderr, ERROR_TEXT, `${where} printed an error:\n${stderr}`);
        assert.equal(s.replies[i], 'ok', `${where}: the kernel replied "${s.replies[i]}"${stderr ? `; its stderr:\n${stderr}` : ''}`);
        assert.ok((await cell.locator('.output_area').count()) > 0, `${where} shows no output`);
      }

      // The piano roll: a PNG image (or an SVG) that the browser decoded to a real size.
      const ours = targets.map((i) => cells.nth(i).locator('.output_subarea'));
      const found = await Promise.all(
        ours.map((o) =>
          o.evaluateAll((els) =>
            els.flatMap((el) =>
              [...el.querySelectorAll('img, svg')]
                .filter((p) => !p.parentElement?.closest('svg'))
                .map((p) => {
                  const img = p.tagName.toLowerCase() === 'img' ? (p as any) : null;
                  const box = p.getBoundingClientRect();
                  return {
                    tag: p.tagName.toLowerCase(),
                    src: img ? img.src.slice(0, 30) : '',
                    width: img ? img.naturalWidth : box.width,
                    height: img ? img.naturalHeight : box.height,
                  };
                }),
            ),
          ),
        ),
      );
      const pictures = found.flat();
      const rolls = pictures.filter(
        (p) => (p.tag === 'svg' || p.src.startsWith('data:image/png;base64,')) && p.width >= 100 && p.height >= 50,
      );
      assert.ok(
        rolls.length > 0,
        `no piano roll (a PNG image or an SVG of at least 100×50) in the outputs; pictures: ${JSON.stringify(pictures)}`,
      );

      // The audio player: an <audio> with a data: WAV that the browser can load (a duration over 0).
      const audio = ours[0].locator('audio').or(ours[1].locator('audio'));
      assert.ok((await audio.count()) > 0, 'no <audio> player in the outputs');
      // (no named functions inside page code: tsx would wrap them in a __name() helper the page lacks)
      const player = await audio.first().evaluate((a: any) =>
        new Promise<void>((resolve) => {
          if (a.readyState >= 1 || a.error) return resolve();
          a.addEventListener('loadedmetadata', () => resolve(), { once: true });
          a.addEventListener('error', () => resolve(), { once: true });
          a.load();
          setTimeout(() => resolve(), 20_000);
        }).then(() => ({
          src: String(a.currentSrc).slice(0, 30),
          duration: Number(a.duration),
          error: a.error ? `code ${a.error.code}` : null,
          controls: Boolean(a.controls),
        })),
      );
      assert.ok(player.src.startsWith('data:audio/'), `the player's source is not a data: audio URL: ${player.src}`);
      assert.equal(player.error, null, `the browser cannot play the audio (${player.error})`);
      assert.ok(player.duration > 0 && Number.isFinite(player.duration), `the audio has no duration (${player.duration})`);
      assert.ok(player.controls, 'the <audio> element has no controls');
      assert.deepEqual(consoleErrors, [], 'the page threw JavaScript errors');
    } catch (e) {
      failure = e;
    } finally {
      if (state.page) {
        // the final page, for a look (also after a failure): the two cells and their outputs
        try {
          fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
          await within(
            state.page
              .locator('#notebook-container > .cell')
              .nth(targets[0])
              .evaluate((el) => el.scrollIntoView({ block: 'start' })),
            5_000,
            'scrolling',
          ).catch(() => undefined);
          await within(state.page.screenshot({ path: SCREENSHOT }), 15_000, 'screenshot');
        } catch {
          // a screenshot is only a help
        }
      }
      const notes = await cleanUp();
      for (const n of notes) console.error(`notebook-browser test: ${n}`);
    }
    if (failure) {
      if (failure instanceof Error)
        failure.message += `\n(screenshot: ${path.relative(ROOT, SCREENSHOT)}; the run took ${((Date.now() - started) / 1000).toFixed(0)} s)`;
      throw failure;
    }
    assert.equal(sha(NOTEBOOK), before, 'the committed notebook was modified');
    assert.ok(!fs.existsSync(state.copy), `the temporary copy ${state.copy} was not removed`);
  },
);
