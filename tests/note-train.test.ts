/**
 * Training the note-step family: its hand-written backward pass gives the
 * loss and gradients tfjs autograd gives on the saved layers model; batches
 * score every token after a piece's first step once; validation equals the
 * forward pass; nothing leaks; a short run learns.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { buildModel, varList, type MusicModel } from '../lib/model/network';
import { noteBatch, noteBatches, noteWindowIndex, stepPieces, INPUT_SLOTS, type NoteBatch } from '../lib/data/note-dataset';
import { noteBatchLoss } from '../lib/model/note-forward';
import { noteLossAndGradients } from '../lib/train/note-bptt';
import { prepareData } from '../lib/data/prepare';
import { loadMidiFolder } from '../lib/midi/read';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { copyId, LOOKBACK_FLAGS, STEP_SLOTS, toSteps, type StepOptions } from '../lib/tokens/steps';
import { noteCodeSize } from '../lib/model/config';
import { scoreNotePieces } from '../lib/evaluate/note-score';
import { generateMusic } from '../lib/generate/generate';
import { controlsPrimer } from '../lib/generate/controls';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { loadModel } from '../lib/store/load';
import { assertGradientsClose, DATA_DIR, trainPrepared, tinyNoteModel } from './helpers';

const dataset = { seqLen: 12, stride: 12, valFraction: 0.2, seed: 4 };
let data: ReturnType<typeof prepareData>;

before(async () => {
  await initBackend();
  data = prepareData(loadMidiFolder(DATA_DIR).pieces.slice(0, 10), DEFAULT_TOKENIZER_CONFIG, dataset);
});

const noteModel = (seed: number): MusicModel => tinyNoteModel(data.vocab.tokens.length, seed);
/** How the tiny note models cut pieces: with the look-back and copy ids. */
const COPYING: StepOptions = { lookback: true, copy: true };

/** The reference: the saved layers model's probabilities, differentiated by tfjs autograd. */
function reference(model: MusicModel, batch: NoteBatch): { loss: number; grads: Float32Array[] } {
  const { batchSize: B, seqLen: T } = batch;
  const vars = varList(model.vars);
  const inputs = [
    tf.tensor3d(batch.group, [B, T, INPUT_SLOTS], 'int32'),
    tf.tensor3d(batch.flags, [B, T, LOOKBACK_FLAGS]),
    tf.tensor3d(batch.prefix, [B, T, STEP_SLOTS], 'int32'),
  ];
  const V = noteCodeSize(model.config);
  const at: number[] = [];
  batch.targets.forEach((t, k) => t >= 0 && at.push(k * V + t));
  const { value, grads } = tf.variableGrads(() => {
    const p = model.net.apply(inputs, { training: false }) as tf.Tensor;
    return tf.div(tf.neg(tf.sum(tf.log(tf.gather(tf.reshape(p, [-1]), tf.tensor1d(at, 'int32'))))), batch.tokens) as tf.Scalar;
  }, vars);
  const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  tf.dispose([...inputs, value, ...Object.values(grads)]);
  return out;
}

test("note batches: every token after a piece's first step is a target once over windows of stride seqLen; prefixes are the targets shifted in behind the start id", () => {
  const pieces = stepPieces(data.vocab, data.train, COPYING);
  const index = noteWindowIndex(pieces, dataset.seqLen, dataset.seqLen);
  const p = pieces[0];
  const refs = index.filter((r) => r.piece === 0);
  const lastStart = Math.max(...refs.map((r) => r.start));
  const b = noteBatch(
    data.vocab,
    pieces,
    refs.filter((r) => r.start % dataset.seqLen === 0 && r.start !== lastStart),
    dataset.seqLen,
  );
  const covered = refs.filter((r) => r.start % dataset.seqLen === 0 && r.start !== lastStart).length * dataset.seqLen;
  const expected = Array.from({ length: covered }, (_, s) => p.steps.lengths[s + 1]).reduce((a, n) => a + n, 0);
  assert.equal(b.tokens, expected);
  assert.equal(b.targets.filter((t) => t >= 0).length, expected);
  for (let row = 0; row < b.batchSize * b.seqLen; row++) {
    for (let j = 1; j < STEP_SLOTS; j++) {
      if (b.targets[row * STEP_SLOTS + j] >= 0) assert.equal(b.prefix[row * STEP_SLOTS + j], b.targets[row * STEP_SLOTS + j - 1]);
    }
  }
});

test('the note kernel gives the loss and gradients of tfjs autograd on the layers model, and validation gives the same loss', () => {
  const model = noteModel(3);
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 40 + i)));
  const pieces = stepPieces(data.vocab, data.train, COPYING);
  assert.ok(
    pieces.some((p) => p.steps.groups.includes(copyId(data.vocab, 1))),
    'precondition: the batches hold copies',
  );
  const index = noteWindowIndex(pieces, dataset.seqLen, dataset.stride);
  const batch = noteBatches(data.vocab, pieces, index, dataset.seqLen, 3, { shuffle: true, seed: 1, epoch: 0 }).next().value!;
  const ref = reference(model, batch);
  const mine = noteLossAndGradients(model.vars, batch);
  assert.ok(Math.abs(mine.loss - ref.loss) < 1e-4, `loss ${mine.loss} vs ${ref.loss}`);
  assert.ok(Math.abs(noteBatchLoss(model.vars, batch) - ref.loss) < 1e-4);
  assertGradientsClose(mine.grads, ref.grads, 2e-3, true);
  tf.dispose(mine.grads);
  const before = tf.memory().numTensors;
  tf.dispose(noteLossAndGradients(model.vars, batch).grads);
  noteBatchLoss(model.vars, batch);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  model.net.dispose();
});

