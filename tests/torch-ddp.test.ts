/**
 * Data-parallel training on PyTorch DDP (python/musicgen_torch): a small model trained by 2 processes on
 * this machine (gloo) from a prepared folder learns (the loss falls), takes the same steps as 1 process
 * with the same global batch (the same weights within float rounding, dropout on: its masks are drawn per
 * window), and its model folder is an ordinary one: `musicgen generate` and `evaluate` use it. A model
 * folder (a shipped one) loads into PyTorch to go on training (--init-from), and bad input is one line.
 * The data is data/ as `musicgen prepare` writes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, deriveSeed, shuffled } from '../lib/core/rng';
import { windowsOver } from '../lib/data/dataset';
import { loadModel } from '../lib/store/load';
import type { EpochRecord } from '../lib/store/train-config';
import { DATA_DIR, lastJson, ROOT, runCli } from './helpers';
import { needTorch, pythonOk, readJson, runPython, weights } from './torch-helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-torch-ddp-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const prepared = path.join(tmp, 'prepared');
const oneProcess = path.join(tmp, 'one');
const twoProcesses = path.join(tmp, 'two');

/** A small model on data/ (47 tunes, remi): about 70 batches an epoch, a few seconds each run. */
const TRAIN = ['--data', prepared, '--units', '32', '--embedding', '16', '--seq-len', '32', '--stride', '32', '--batch-size', '15'];
const RUN = [...TRAIN, '--epochs', '3', '--dropout', '0.1', '--max-val-windows', '64', '--seed', '7', '--json'];

before(async () => {
  if (needTorch) return;
  const prep = await runCli(['prepare', '--data', DATA_DIR, '--out', prepared]);
  assert.equal(prep.code, 0, prep.stderr);
  pythonOk('musicgen_torch.launch', ['--nproc', '1', 'train', ...RUN, '--out', oneProcess]);
  pythonOk('musicgen_torch.launch', ['--nproc', '2', 'train', ...RUN, '--out', twoProcesses]);
});

test('2 processes: the loss falls, and the weights are those of 1 process with the same global batch', { skip: needTorch }, () => {
  const history = readJson<EpochRecord[]>(path.join(twoProcesses, 'history.json'));
  assert.equal(history.length, 3);
  for (let e = 1; e < history.length; e++) {
    assert.ok(
      history[e].trainLoss < history[e - 1].trainLoss,
      `epoch ${e + 1}'s training loss did not fall: ${history.map((h) => h.trainLoss)}`,
    );
    assert.ok(
      history[e].valLoss < history[e - 1].valLoss,
      `epoch ${e + 1}'s validation loss did not fall: ${history.map((h) => h.valLoss)}`,
    );
  }
  // Well below a uniform guess over the vocabulary.
  const vocabSize = readJson<{ model: { vocabSize: number } }>(path.join(twoProcesses, 'config.json')).model.vocabSize;
  assert.ok(history[2].valLoss < Math.log(vocabSize) - 1.5, `validation loss ${history[2].valLoss}`);
  const a = weights(oneProcess);
  const b = weights(twoProcesses);
  assert.equal(a.length, b.length);
  let worst = 0;
  let moved = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    moved = Math.max(moved, Math.abs(a[i]));
  }
  assert.ok(worst < 1e-4, `the 1- and 2-process weights differ by up to ${worst}`);
  assert.ok(moved > 0.1, 'the weights are not all near zero');
  const one = readJson<EpochRecord[]>(path.join(oneProcess, 'history.json'));
  one.forEach((h, e) =>
    assert.ok(Math.abs(h.trainLoss - history[e].trainLoss) < 1e-4, `epoch ${e + 1}: ${h.trainLoss} against ${history[e].trainLoss}`),
  );
  assert.match(readJson<{ backend: string }>(path.join(twoProcesses, 'config.json')).backend, /ddp gloo x2/);
});

