/**
 * The note family in PyTorch (python/musicgen_torch/note_family.py), trained on the steps `musicgen prepare
 * --family note` writes. Parity both ways within 1e-4 on real steps with copy ids: a TypeScript model folder
 * of random weights read by PyTorch gives lib/model/note-forward.ts's log-probabilities, and a folder PyTorch
 * writes (random weights, both biases) loads in TypeScript (tf.loadLayersModel, with the topology TypeScript
 * saves) and gives PyTorch's; two gates swapped fail it. DDP on 2 processes makes the loss fall and ends with
 * the weights of 1 process; its folder works with `generate` and `evaluate`, and goes on with --init-from.
 * Bad input is one line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng, deriveSeed, shuffled } from '../lib/core/rng';
import { DEFAULT_DATASET_CONFIG, windowsOver } from '../lib/data/dataset';
import { noteBatch } from '../lib/data/note-dataset';
import { openPrepared } from '../lib/data/prepared-data';
import { stepOptionsOf } from '../lib/model/config';
import { noteForward } from '../lib/model/note-forward';
import {
  buildModel,
  DEFAULT_MODEL_CONFIG,
  parameterCount,
  varList,
  withFamilyDefaults,
  type ModelConfig,
  type MusicModel,
} from '../lib/model/network';
import { loadModel } from '../lib/store/load';
import { saveRunConfig, saveWeights } from '../lib/store/save';
import { DEFAULT_TRAIN_CONFIG, type EpochRecord } from '../lib/store/train-config';
import { STEP_SLOTS, toSteps } from '../lib/tokens/steps';
import type { Vocabulary } from '../lib/tokens/vocabulary';
import { DATA_DIR, lastJson, runCli } from './helpers';
import { needTorch, pythonOk, readJson, runPython, weights } from './torch-helpers';

const TOLERANCE = 1e-4;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-torch-note-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const prepared = path.join(tmp, 'prepared');
const oneProcess = path.join(tmp, 'one');
const twoProcesses = path.join(tmp, 'two');
/** Steps in the parity window. */
const T = 48;

const TRAIN = ['--data', prepared, '--family', 'note', '--units', '32', '--embedding', '12', '--head-units', '16', '--step-units', '24'];
const RUN = [...TRAIN, '--seq-len', '16', '--stride', '16', '--batch-size', '15', '--epochs', '3', '--dropout', '0.1'];
const RUN_ALL = [...RUN, '--max-val-windows', '64', '--seed', '7', '--json'];

before(async () => {
  if (needTorch) return;
  const prep = await runCli(['prepare', '--data', DATA_DIR, '--out', prepared, '--family', 'note', '--threads', '1']);
  assert.equal(prep.code, 0, prep.stderr);
  pythonOk('musicgen_torch.launch', ['--nproc', '1', 'train', ...RUN_ALL, '--out', oneProcess]);
  pythonOk('musicgen_torch.launch', ['--nproc', '2', 'train', ...RUN_ALL, '--out', twoProcesses]);
});

/** A piece of the prepared folder, its ids, and the first piece whose first T next steps include copy ids. */
function copyPiece(): { index: number; ids: Int32Array; vocab: Vocabulary } {
  const prep = openPrepared(prepared);
  try {
    const V = prep.vocab.tokens.length;
    for (let i = 0; i < prep.manifest.pieces.length; i++) {
      const ids = prep.reader.pieceIds(i);
      const s = toSteps(prep.vocab, ids, { lookback: true, copy: true });
      let copies = 0;
      for (let k = 1; k <= T && k < s.count; k++) if (s.groups[k * STEP_SLOTS] >= V) copies++;
      if (s.count > T + 1 && copies >= 3) return { index: i, ids, vocab: prep.vocab };
    }
  } finally {
    prep.reader.close();
  }
  throw new Error('no piece of data/ has copies in its first steps');
}

/** TypeScript's ln p of each target of the piece's first T steps, [T][8] (null: no target), from note-forward. */
function tsLogp(model: MusicModel, vocab: Vocabulary, ids: Int32Array): (number | null)[][] {
  const options = stepOptionsOf(model.config);
  const batch = noteBatch(vocab, [{ name: 'p', steps: toSteps(vocab, ids, options), options }], [{ piece: 0, start: 0 }], T);
  const out: (number | null)[][] = Array.from({ length: T }, () => new Array<number | null>(STEP_SLOTS).fill(null));
  tf.tidy(() => {
    const f = noteForward(model.vars, batch, false);
    const logp = f.logp.arraySync();
    f.rows.forEach((row, p) => (out[row % T][Math.floor(row / T)] = logp[p][f.targets[p]]));
  });
  return out;
}

