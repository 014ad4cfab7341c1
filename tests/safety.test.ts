/**
 * Nothing a user had is lost, and every long command can be stopped:
 * two trainings into one folder (the second is refused, naming the first), a
 * model replaced only once a new one is saved (--force), generate, inspect and
 * evaluate stopped by SIGINT and SIGTERM within seconds with nothing written,
 * a message after a progress bar on a line of its own, and a model whose
 * scores are not finite stopped before it writes or scores anything.
 * The commands run as real processes (tests/helpers.ts startCli).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { encodePieces } from '../lib/data/dataset';
import { evaluateModel, DEFAULT_EVALUATE_OPTIONS } from '../lib/evaluate/evaluate';
import { generateMusic, generateMusicAsync } from '../lib/generate/generate';
import { DEFAULT_GENERATION_SETTINGS, DEFAULT_RUN_SETTINGS } from '../lib/generate/settings';
import { excerptPrimer } from '../lib/generate/primer';
import { loadCorpus } from '../lib/midi/corpus';
import { createRng } from '../lib/core/rng';
import { lockFileOf } from '../lib/store/lock';
import { loadModel } from '../lib/store/load';
import { DATA_DIR, FOLK_MODEL, assertExit0, midiFilesIn, spawnCli, startCli, startProcess, type CliRun, type Started } from './helpers';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A small, quick training (a few seconds an epoch on a busy machine). */
const TINY = [
  '--data',
  DATA_DIR,
  '--max-files',
  '14',
  '--units',
  '16',
  '--embedding',
  '8',
  '--seq-len',
  '32',
  '--batch-size',
  '8',
  '--scheme',
  'timed',
  '--checkpoint-every',
  '0.5',
];

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-safety-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Waits until `ok()` holds, or the process ends first (then fails with its output). */
async function waitUntil(run: Started, ok: () => boolean, what: string): Promise<void> {
  let ended: CliRun | null = null;
  void run.done.then((r) => (ended = r));
  while (!ok()) {
    if (ended) throw new Error(`the process ended before ${what}: exit ${(ended as CliRun).code}\n${(ended as CliRun).stderr}`);
    await sleep(20);
  }
}

/** Every file of a folder with its bytes, for before/after comparisons. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]),
  );
}

/** The folder's siblings that a training leaves only while it runs. */
function leftovers(dir: string): string[] {
  const name = path.basename(dir);
  return fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(`.${name}.`));
}