test('a short run of the note family learns and is saved as a layers model that loads', async () => {
  const model = noteModel(5);
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 8, threads: 1, checkpointEverySec: 0, learningRate: 0.01 };
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-note-'));
  try {
    const r = await trainPrepared(model, data, dataset, config, outDir);
    assert.ok(r.history[2].trainLoss < r.history[0].trainLoss, `it learns: ${r.history.map((h) => h.trainLoss.toFixed(3)).join(' → ')}`);
    assert.ok(r.history[2].valLoss < Math.log(data.vocab.tokens.length), 'better than uniform on validation');
    const saved = await loadModel(outDir);
    assert.equal(saved.config.model.family, 'note');
    const a = varList(saved.model.vars).map((v) => Array.from(v.dataSync()));
    const b = varList(model.vars).map((v) => Array.from(v.dataSync()));
    assert.deepEqual(a, b, 'the folder holds the best weights, which the model holds after training');
    saved.model.net.dispose();
  } finally {
    model.net.dispose();
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});

test("scoring with a note model: chunked with the state carried equals one window, and every step's tokens together get the saved model's probability of its code", () => {
  const model = noteModel(7);
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 90 + i)));
  const ids = data.val[0].ids.slice(0, 400);
  const [whole] = scoreNotePieces(model, data.vocab, [ids], 10_000);
  const [chunked] = scoreNotePieces(model, data.vocab, [ids], 7);
  assert.equal(whole.length, ids.length - 1);
  whole.forEach((x, i) => assert.ok(Math.abs(x - chunked[i]) < 1e-4, `token ${i + 1}: ${x} vs ${chunked[i]}`));
  const steps = toSteps(data.vocab, ids, COPYING);
  assert.ok(steps.groups.includes(copyId(data.vocab, 1)), 'precondition: the piece has copies');
  const batch = noteBatch(data.vocab, [{ name: 'p', steps, options: COPYING }], [{ piece: 0, start: 0 }], steps.count - 1);
  const p = tf.tidy(() =>
    (
      model.net.predict([
        tf.tensor3d(batch.group, [1, batch.seqLen, INPUT_SLOTS], 'int32'),
        tf.tensor3d(batch.flags, [1, batch.seqLen, LOOKBACK_FLAGS]),
        tf.tensor3d(batch.prefix, [1, batch.seqLen, STEP_SLOTS], 'int32'),
      ]) as tf.Tensor
    ).dataSync(),
  );
  const V = noteCodeSize(model.config);
  let covered = 0;
  for (let t = 0; t < batch.seqLen; t++) {
    let code = 0;
    for (let j = 0; j < STEP_SLOTS; j++) {
      const target = batch.targets[t * STEP_SLOTS + j];
      if (target >= 0) code += Math.log(p[(t * STEP_SLOTS + j) * V + target]);
    }
    const from = steps.starts[t + 1];
    const tokens = whole.slice(from - 1, from - 1 + steps.spans[t + 1]).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(code - tokens) < 1e-4, `step ${t + 1}: ${code} vs ${tokens}`);
    covered += steps.spans[t + 1];
  }
  assert.equal(covered, ids.length - 1, 'every token after <s> is covered');
  assert.throws(() => scoreNotePieces(model, data.vocab, [ids.slice(5)]), /starts? with <s>/);
  model.net.dispose();
});

test('a note model without its look-back reads every step with an empty look-back, in training, scoring and generation alike', async () => {
  const ids = data.val[0].ids.slice(0, 300);
  const withIt = toSteps(data.vocab, ids);
  const without = toSteps(data.vocab, ids, { lookback: false, copy: false });
  assert.deepEqual(without.groups, withIt.groups);
  assert.ok(
    withIt.flags.some((f) => f > 0) || withIt.lookback.some((id) => id !== data.vocab.tokens.length),
    'precondition: the piece has a look-back',
  );
  assert.ok(without.lookback.every((id) => id === data.vocab.tokens.length));
  assert.ok(without.flags.every((f) => f === 0));
  const model = buildModel({ ...noteModel(11).config, lookback: false, copy: false });
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 120 + i)));
  const [scored] = scoreNotePieces(model, data.vocab, [ids]);
  const batch = noteBatch(
    data.vocab,
    [{ name: 'p', steps: without, options: { lookback: false, copy: false } }],
    [{ piece: 0, start: 0 }],
    without.count - 1,
  );
  assert.ok(
    Math.abs(-scored.reduce((a, x) => a + x, 0) / batch.tokens - noteBatchLoss(model.vars, batch)) < 1e-4,
    'scoring reads the empty look-back',
  );
  const g = generateMusic(model, data.vocab, controlsPrimer(data.vocab, {}), { sampling: {}, controls: {}, run: { length: 30, seed: 2 } });
  assert.equal(g.events, 30);
  model.net.dispose();
});