/** The largest difference between two [T][8] tables, which must have their targets at the same places. */
function worst(a: (number | null)[][], b: (number | null)[][]): number {
  let w = 0;
  a.forEach((row, t) =>
    row.forEach((x, j) => {
      const y = b[t][j];
      assert.equal(x === null, y === null, `step ${t} slot ${j}: a target on one side only`);
      if (x !== null && y !== null) w = Math.max(w, Math.abs(x - y));
    }),
  );
  return w;
}

/** A TypeScript note model of random weights (uniform in ±0.5), saved as a model folder. */
async function randomFolder(dir: string, vocab: Vocabulary, extra: Partial<ModelConfig>): Promise<MusicModel> {
  const config: ModelConfig = {
    ...DEFAULT_MODEL_CONFIG,
    vocabSize: vocab.tokens.length,
    family: 'note',
    units: 20,
    embeddingDim: 8,
    layers: 2,
    stepUnits: 14,
    headUnits: 12,
    lookback: true,
    copy: true,
    ...extra,
  };
  const model = buildModel(config);
  varList(model.vars).forEach((v, k) => v.assign(tf.randomUniform(v.shape, -0.5, 0.5, 'float32', 100 + k)));
  fs.mkdirSync(dir, { recursive: true });
  const data = { folders: [], trainFiles: 0, valFiles: 0, trainTokens: 0 };
  saveRunConfig(dir, vocab, {
    format: 'musicgen-model/1',
    model: config,
    dataset: DEFAULT_DATASET_CONFIG,
    training: DEFAULT_TRAIN_CONFIG,
    backend: 'wasm (random weights)',
    data,
  });
  await saveWeights(dir, model);
  return model;
}

/** PyTorch's ln p for the same window (python3 -m musicgen_torch note-logp), of a folder, or of a random model it writes to `write`. */
function torchLogp(dir: string, piece: number, write?: string): (number | null)[][] {
  const args = ['note-logp', '--model', dir, '--data', prepared, '--piece', String(piece), '--steps', String(T)];
  return JSON.parse(pythonOk('musicgen_torch', write ? [...args, '--write-random', write, '--seed', '3'] : args)) as (number | null)[][];
}

/** model.json's topology without tfjs's numbered name of the anonymous RepeatVector (it counts the models built in a process). */
const topologyOf = (dir: string): unknown =>
  JSON.parse(
    JSON.stringify(readJson<{ modelTopology: object }>(path.join(dir, 'model.json')).modelTopology).replace(
      /repeat_vector_RepeatVector\d+/g,
      'repeat_vector',
    ),
  );

for (const headSkip of [false, true]) {
  test(
    `parity both ways within 1e-4 on steps with copies${headSkip ? ', with headSkip' : ''}; PyTorch writes the topology TypeScript saves`,
    { skip: needTorch },
    async (t) => {
      const { index, ids, vocab } = copyPiece();
      const ours = path.join(tmp, `ts-random-${headSkip}`);
      const model = await randomFolder(ours, vocab, headSkip ? { headSkip } : {});
      const want = tsLogp(model, vocab, ids);
      const read = worst(torchLogp(ours, index), want);
      assert.ok(read < TOLERANCE, `tfjs → PyTorch: largest difference ${read}`);
      // PyTorch → tfjs: a PyTorch model of random weights (both biases) written as a folder, loaded by loadModel (tf.loadLayersModel).
      const theirs = path.join(tmp, `torch-random-${headSkip}`);
      const torchSide = torchLogp(ours, index, theirs);
      const loaded = await loadModel(theirs);
      const diff = worst(torchSide, tsLogp(loaded.model, vocab, ids));
      assert.ok(diff < TOLERANCE, `PyTorch → tfjs: largest difference ${diff}`);
      t.diagnostic(`largest differences of ln p: tfjs → PyTorch ${read.toExponential(1)}, PyTorch → tfjs ${diff.toExponential(1)}`);
      assert.ok(worst(torchSide, want) > 0.1, 'the two random models differ');
      assert.deepEqual(topologyOf(theirs), topologyOf(ours));
      // The negative check: forget and cell gates swapped in the first LSTM's kernel, as a wrong gate order would.
      const k = loaded.model.vars.lstm[0].kernel;
      const H = loaded.model.config.units;
      k.assign(
        tf.tidy(() => {
          const [i, f, c, o] = tf.split(k, [H, H, H, H], 1);
          return tf.concat([i, c, f, o], 1);
        }),
      );
      const broken = worst(torchSide, tsLogp(loaded.model, vocab, ids));
      assert.ok(broken > 100 * TOLERANCE, `swapped gates changed ln p by only ${broken}`);
      t.diagnostic(`two gates swapped: ${broken.toFixed(2)}`);
      loaded.model.net.dispose();
      model.net.dispose();
    },
  );
}