test('the 2-process model folder loads, and `musicgen generate` and `evaluate` use it unchanged', { skip: needTorch }, async () => {
  const loaded = await loadModel(twoProcesses);
  assert.equal(loaded.model.config.units, 32);
  loaded.model.net.dispose();
  const mid = path.join(tmp, 'two.mid');
  const gen = await runCli(['generate', '--model', twoProcesses, '--out', mid, '--length', '40', '--seed', '3', '--json']);
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(fs.statSync(mid).size > 100);
  assert.ok((lastJson(gen).notes as number) > 0);
  const ev = await runCli(['evaluate', '--model', twoProcesses, '--data', DATA_DIR, '--train-data', DATA_DIR, '--samples', '0', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.ok(Number.isFinite(lastJson(ev).nll as number));
});

test('--init-from: a shipped model folder goes on training in PyTorch from where it stands', { skip: needTorch }, async () => {
  const piano = path.join(ROOT, 'models', 'piano');
  const { vocab, model } = await loadModel(piano);
  model.net.dispose();
  // The remi vocabulary is fixed: data/ prepared with the default settings has the piano model's.
  const out = path.join(tmp, 'tuned');
  const args = [
    'train',
    '--data',
    prepared,
    '--out',
    out,
    '--init-from',
    piano,
    '--epochs',
    '1',
    '--seq-len',
    '64',
    '--stride',
    '128',
    '--json',
  ];
  const summary = JSON.parse(pythonOk('musicgen_torch', args).trim().split('\n').pop() ?? '') as { bestValLoss: number };
  // A fresh model starts at ln(505) ≈ 6.2 nats per token; the piano model is far below that from its first batch.
  const [first] = readJson<EpochRecord[]>(path.join(out, 'history.json'));
  assert.ok(first.trainLoss < 3.5, `first epoch's training loss ${first.trainLoss}`);
  assert.ok(summary.bestValLoss < 3.5);
  assert.equal(readJson<{ initFrom: string }>(path.join(out, 'config.json')).initFrom, piano);
  const tuned = await loadModel(out);
  assert.deepEqual(tuned.vocab.tokens, vocab.tokens);
  tuned.model.net.dispose();
});

test(
  "an epoch's windows come in the order `musicgen train` takes them (the same windows, the same seeded shuffle)",
  { skip: needTorch },
  () => {
    const manifest = readJson<{ pieces: { length: number; split: string }[] }>(path.join(prepared, 'manifest.json'));
    const lengths = manifest.pieces.filter((p) => p.split === 'train').map((p) => p.length);
    for (const epoch of [0, 1]) {
      const ours = shuffled(windowsOver(lengths, 32, 16), createRng(deriveSeed(7, epoch))).map((w) => [w.piece, w.start]);
      const args = ['windows', '--data', prepared, '--seq-len', '32', '--stride', '16', '--seed', '7', '--epoch', String(epoch)];
      const theirs = JSON.parse(pythonOk('musicgen_torch', args)) as number[][];
      assert.ok(ours.length > 1000);
      assert.deepEqual(theirs, ours);
    }
  },
);

test('bad input is one line naming the file or flag', { skip: needTorch }, () => {
  const cases: [string[], RegExp][] = [
    [['train', '--data', path.join(tmp, 'nowhere'), '--out', path.join(tmp, 'x')], /prepared folder .*nowhere not found/],
    [['train', ...TRAIN, '--out', twoProcesses], /already holds a model.*--replace/],
    [['train', ...TRAIN, '--out', path.join(tmp, 'x'), '--init-from', path.join(ROOT, 'models', 'folk')], /vocab\.json differs/],
    [['train', ...TRAIN, '--out', path.join(tmp, 'x'), '--lr', '3'], /--lr must be in \(0, 1\]/],
  ];
  for (const [args, message] of cases) {
    const r = runPython('musicgen_torch', args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const manifest = path.join(prepared, 'manifest.json');
  const saved = fs.readFileSync(manifest, 'utf8');
  try {
    const m = JSON.parse(saved) as { pieces: { length: unknown }[] };
    m.pieces[2].length = 'long';
    fs.writeFileSync(manifest, JSON.stringify(m));
    const r = runPython('musicgen_torch', ['train', ...TRAIN, '--out', path.join(tmp, 'x')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /manifest\.json: pieces\[2\]: length must be an integer \(got "long"\)/);
  } finally {
    fs.writeFileSync(manifest, saved);
  }
});
