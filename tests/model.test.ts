import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { batches, splitByFile, windowIndex, type EncodedPiece } from '../lib/data/dataset';
import { generateMusic } from '../lib/generate/generate';
import { mostLikelyToken, sampleToken } from '../lib/generate/sample';
import { createRng } from '../lib/core/rng';
import { loadMidiFolder } from '../lib/midi/read';
import { buildModel, validateModelConfig, DEFAULT_MODEL_CONFIG, varList } from '../lib/model/network';
import { makePiece, type Note } from '../lib/core/piece';
import { prepareData } from '../lib/data/prepare';
import { advance, advanceThrough, readInferenceWeights, type InferenceWeights } from '../lib/model/inference';
import { scorePieces } from '../lib/evaluate/score';
import { loadModel } from '../lib/store/load';
import { saveWeights } from '../lib/store/save';
import { defaultTokenizerConfig } from '../lib/tokens/config';

/** The timed scheme: short sequences for the tiny models here. */
const TIMED = defaultTokenizerConfig('timed');
import { buildVocabulary, encodePiece } from '../lib/tokens/vocabulary';
import { NOTTINGHAM, needNottingham, trainPrepared } from './helpers';

before(async () => {
  await initBackend();
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-'));

test('windows hold seqLen tokens with the next token as target at every position', () => {
  const pieces: EncodedPiece[] = [
    { name: 'a', ids: Int32Array.from({ length: 50 }, (_, i) => i) },
    { name: 'b', ids: Int32Array.from({ length: 10 }, (_, i) => 100 + i) },
    { name: 'c', ids: Int32Array.from({ length: 5 }, (_, i) => 200 + i) },
  ];
  const idx = windowIndex(pieces, 8, 4);
  // a: starts 0,4,…,40 and the tail-aligned 41; b: 0 and 1; c: too short.
  assert.deepEqual(
    idx.filter((w) => w.piece === 0).map((w) => w.start),
    [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 41],
  );
  assert.deepEqual(
    idx.filter((w) => w.piece === 1).map((w) => w.start),
    [0, 1],
  );
  assert.equal(idx.filter((w) => w.piece === 2).length, 0);
  const all = [...batches(pieces, idx, 8, 5, { shuffle: true, seed: 3, epoch: 0 })];
  assert.deepEqual(
    all.map((b) => b.batchSize),
    [5, 5, 4],
  );
  for (const b of all) {
    assert.equal(b.inputs.length, b.batchSize * 8);
    assert.equal(b.targets.length, b.batchSize * 8);
    for (let k = 0; k < b.batchSize; k++) {
      for (let t = 0; t < 8; t++) assert.equal(b.targets[k * 8 + t], b.inputs[k * 8 + t] + 1);
    }
  }
  const again = [...batches(pieces, idx, 8, 5, { shuffle: true, seed: 3, epoch: 0 })];
  assert.deepEqual(
    again.map((b) => Array.from(b.inputs)),
    all.map((b) => Array.from(b.inputs)),
  );
  const other = [...batches(pieces, idx, 8, 5, { shuffle: true, seed: 3, epoch: 1 })];
  assert.notDeepEqual(
    other.map((b) => Array.from(b.inputs)),
    all.map((b) => Array.from(b.inputs)),
  );
});

test('train/validation split is by file, seeded, and stable when files are added', { skip: needNottingham }, () => {
  const names = fs
    .readdirSync(NOTTINGHAM)
    .filter((f) => f.endsWith('.mid'))
    .map((name) => ({ name }));
  const { train, val } = splitByFile(names, 0.1, 1234);
  assert.equal(train.length + val.length, names.length);
  const trainSet = new Set(train.map((p) => p.name));
  assert.ok(
    val.every((p) => !trainSet.has(p.name)),
    'a file is in both sets',
  );
  assert.ok(val.length > 60 && val.length < 150, `val has ${val.length} of ${names.length}`);
  assert.deepEqual(splitByFile(names, 0.1, 1234).val, val);
  assert.notDeepEqual(splitByFile(names, 0.1, 99).val, val);
  const more = splitByFile([...names, { name: 'extra1.mid' }, { name: 'extra2.mid' }], 0.1, 1234);
  assert.deepEqual(
    more.val.filter((p) => !p.name.startsWith('extra')),
    val,
  );
});

test('model config errors name the parameter and its range', () => {
  assert.throws(
    () => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, vocabSize: 10, units: -3 }),
    /^RangeError: units must be an integer in \[1, 4096\] \(got -3\)$/,
  );
  assert.throws(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, vocabSize: 10, dropout: 1 }), /dropout must be in \[0, 1\) \(got 1\)/);
});

/** A short phrase repeated: C D E F G F E D, eighth notes. */
function phrasePiece(name: string, repeats: number, shift = 0): ReturnType<typeof makePiece> {
  const pitches = [60, 62, 64, 65, 67, 65, 64, 62];
  const notes: Note[] = [];
  for (let r = 0; r < repeats; r++)
    pitches.forEach((p, i) => notes.push({ pitch: p + shift, start: (r * 8 + i) * 0.5, duration: 0.5, velocity: 90 }));
  return makePiece(name, notes);
}