test(
  'DDP: 2 processes make the loss fall and end with the weights of 1; generate, evaluate and --init-from use the folder',
  { skip: needTorch },
  async () => {
    const history = readJson<EpochRecord[]>(path.join(twoProcesses, 'history.json'));
    assert.equal(history.length, 3);
    for (let e = 1; e < 3; e++)
      assert.ok(history[e].trainLoss < history[e - 1].trainLoss, `training loss ${history.map((h) => h.trainLoss)}`);
    assert.ok(history[2].valLoss < history[0].valLoss, `validation loss ${history.map((h) => h.valLoss)}`);
    const a = weights(oneProcess);
    const b = weights(twoProcesses);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.equal(a.length, b.length);
    assert.ok(diff < 1e-4, `the 1- and 2-process weights differ by up to ${diff}`);
    const config = readJson<{ model: ModelConfig; backend: string }>(path.join(twoProcesses, 'config.json'));
    assert.deepEqual(
      [config.model.family, config.model.headUnits, config.model.stepUnits, config.model.lookback, config.model.copy],
      ['note', 16, 24, true, true],
    );
    assert.match(config.backend, /ddp gloo x2/);
    const mid = path.join(tmp, 'two.mid');
    const gen = await runCli(['generate', '--model', twoProcesses, '--out', mid, '--length', '40', '--seed', '3', '--json']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.ok((lastJson(gen).notes as number) > 0);
    const ev = await runCli([
      'evaluate',
      '--model',
      twoProcesses,
      '--data',
      DATA_DIR,
      '--train-data',
      DATA_DIR,
      '--samples',
      '0',
      '--json',
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.ok(Number.isFinite(lastJson(ev).nll as number));
    const tuned = path.join(tmp, 'tuned');
    pythonOk('musicgen_torch', ['train', ...RUN, '--epochs', '1', '--out', tuned, '--init-from', twoProcesses]);
    const [first] = readJson<EpochRecord[]>(path.join(tuned, 'history.json'));
    assert.ok(first.trainLoss < history[0].trainLoss, `went on from ${history[2].trainLoss}: ${first.trainLoss}`);
  },
);

test("an epoch's step windows come in the order `musicgen train --family note` takes them", { skip: needTorch }, () => {
  const prep = openPrepared(prepared);
  const counts = prep.manifest.pieces.flatMap((p, i) =>
    p.split === 'train' ? [toSteps(prep.vocab, prep.reader.pieceIds(i), { lookback: true, copy: true }).count] : [],
  );
  prep.reader.close();
  for (const epoch of [0, 1]) {
    const ours = shuffled(windowsOver(counts, 16, 8), createRng(deriveSeed(7, epoch))).map((w) => [w.piece, w.start]);
    const args = [
      'windows',
      '--family',
      'note',
      '--data',
      prepared,
      '--seq-len',
      '16',
      '--stride',
      '8',
      '--seed',
      '7',
      '--epoch',
      String(epoch),
    ];
    assert.ok(ours.length > 1000);
    assert.deepEqual(JSON.parse(pythonOk('musicgen_torch', args)), ours);
  }
});

test('bad input is one line naming the file or flag', { skip: needTorch }, () => {
  const tokenOnly = path.join(tmp, 'token-only');
  fs.mkdirSync(tokenOnly);
  for (const f of ['shard-0000.bin', 'vocab.json']) fs.copyFileSync(path.join(prepared, f), path.join(tokenOnly, f));
  const m = readJson<{ steps?: unknown; pieces: { steps?: unknown }[] }>(path.join(prepared, 'manifest.json'));
  delete m.steps;
  fs.writeFileSync(path.join(tokenOnly, 'manifest.json'), JSON.stringify({ ...m, pieces: m.pieces.map(({ steps: _, ...p }) => p) }));
  /** A copy of the prepared folder whose manifest's steps are edited. */
  const edited = (name: string, edit: Partial<Record<'copy' | 'codeSize' | 'pad' | 'start', unknown>>): string => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    for (const f of ['shard-0000.bin', 'steps-0000.bin', 'vocab.json']) fs.copyFileSync(path.join(prepared, f), path.join(dir, f));
    const full = readJson<{ steps: object }>(path.join(prepared, 'manifest.json'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...full, steps: { ...full.steps, ...edit } }));
    return dir;
  };
  const cases: [string[], RegExp][] = [
    [
      ['train', ...TRAIN, '--data', edited('bad-code-size', { codeSize: 12 }), '--out', path.join(tmp, 'x')],
      /manifest\.json: steps\.codeSize must be 507 for 505 tokens \(got 12\)/,
    ],
    [
      [
        'train',
        ...TRAIN,
        '--data',
        edited('no-copy', { copy: false, codeSize: 505, pad: 505, start: 506 }),
        '--out',
        path.join(tmp, 'x'),
        '--init-from',
        twoProcesses,
      ],
      /--init-from .* reads steps with lookback true and copy true, but .* was prepared with lookback true and copy false/,
    ],
    [
      ['train', ...TRAIN, '--data', tokenOnly, '--out', path.join(tmp, 'x')],
      /manifest\.json has no steps: prepare the folder for the note family/,
    ],
    [
      ['train', ...TRAIN, '--out', path.join(tmp, 'x'), '--init-from', path.join(DATA_DIR, '..', 'models', 'piano')],
      /is a token model: give --family token/,
    ],
    [['train', ...TRAIN, '--family', 'notes', '--out', path.join(tmp, 'x')], /--family: invalid choice/],
    [['note-logp', '--model', twoProcesses, '--data', prepared, '--piece', '0', '--start', '5000', '--steps', '8'], /no such window/],
    [['bench', '--family', 'note', '--step-lengths', '1,2'], /--step-lengths and --note-steps go together/],
    [['bench', '--family', 'note', '--step-lengths', '1,2', '--note-steps', '1'], /--step-lengths must be 8 comma-separated whole numbers/],
  ];
  for (const [args, message] of cases) {
    const r = runPython('musicgen_torch', args);
    assert.equal(r.code === 1 || r.code === 2, true, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test(
  'bench --family note counts target ids, steps and the steps whose next step holds a note (scripts/bench-ddp.ts)',
  { skip: needTorch },
  () => {
    // Steps of 2 ids that never hold a note and of 3 ids that always do: notes per step = ids per step − 2, exactly.
    const profile = ['--step-lengths', '0,1,1,0,0,0,0,0', '--note-steps', '0,0,1,0,0,0,0,0'];
    const sizes = ['--vocab', '40', '--units', '16', '--embedding', '8', '--head-units', '8', '--batch-size', '6', '--seq-len', '10'];
    const out = pythonOk('musicgen_torch.launch', [
      '--nproc',
      '2',
      'bench',
      '--family',
      'note',
      ...sizes,
      ...profile,
      '--batches',
      '2',
      '--threads',
      '1',
    ]);
    const r = JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, number>;
    assert.equal(r.processes, 2);
    const idsPerStep = r.tokensPerSec / r.stepsPerSec;
    assert.ok(idsPerStep > 2 && idsPerStep < 3, String(idsPerStep));
    assert.ok(Math.abs(r.notesPerSec / r.stepsPerSec - (idsPerStep - 2)) < 1e-9, JSON.stringify(r));
    // tfjs's parameter count of that note model (step vector = units, headSkip, copy ids): noteWeightShapes'.
    const c = withFamilyDefaults({ ...DEFAULT_MODEL_CONFIG, family: 'note', vocabSize: 40, units: 16, embeddingDim: 8, headUnits: 8 });
    assert.equal(r.params, parameterCount(buildModel(c)));
  },
);
