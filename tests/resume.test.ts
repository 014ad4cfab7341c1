/**
 * Interrupted training: Ctrl-C (SIGINT) writes a checkpoint and exits 130;
 * kill -9 leaves the last checkpoint and the saved model loadable; --resume
 * continues either one to the end, with the same weights as a run that was
 * never interrupted (same seed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, type TrainPosition } from '../lib/store/checkpoint';
import { CHECKPOINT_FILE } from '../lib/store/folder';
import type { EpochRecord } from '../lib/store/train-config';
import { loadModel } from '../lib/store/load';
import { DATA_DIR, lastJson, spawnCli, startCli, startProcess, type CliRun } from './helpers';

const EPOCHS = 2;
/** Tiny, but each epoch takes long enough (≈1–2 s) for a mid-epoch checkpoint every 0.5 s. (The timed scheme: fewer tokens per note than remi, so the runs stay short.) */
const TRAIN = [
  '--data',
  DATA_DIR,
  '--max-files',
  '14',
  '--scheme',
  'timed',
  '--units',
  '16',
  '--embedding',
  '8',
  '--seq-len',
  '32',
  '--stride',
  '8',
  '--batch-size',
  '8',
  '--epochs',
  String(EPOCHS),
  '--patience',
  '0',
  '--seed',
  '11',
  '--checkpoint-every',
  '0.5',
  '--json',
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The training position in a checkpoint file, from its JSON header (no tensors), or null when there is none yet. */
function peekPosition(dir: string): TrainPosition | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path.join(dir, CHECKPOINT_FILE));
  } catch {
    return null;
  }
  const hlen = buf.readUInt32LE(8);
  return (JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as { position: TrainPosition }).position;
}

/** Polls until `ok(position)` holds, or the process ends (then fails). */
async function waitFor(dir: string, run: Promise<CliRun>, ok: (p: TrainPosition) => boolean, what: string): Promise<TrainPosition> {
  let ended = false;
  void run.then(() => (ended = true));
  for (;;) {
    const p = peekPosition(dir);
    if (p && ok(p)) return p;
    if (ended) throw new Error(`training ended before ${what}: ${(await run).stderr}`);
    await sleep(20);
  }
}

function history(dir: string): EpochRecord[] {
  return JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')) as EpochRecord[];
}

/** Every float of the checkpoint's weights and optimizer state. */
function checkpointFloats(dir: string): Float32Array[] {
  const ck = readCheckpoint(dir);
  const out = [...ck.weights, ...ck.optimizer.map((o) => o.tensor)].map((t) => t.dataSync() as Float32Array);
  tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
  return out;
}

/** Every float of the saved (best) model. */
async function modelFloats(dir: string): Promise<Float32Array[]> {
  const lm = await loadModel(dir);
  const out = lm.model.net.getWeights().map((t) => t.dataSync() as Float32Array);
  lm.model.net.dispose();
  return out;
}

function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  a.forEach((x, i) => {
    assert.equal(x.length, b[i].length);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - b[i][j]));
  });
  return m;
}

let tmp = '';
const dirs = { ref: '', sigint: '', kill: '' };
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-resume-'));
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[k] = path.join(tmp, k);
  await tf.setBackend('cpu');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('uninterrupted reference run', async () => {
  const r = await spawnCli(['train', '--out', dirs.ref, ...TRAIN]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r).epochs, EPOCHS);
  assert.equal(history(dirs.ref).length, EPOCHS);
});