test('a tiny model overfits a repeated phrase and reproduces it at low temperature; same seed → same output', async () => {
  const pieces = [phrasePiece('a', 12), phrasePiece('b', 12)];
  const data = prepareData(pieces, TIMED, { seqLen: 24, stride: 4, valFraction: 0, seed: 1 });
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: data.vocab.tokens.length, units: 32, embeddingDim: 16, dropout: 0 });
  const dir = tmp();
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 30, batchSize: 8, learningRate: 0.01, patience: 0, checkpointEverySec: 0 };
  const dataset = { seqLen: 24, stride: 4, valFraction: 0, seed: 1 };
  const result = await trainPrepared(model, data, dataset, config, dir, ['mem'], 'test');
  const first = result.history[0].trainLoss;
  const last = result.history[result.history.length - 1].trainLoss;
  assert.ok(first > 1.5, `starting loss ${first}`);
  assert.ok(last < 0.1 * first, `loss fell from ${first} to ${last}`);
  const primer = { ids: encodePiece(data.vocab, phrasePiece('p', 1)).slice(0, 9), source: 'p' };
  const g = generateMusic(model, data.vocab, primer, {
    sampling: { temperature: 0.05, topK: 0, topP: 1 },
    controls: {},
    run: { length: 32, seed: 7 },
  });
  const melody = g.piece.notes.map((n) => n.pitch);
  const expected = Array.from({ length: melody.length }, (_, i) => [60, 62, 64, 65, 67, 65, 64, 62][i % 8]);
  assert.deepEqual(melody, expected);
  assert.ok(
    g.piece.notes.every((n, i) => n.start === i * 0.5 && n.duration === 0.5),
    'rhythm reproduced',
  );
  const wild = { sampling: { temperature: 1.5, topK: 0, topP: 1 }, controls: {}, run: { length: 40, seed: 11 } };
  const g2 = generateMusic(model, data.vocab, primer, wild);
  const g3 = generateMusic(model, data.vocab, primer, wild);
  assert.deepEqual(g3.ids, g2.ids);
  model.net.dispose();
});

test('the most likely token is the argmax under the mask, ties to the lowest id: what sampling at temperature 1e-3 and top-k 1 drew', () => {
  assert.equal(mostLikelyToken([0.5, 2, 2, -1]), 1);
  assert.equal(mostLikelyToken([0.5, 2, 2, -1], [1, 0, 1, 1]), 2);
  assert.throws(() => mostLikelyToken([1, 2], [0, 0]), /no token is allowed by the mask/);
  const rng = createRng(4);
  for (let k = 0; k < 200; k++) {
    const logits = Float32Array.from({ length: 40 }, () => (rng.next() - 0.5) * 20);
    if (k % 3 === 0) logits[7] = logits[23] = 12; // a tie for the top
    const mask = Float32Array.from({ length: 40 }, () => (rng.next() < 0.7 ? 1 : 0));
    mask[23] = 1;
    assert.equal(mostLikelyToken(logits, mask), sampleToken(logits, { temperature: 1e-3, topK: 1, topP: 1 }, createRng(k), mask));
  }
});

test('stateful inference gives the same next-token probabilities as the full window through tfjs layers', async () => {
  const vocab = buildVocabulary([phrasePiece('a', 2)], TIMED);
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: 40, units: 24, embeddingDim: 8, layers: 2, seed: 5 });
  // Random (non-trivial) weights.
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.4, 'float32', 100 + i)));
  const ids = Array.from({ length: 60 }, (_, i) => (i * 17 + 3) % 40);
  const full = tf.tidy(() => (model.net.predict(tf.tensor2d([ids], [1, 60], 'int32')) as tf.Tensor).arraySync() as number[][][]);
  for (const engine of ['js', 'tfjs'] as const) {
    const w = readInferenceWeights(model, engine);
    for (const t of [0, 10, 59]) {
      const r = advanceThrough(w, ids.slice(0, t + 1));
      let maxDiff = 0;
      for (let j = 0; j < 40; j++) maxDiff = Math.max(maxDiff, Math.abs(r.probs[j] - full[0][t][j]));
      assert.ok(maxDiff < 1e-4, `${engine} engine, position ${t}: max difference ${maxDiff}`);
    }
    w.dispose();
  }
  assert.equal(vocab.tokens.length > 0, true);
  model.net.dispose();
});