test('two trainings into one folder at once: one trains, the other stops at once naming the folder and the first; a lock left by a dead process is taken over', async () => {
  const dir = path.join(tmp, 'shared');
  const a = startCli(['train', '--out', dir, ...TINY, '--epochs', '1', '--json'], 240_000);
  const b = startCli(['train', '--out', dir, ...TINY, '--epochs', '1', '--json'], 240_000);
  const runs = [a, b];
  const results = await Promise.all(runs.map((r) => r.done));
  const winner = results.findIndex((r) => r.code === 0);
  assert.ok(winner >= 0, `neither run succeeded:\n${results.map((r) => r.stderr).join('\n---\n')}`);
  const loser = results[1 - winner];
  assert.equal(loser.code, 1, loser.stderr);
  const lines = loser.stderr.trim().split('\n');
  assert.equal(lines.length, 1, loser.stderr);
  assert.match(
    lines[0],
    new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being written by another training \\(process ${runs[winner].child.pid} `),
  );
  const lm = await loadModel(dir);
  assert.equal(lm.model.config.units, 16);
  lm.model.net.dispose();
  assert.deepEqual(leftovers(dir), [], 'the lock file was not removed');

  // A lock whose process is gone (kill -9) does not block the next run.
  const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
  fs.writeFileSync(lockFileOf(dir), JSON.stringify({ pid: dead, host: os.hostname(), started: null, since: 'then' }));
  assertExit0(await spawnCli(['train', '--out', dir, '--resume', '--epochs', '2', '--json'], 240_000));
  assert.deepEqual(leftovers(dir), []);
});

test('a folder holding a model: refused without --force; with --force the old model stays whole until the new one is saved, also when interrupted; --resume finishes and swaps', async () => {
  const dir = path.join(tmp, 'pretrained-copy');
  fs.cpSync(FOLK_MODEL, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'my-notes.txt'), 'mine');
  const old = snapshot(dir);
  const slow = [...TINY, '--stride', '2', '--epochs', '1', '--json'];

  const refused = await spawnCli(['train', '--out', dir, ...slow]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr.trim(), /already holds a model: add --force to replace it/);
  assert.deepEqual(snapshot(dir), old);

  const staged = path.join(tmp, '.pretrained-copy.new');
  const run = startCli(['train', '--out', dir, ...slow, '--force'], 240_000);
  await waitUntil(run, () => fs.existsSync(path.join(staged, 'checkpoint.ckpt')), 'the first checkpoint');
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  assert.ok(!fs.existsSync(path.join(staged, 'model.json')), 'precondition: interrupted before the first epoch was saved');
  assert.match(
    r.stderr,
    /checkpoint saved in .*\.pretrained-copy\.new \(the model in .* is kept until the new one's first epoch\); continue with --resume/,
  );
  assert.deepEqual(snapshot(dir), old, 'the old model changed before a new one existed');

  const resumed = await spawnCli(['train', '--out', dir, '--resume', '--json'], 240_000);
  assertExit0(resumed);
  assert.match(resumed.stderr, /the new model replaced the old one/);
  const lm = await loadModel(dir);
  assert.equal(lm.model.config.units, 16, 'the new model is in place');
  lm.model.net.dispose();
  assert.equal(fs.readFileSync(path.join(dir, 'my-notes.txt'), 'utf8'), 'mine', "the user's own file was kept");
  assert.deepEqual(leftovers(dir), []);
});

/** A folder of many MIDI files (copies of data/), for an inspect that runs for a while. */
function bigFolder(): string {
  const dir = path.join(tmp, 'many');
  for (let k = 0; k < 30; k++) {
    const sub = path.join(dir, `copy${k}`);
    fs.mkdirSync(sub, { recursive: true });
    for (const f of midiFilesIn(DATA_DIR)) fs.copyFileSync(path.join(DATA_DIR, f), path.join(sub, f));
  }
  return dir;
}

test('SIGINT and SIGTERM stop generate, inspect and evaluate within seconds: exit 130 / 143, nothing written', async (t) => {
  const many = bigFolder();
  const out = path.join(tmp, 'stopped');
  fs.mkdirSync(out);
  const cases: [string, string[], RegExp][] = [
    [
      'generate',
      ['generate', '--model', FOLK_MODEL, '--data', DATA_DIR, '--length', '100000', '--seed', '1', '--out', path.join(out, 'g.mid')],
      /generate \[/,
    ],
    ['inspect', ['inspect', many], /load +\[/],
    ['evaluate', ['evaluate', '--model', FOLK_MODEL, '--train-data', DATA_DIR, '--samples', '500', '--length', '1000'], /baseline done/],
  ];
  for (const [name, args, working] of cases) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const run = startCli(args, 240_000);
      const stderr = watchStderr(run);
      await waitUntil(run, () => working.test(stderr()), `${name} started working`);
      await sleep(500);
      const sent = performance.now();
      run.child.kill(signal);
      const r = await run.done;
      const ms = Math.round(performance.now() - sent);
      t.diagnostic(`${name} ${signal}: exit ${r.code} after ${ms} ms`);
      assert.equal(r.code, signal === 'SIGINT' ? 130 : 143, `${name} ${signal}: exit ${r.code} ${r.signal}\n${r.stderr}`);
      assert.match(r.stderr.trim().split('\n').pop() ?? '', new RegExp(`musicgen ${name}: interrupted`));
      // Well within a second on an idle machine; allow for a busy one.
      assert.ok(ms < 3000, `${name} took ${ms} ms to stop on ${signal}`);
      assert.deepEqual(fs.readdirSync(out), [], `${name} left files behind`);
    }
  }
});

/** What a started process has written to stderr so far (call right after starting it). */
function watchStderr(run: Started): () => string {
  let seen = '';
  run.child.stderr?.on('data', (d: Buffer) => (seen += d.toString()));
  return () => seen;
}

const haveScript = spawnSync('script', ['--version']).status === 0;

/** Starts the CLI in a terminal of its own (`script`); its output is the terminal's (stdout and stderr, with \r\n). */
function startInTerminal(args: readonly string[]): { run: Started; text: () => string } {
  const cli = [process.execPath, '--import', 'tsx', 'lib/cli/main.ts', ...args];
  const run = startProcess('script', ['-qfec', cli.map((x) => `'${x}'`).join(' '), '/dev/null'], { timeoutMs: 240_000 });
  let seen = '';
  run.child.stdout?.on('data', (d: Buffer) => (seen += d.toString()));
  return { run, text: () => seen.replace(/\r/g, '') };
}

/** The processes started, directly or not, by process `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

/** Asserts that `message` is in a terminal's output and starts a line (not glued to a progress bar). */
function startsALine(text: string, message: string): void {
  const at = text.indexOf(message);
  assert.ok(at > 0, `no "${message}" in:\n${JSON.stringify(text)}`);
  assert.equal(text[at - 1], '\n', `the message continues a bar line:\n${JSON.stringify(text.slice(Math.max(0, at - 200), at + 60))}`);
}

test(
  'in a terminal, an error or interrupt while a progress bar is drawn starts a line of its own',
  { skip: haveScript ? false : 'no `script` to run a terminal' },
  async () => {
    // The folder is read (and fails) while the load bar is on screen.
    const missing = startInTerminal(['inspect', path.join(tmp, 'no-such-folder')]);
    await missing.run.done;
    startsALine(missing.text(), 'musicgen inspect: cannot read');

    const out = path.join(tmp, 'tty.mid');
    const gen = startInTerminal(['generate', '--model', FOLK_MODEL, '--data', DATA_DIR, '--length', '100000', '--seed', '2', '--out', out]);
    await waitUntil(gen.run, () => /generate \[.*\d+\/100000/.test(gen.text()), 'the bar was drawn');
    // The node process under `script` gets the signal, as from Ctrl-C in its terminal. Depending on $SHELL, `script`
    // runs node directly or under a shell that waits for it, so node is looked for among all descendants.
    const node = descendants(gen.run.child.pid as number).find(
      (p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0] === process.execPath,
    );
    assert.ok(node, 'no node process under script');
    process.kill(node, 'SIGINT');
    await gen.run.done;
    startsALine(gen.text(), 'stopping on SIGINT');
    startsALine(gen.text(), 'musicgen generate: interrupted');
    assert.ok(!fs.existsSync(out));
  },
);

test('a model whose scores are not finite: generateMusic and evaluateModel stop with a one-line error instead of writing noise', async () => {
  const lm = await loadModel(FOLK_MODEL);
  try {
    lm.model.vars.outBias.assign(tf.fill(lm.model.vars.outBias.shape, NaN));
    const pieces = encodePieces(lm.vocab, loadCorpus([DATA_DIR], { maxFiles: 4 }).pieces);
    const primer = excerptPrimer(pieces, lm.vocab, 16, createRng(1));
    assert.throws(
      () => generateMusic(lm.model, lm.vocab, primer, { ...DEFAULT_GENERATION_SETTINGS, run: { ...DEFAULT_RUN_SETTINGS, length: 10 } }),
      /generating: the scores after token \d+ are not finite \(NaN\): the model's weights are damaged/,
    );
    await assert.rejects(
      evaluateModel(lm.model, lm.vocab, pieces.slice(0, 2), pieces, {
        ...DEFAULT_EVALUATE_OPTIONS,
        samples: 0,
        generate: DEFAULT_GENERATION_SETTINGS,
      }),
      /scoring: the NLL of the held-out tokens is not finite/,
    );
  } finally {
    lm.model.net.dispose();
  }
});

test('generateMusicAsync writes the same tokens as generateMusic, and stops (null) when asked', async () => {
  const lm = await loadModel(FOLK_MODEL);
  try {
    const pieces = encodePieces(lm.vocab, loadCorpus([DATA_DIR], { maxFiles: 4 }).pieces);
    const primer = excerptPrimer(pieces, lm.vocab, 16, createRng(3));
    const cfg = { ...DEFAULT_GENERATION_SETTINGS, run: { length: 300, seed: 9 } };
    const sync = generateMusic(lm.model, lm.vocab, primer, cfg);
    let polls = 0;
    const async = await generateMusicAsync(lm.model, lm.vocab, primer, cfg, { shouldStop: () => (polls++, false) });
    assert.ok(polls > 0, 'the event loop never turned');
    assert.deepEqual(async?.ids, sync.ids);
    assert.equal(await generateMusicAsync(lm.model, lm.vocab, primer, cfg, { shouldStop: () => true }), null);
  } finally {
    lm.model.net.dispose();
  }
});