test('SIGINT after the first checkpoint: exit 130, checkpoint saved and loadable; --resume finishes', async () => {
  const run = startCli(['train', '--out', dirs.sigint, ...TRAIN]);
  const seen = await waitFor(dirs.sigint, run.done, () => true, 'the first checkpoint');
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, `exit ${r.code} ${r.signal}: ${r.stderr}`);
  assert.match(r.stderr, /checkpoint saved in .*; continue with --resume/);
  assert.equal(lastJson(r).interrupted, true);
  const ck = readCheckpoint(dirs.sigint);
  const pos = ck.position;
  fs.writeFileSync(path.join(dirs.sigint, 'resumed-at.json'), JSON.stringify({ epoch: pos.epoch, batchesDone: pos.batchesDone }));
  tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
  assert.ok(pos.epoch < EPOCHS, `stopped at epoch ${pos.epoch}`);
  assert.ok(pos.epoch > seen.epoch || pos.batchesDone >= seen.batchesDone, 'the interrupt checkpoint is older than the first one');
  assert.equal(pos.history.length, pos.epoch);
  assert.ok(ck.weights.length > 0 && ck.optimizer.length > 0);

  const resumed = await spawnCli(['train', '--out', dirs.sigint, '--resume', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const j = lastJson(resumed);
  assert.equal(j.epochs, EPOCHS, 'the epoch count continues from the checkpoint');
  assert.equal(j.interrupted, false);
  assert.deepEqual(
    history(dirs.sigint).map((h) => h.epoch),
    Array.from({ length: EPOCHS }, (_, i) => i + 1),
  );
});

test('Ctrl-C in a terminal (SIGINT to the whole process group of `npm run musicgen`) stops with a checkpoint', async () => {
  const dir = path.join(tmp, 'group');
  // Batches of a few hundred ms: a launcher that kills a child not answering a signal within tens of ms (tsx's CLI does) would lose it.
  const slow = [
    '--data',
    DATA_DIR,
    '--max-files',
    '14',
    '--scheme',
    'timed',
    '--units',
    '192',
    '--seq-len',
    '64',
    '--batch-size',
    '32',
    '--epochs',
    '3',
    '--checkpoint-every',
    '0.5',
    '--json',
  ];
  const { child, done } = startProcess('npm', ['run', '-s', 'musicgen', '--', 'train', '--out', dir, ...slow], {
    detached: true,
    timeoutMs: 300_000,
  });
  const seen = await waitFor(dir, done, () => true, 'the first checkpoint');
  process.kill(-(child.pid as number), 'SIGINT');
  const r = await done;
  // npm, sh and node all get the signal, as from a terminal; the trainer must still finish its batch and save.
  // (npm then ends by the signal itself, or with the trainer's 130.)
  assert.ok(r.code === 130 || r.signal === 'SIGINT', `exit ${r.code} ${r.signal}: ${r.stderr}`);
  assert.match(r.stderr, /checkpoint saved in .*; continue with --resume/);
  const ck = readCheckpoint(dir);
  tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
  assert.ok(ck.position.epoch > seen.epoch || ck.position.batchesDone > seen.batchesDone, 'no checkpoint was written on the signal');
});

/** Pids of running processes whose command line mentions `text`. */
function processesWith(text: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test(
  'SIGTERM to npm alone (a supervisor stopping `npm run musicgen`): the trainer gets it, saves a checkpoint and ends, no orphan',
  { skip: process.platform === 'linux' ? false : 'reads /proc' },
  async () => {
    const dir = path.join(tmp, 'npm-term');
    // Many epochs: an orphan would go on training for minutes.
    const slow = [
      '--data',
      DATA_DIR,
      '--max-files',
      '14',
      '--units',
      '64',
      '--seq-len',
      '64',
      '--batch-size',
      '16',
      '--epochs',
      '100',
      '--patience',
      '0',
      '--checkpoint-every',
      '0.5',
      '--json',
    ];
    const { child, done } = startProcess('npm', ['run', '-s', 'musicgen', '--', 'train', '--out', dir, ...slow], { timeoutMs: 300_000 });
    const seen = await waitFor(dir, done, () => true, 'the first checkpoint');
    const npmExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await npmExited;
    try {
      for (let waited = 0; processesWith(dir).length > 0; waited += 100) {
        assert.ok(
          waited < 20_000,
          `still running 20 s after npm got SIGTERM: ${processesWith(dir)
            .map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'))
            .join('; ')}`,
        );
        await sleep(100);
      }
    } finally {
      for (const p of processesWith(dir)) process.kill(p, 'SIGKILL');
      await done;
    }
    const ck = readCheckpoint(dir);
    tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
    assert.ok(ck.position.epoch > seen.epoch || ck.position.batchesDone > seen.batchesDone, 'no checkpoint was written on the signal');
    assert.ok(!fs.existsSync(path.join(tmp, '.npm-term.lock')), 'the lock was not released');
  },
);

test('kill -9 mid-epoch: the last checkpoint and the saved model still load; --resume finishes', async () => {
  const run = startCli(['train', '--out', dirs.kill, ...TRAIN]);
  // A mid-epoch checkpoint of the second epoch: one epoch (and its model files) finished, another under way.
  await waitFor(dirs.kill, run.done, (p) => p.epoch === 1 && p.batchesDone > 0, 'a mid-epoch checkpoint in epoch 2');
  run.child.kill('SIGKILL');
  const r = await run.done;
  assert.equal(r.signal, 'SIGKILL');
  const ck = readCheckpoint(dirs.kill);
  const epochSecBefore = ck.position.epochSec ?? 0;
  assert.ok(epochSecBefore > 0, 'a mid-epoch checkpoint records the seconds spent in its epoch');
  fs.writeFileSync(
    path.join(dirs.kill, 'resumed-at.json'),
    JSON.stringify({ epoch: ck.position.epoch, batchesDone: ck.position.batchesDone }),
  );
  tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
  assert.ok(ck.position.epoch >= 1 && ck.position.history.length === ck.position.epoch);
  const lm = await loadModel(dirs.kill);
  assert.equal(lm.history.length, ck.position.epoch >= 1 ? lm.history.length : 0);
  assert.ok(lm.history.length >= 1);
  lm.model.net.dispose();

  const resumed = await spawnCli(['train', '--out', dirs.kill, '--resume', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(lastJson(resumed).epochs, EPOCHS);
  assert.equal(history(dirs.kill).length, EPOCHS);
  assert.ok(history(dirs.kill)[1].seconds >= epochSecBefore, 'the resumed epoch counts its seconds before the kill');
  const files = fs.readdirSync(dirs.kill);
  assert.equal(files.filter((f) => /^weights-.*\.bin$/.test(f)).length, 1, `weights files: ${files.join(' ')}`);
});

test('resumed runs end with the same weights and losses as the uninterrupted run', async (t) => {
  const ref = history(dirs.ref);
  for (const d of [dirs.sigint, dirs.kill]) {
    const h = history(d);
    const lossDiff = Math.max(...h.map((r, i) => Math.max(Math.abs(r.trainLoss - ref[i].trainLoss), Math.abs(r.valLoss - ref[i].valLoss))));
    const ckDiff = maxDiff(checkpointFloats(d), checkpointFloats(dirs.ref));
    const bestDiff = maxDiff(await modelFloats(d), await modelFloats(dirs.ref));
    const pos = JSON.parse(fs.readFileSync(path.join(d, 'resumed-at.json'), 'utf8')) as unknown;
    t.diagnostic(
      `${path.basename(d)} resumed at ${JSON.stringify(pos)}: loss diff ${lossDiff}, checkpoint diff ${ckDiff}, best model diff ${bestDiff}`,
    );
    // Float sums may round differently across processes; a resume that lost or repeated a batch is off by far more.
    assert.ok(lossDiff < 1e-4, `${path.basename(d)}: losses differ by ${lossDiff}`);
    assert.ok(ckDiff < 1e-4, `${path.basename(d)}: final weights/optimizer differ by ${ckDiff}`);
    assert.ok(bestDiff < 1e-4, `${path.basename(d)}: best model differs by ${bestDiff}`);
  }
});