test('with a context of C tokens, sampling depends only on the tokens read since the state last restarted; with 0, on the whole primer', () => {
  const vocab = buildVocabulary([phrasePiece('a', 2), phrasePiece('b', 2, 7)], TIMED);
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: vocab.tokens.length, units: 24, embeddingDim: 8, layers: 2, seed: 5 });
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.6, 'float32', 200 + i)));
  // Forget gates held open (bias +6, Keras order i, f, c, o), so a carried state remembers the whole primer.
  for (const l of model.vars.lstm) l.bias.assign(tf.concat([tf.zeros([24]), tf.fill([24], 6), tf.zeros([48])]));
  // Two 48-token primers with the same last 24 tokens and different first 24.
  const a = encodePiece(vocab, phrasePiece('a', 6)).slice(0, 48);
  const b = [...encodePiece(vocab, phrasePiece('b', 6, 7)).slice(0, 24), ...a.slice(24)];
  assert.notDeepEqual(a.slice(0, 24), b.slice(0, 24));
  const run = (ids: number[], context: number): number[] =>
    generateMusic(
      model,
      vocab,
      { ids, source: 'p' },
      { sampling: { temperature: 1.5, topP: 1 }, controls: {}, run: { length: 40, seed: 3, context } },
    ).ids.slice(48);
  // Context 16: the state restarts at tokens 16, 25, 34 and 43, each time from the last 8; after the primer it holds tokens 36–47, all of the shared half.
  assert.deepEqual(run(b, 16), run(a, 16));
  assert.notDeepEqual(run(b, 0), run(a, 0), 'the whole primer steers sampling when the state is carried');
  assert.deepEqual(run(a, 10_000), run(a, 0), 'a context longer than the piece changes nothing');
  assert.notDeepEqual(run(a, 16), run(a, 0));
  model.net.dispose();
});

test('a model folder saves and loads with everything generation needs; bad folders fail clearly', { skip: needNottingham }, async () => {
  const pieces = loadMidiFolder(NOTTINGHAM).pieces.slice(0, 30);
  const dataset = { seqLen: 32, stride: 32, valFraction: 0.2, seed: 3 };
  const data = prepareData(pieces, TIMED, dataset);
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: data.vocab.tokens.length, units: 16, embeddingDim: 8 });
  const dir = tmp();
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 16, checkpointEverySec: 0 };
  await trainPrepared(model, data, dataset, config, dir, [NOTTINGHAM], 'test');
  await saveWeights(dir, model);
  const files = fs.readdirSync(dir).sort();
  assert.deepEqual(
    files.filter((f) => !f.startsWith('weights-')),
    ['checkpoint.ckpt', 'config.json', 'history.json', 'model.json', 'vocab.json'],
  );
  assert.equal(files.filter((f) => f.startsWith('weights-')).length, 1, 'old weights files are removed');
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.vocab.keys, data.vocab.keys);
  assert.equal(loaded.history.length, 1);
  const a = varList(model.vars).map((v) => Array.from(v.dataSync()));
  const b = varList(loaded.model.vars).map((v) => Array.from(v.dataSync()));
  assert.deepEqual(b, a);
  loaded.model.net.dispose();
  // Incomplete and mismatched folders.
  const broken = tmp();
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(broken, f));
  fs.rmSync(path.join(broken, 'vocab.json'));
  await assert.rejects(loadModel(broken), (e: Error) => e.message === `model folder ${broken} is incomplete: missing vocab.json`);
  const other = buildVocabulary(pieces.slice(0, 2), TIMED);
  fs.writeFileSync(
    path.join(broken, 'vocab.json'),
    JSON.stringify({ format: 'musicgen-vocab/1', tokenizer: other.config, tokens: other.keys, counts: other.counts }),
  );
  await assert.rejects(loadModel(broken), /vocab\.json has \d+ tokens but config\.json says vocabSize \d+/);
  await assert.rejects(loadModel(path.join(broken, 'nope')), /model folder .*nope not found/);
  model.net.dispose();
});

/** Reference: ln p(ids[i] | ids[0..i−1]) for i ≥ 1, advancing one token at a time. */
function sequenceLogProbs(w: InferenceWeights, ids: readonly number[]): number[] {
  const out: number[] = [];
  if (ids.length === 0) return out;
  let r = advanceThrough(w, ids.slice(0, 1));
  for (let i = 1; i < ids.length; i++) {
    out.push(Math.log(Math.max(r.probs[ids[i]], 1e-30)));
    r = advance(w, r.state, ids[i]);
  }
  return out;
}

test('batched chunked scoring equals stepping through each piece, and does not leak tensors', () => {
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: 30, units: 16, embeddingDim: 8, layers: 2, seed: 9 });
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.4, 'float32', 200 + i)));
  const seqs = [70, 5, 33, 1, 64].map((n, k) => Array.from({ length: n }, (_, i) => (i * 7 + k * 3) % 30));
  const w = readInferenceWeights(model);
  scorePieces(model, seqs, { batchSize: 2, chunk: 16 });
  const before = tf.memory().numTensors;
  const batched = scorePieces(model, seqs, { batchSize: 2, chunk: 16 });
  assert.equal(tf.memory().numTensors, before);
  seqs.forEach((s, k) => {
    const ref = sequenceLogProbs(w, s);
    assert.equal(batched[k].length, Math.max(0, s.length - 1));
    for (let i = 0; i < ref.length; i++)
      assert.ok(Math.abs(batched[k][i] - ref[i]) < 1e-4, `piece ${k} position ${i}: ${batched[k][i]} vs ${ref[i]}`);
  });
  w.dispose();
  model.net.dispose();
});
