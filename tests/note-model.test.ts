/**
 * Stateful inference and generation for the note-step family
 * (lib/model/note-inference.ts, lib/generate/note-sampling.ts), with small
 * untrained note models on the remi vocabulary: the step-by-step
 * probabilities equal the saved layers model's for a real piece (which pins
 * the inference math to it, on both engines); generations from nothing and
 * from the data write the asked events under the grammar, are reproducible
 * by seed and decode; no tensors leak.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../lib/core/rng';
import { controlsPrimer } from '../lib/generate/controls';
import { generateMusic, type Generated } from '../lib/generate/generate';
import { primerFromPieces, type Primer } from '../lib/generate/primer';
import type { GenerationSettings } from '../lib/generate/settings';
import { loadMidiFolder } from '../lib/midi/read';
import { initBackend } from '../lib/model/backend';
import { initialState, softmax, type GemvEngine } from '../lib/model/inference';
import { buildModel, DEFAULT_MODEL_CONFIG, newModel, varList, type MusicModel } from '../lib/model/network';
import { advanceStep, headStart, headStep, readNoteInferenceWeights } from '../lib/model/note-inference';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { copyId, LOOKBACK_FLAGS, LOOKBACK_SLOTS, padId, startId, STEP_SLOTS, toSteps, type StepOptions } from '../lib/tokens/steps';
import { noteCodeSize, stepOptionsOf, type ModelConfig } from '../lib/model/config';

/** Steps as the first note models cut them: the look-back, no copies. */
const PLAIN: StepOptions = { lookback: true, copy: false };
import { pieceToTokens } from '../lib/tokens/tokenize';
import { buildVocabulary, encodeTokens } from '../lib/tokens/vocabulary';
import { firstRefused } from './fixtures/grammar';
import { DATA_DIR } from './helpers';

const VOCAB = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
const V = VOCAB.tokens.length;
const PIECES = loadMidiFolder(DATA_DIR).pieces;

/** A small untrained note model; with `scale`, its weights are redrawn N(0, scale²) so that its distributions are far from uniform. */
function noteModel(scale = 0, extra: Partial<ModelConfig> = {}): MusicModel {
  const model = buildModel({
    ...DEFAULT_MODEL_CONFIG,
    vocabSize: V,
    family: 'note',
    units: 16,
    embeddingDim: 8,
    stepUnits: 20,
    headUnits: 8,
    layers: 1,
    dropout: 0,
    ...extra,
  });
  if (scale > 0) varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, scale, 'float32', 100 + i)));
  return model;
}

before(async () => {
  await initBackend();
});

/** The first `count` steps of a real piece (one whose bars repeat, so its look-back flags are set), encoded with the remi vocabulary. */
function realSteps(count: number, options: StepOptions = PLAIN): ReturnType<typeof toSteps> {
  const piece = PIECES.find((p) => p.name === 'london-bridge-is-falling-down.mid');
  assert.ok(piece);
  const ids = encodeTokens(VOCAB, pieceToTokens(piece, VOCAB.config));
  const all = toSteps(VOCAB, ids, options);
  assert.ok(all.count > count, `${piece.name} has ${all.count} steps`);
  return toSteps(VOCAB, ids.slice(0, all.starts[count]), options);
}

/** Probabilities [step s][slot j] of step s + 1's tokens from the layers model, teacher-forced. */
function layersProbabilities(model: MusicModel, st: ReturnType<typeof toSteps>): Float32Array[][] {
  const options = stepOptionsOf(model.config);
  const C = noteCodeSize(model.config);
  const S = st.count - 1;
  const group = new Int32Array(S * (STEP_SLOTS + LOOKBACK_SLOTS));
  const prefix = new Int32Array(S * STEP_SLOTS);
  for (let s = 0; s < S; s++) {
    group.set(st.groups.subarray(s * STEP_SLOTS, (s + 1) * STEP_SLOTS), s * (STEP_SLOTS + LOOKBACK_SLOTS));
    group.set(st.lookback.subarray(s * LOOKBACK_SLOTS, (s + 1) * LOOKBACK_SLOTS), s * (STEP_SLOTS + LOOKBACK_SLOTS) + STEP_SLOTS);
    prefix[s * STEP_SLOTS] = startId(VOCAB, options);
    prefix.set(st.groups.subarray((s + 1) * STEP_SLOTS, (s + 2) * STEP_SLOTS - 1), s * STEP_SLOTS + 1);
  }
  const out = tf.tidy(() => {
    const inputs = [
      tf.tensor3d(group, [1, S, STEP_SLOTS + LOOKBACK_SLOTS], 'int32'),
      tf.tensor3d(st.flags.slice(0, S * LOOKBACK_FLAGS), [1, S, LOOKBACK_FLAGS]),
      tf.tensor3d(prefix, [1, S, STEP_SLOTS], 'int32'),
    ];
    return model.net.predict(inputs) as tf.Tensor;
  });
  const flat = out.dataSync() as Float32Array;
  out.dispose();
  return Array.from({ length: S }, (_, s) =>
    Array.from({ length: STEP_SLOTS }, (_, j) => flat.slice((s * STEP_SLOTS + j) * C, (s * STEP_SLOTS + j + 1) * C)),
  );
}

/** The same probabilities from stateful inference (only the slots step s + 1 has); `blind` reads every look-back as empty and its flags as 0. */
function inferenceProbabilities(model: MusicModel, st: ReturnType<typeof toSteps>, engine: GemvEngine, blind = false): Float32Array[][] {
  const w = readNoteInferenceWeights(model, engine);
  const options = stepOptionsOf(model.config);
  try {
    let state = initialState(w);
    const out: Float32Array[][] = [];
    for (let s = 0; s + 1 < st.count; s++) {
      const group = Array.from(st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s]));
      const lookback = blind
        ? new Int32Array(LOOKBACK_SLOTS).fill(padId(VOCAB, options))
        : st.lookback.slice(s * LOOKBACK_SLOTS, (s + 1) * LOOKBACK_SLOTS);
      const flags = blind ? new Float32Array(LOOKBACK_FLAGS) : st.flags.slice(s * LOOKBACK_FLAGS, (s + 1) * LOOKBACK_FLAGS);
      const r = advanceStep(w, state, group, lookback, flags);
      state = r.state;
      let p = headStep(w, headStart(w, r.h), startId(VOCAB, options));
      const row: Float32Array[] = [];
      for (let j = 0; j < st.lengths[s + 1]; j++) {
        row.push(softmax(p.logits));
        p = headStep(w, p.state, st.groups[(s + 1) * STEP_SLOTS + j]);
      }
      out.push(row);
    }
    return out;
  } finally {
    w.dispose();
  }
}

/** The largest absolute difference between the inference's probabilities and the layers model's. */
function maxDifference(inference: Float32Array[][], layers: Float32Array[][]): number {
  let worst = 0;
  inference.forEach((row, s) => row.forEach((p, j) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - layers[s][j][k]))))));
  return worst;
}

for (const extra of [{}, { copy: true, headSkip: true }] as const)
  test(`note inference: step by step, the probabilities of every token of a real piece equal the saved layers model's (1e-5), on both engines (${JSON.stringify(extra)})`, () => {
    const model = noteModel(1, extra);
    const options = stepOptionsOf(model.config);
    try {
      const st = realSteps(60, options);
      assert.ok(
        Array.from(st.flags).some((f) => f > 0) && Array.from(st.lookback).some((id) => id !== padId(VOCAB, options)),
        'the excerpt has a look-back',
      );
      if (options.copy) assert.ok(st.groups.includes(copyId(VOCAB, 1)), 'the excerpt has copies');
      const layers = layersProbabilities(model, st);
      const peak = Math.max(...layers.flat().map((p) => Math.max(...p)));
      assert.ok(peak > 10 / V, `distributions far from uniform (peak ${peak} against 1/V = ${1 / V})`);
      for (const engine of ['js', 'tfjs'] as const) {
        const diff = maxDifference(inferenceProbabilities(model, st, engine), layers);
        assert.ok(diff < 1e-5, `${engine}: max |Δp| = ${diff}`);
      }
      const blind = maxDifference(inferenceProbabilities(model, st, 'js', true), layers);
      assert.ok(blind > 1e-3, `the comparison sees the look-back (without it, max |Δp| = ${blind})`);
    } finally {
      model.net.dispose();
    }
  });

test('note inference refuses a token model, a bad step and a bad head input', () => {
  const token = newModel(VOCAB, { units: 8, embeddingDim: 4, layers: 1 });
  const model = noteModel();
  try {
    assert.throws(() => readNoteInferenceWeights(token), /"note" family .*"token" family/);
    const w = readNoteInferenceWeights(model, 'js');
    const look = new Int32Array(LOOKBACK_SLOTS).fill(padId(VOCAB));
    const flags = new Float32Array(LOOKBACK_FLAGS);
    assert.throws(() => advanceStep(w, initialState(w), [], look, flags), /1 to 8 tokens/);
    assert.throws(() => advanceStep(w, initialState(w), [padId(VOCAB)], look, flags), /token id .* outside/);
    assert.throws(() => advanceStep(w, initialState(w), [0], look.subarray(1), flags), /look-back has 6 ids/);
    assert.throws(() => headStep(w, headStart(w, new Float32Array(16)), V + 2), /head input id .* outside/);
  } finally {
    token.net.dispose();
    model.net.dispose();
  }
});

/** Generation settings: `length` events from `seed`, the untrained model's wide distribution tempered a little. */
const settings = (length: number, seed: number, context?: number): GenerationSettings => ({
  sampling: { temperature: 0.9 },
  controls: {},
  run: { length, seed, context },
});

/** Checks what every generation must be: the events asked, the primer kept, every token allowed by the grammar, the last note complete, a piece. */
function checkGenerated(g: Generated, primer: Primer, length: number): void {
  assert.equal(g.events, length);
  assert.equal(g.ids.slice(0, primer.ids.length).join(' '), primer.ids.join(' '), 'the primer comes first');
  assert.equal(g.ids.slice(primer.ids.length).filter((id) => VOCAB.tokens[id].kind === 'event').length, length);
  assert.equal(firstRefused(VOCAB, g.ids), -1, 'every token is allowed by the grammar');
  assert.equal(VOCAB.tokens[g.ids[g.ids.length - 1]].kind, 'dur', 'the last note is complete');
  assert.ok(g.newNotes > 0 && g.piece.notes.length >= g.newNotes, `a piece with new notes (${g.newNotes})`);
}

test('note generation from the controls and from the data: the asked events, grammatical, reproducible by seed, decodable', () => {
  const model = noteModel();
  try {
    const primers: Primer[] = [
      controlsPrimer(VOCAB, {}),
      controlsPrimer(VOCAB, { timeSignature: [3, 4], bpm: 90 }),
      primerFromPieces(PIECES, VOCAB, 40, createRng(3)),
    ];
    for (const primer of primers) {
      const g = generateMusic(model, VOCAB, primer, settings(40, 1));
      checkGenerated(g, primer, 40);
      assert.deepEqual(
        generateMusic(model, VOCAB, primer, settings(40, 1)).ids,
        g.ids,
        `${primer.source}: the same seed gives the same ids`,
      );
      assert.notDeepEqual(
        generateMusic(model, VOCAB, primer, settings(40, 2)).ids,
        g.ids,
        `${primer.source}: another seed gives other ids`,
      );
    }
    const asked = controlsPrimer(VOCAB, { timeSignature: [3, 4], bpm: 90 });
    const g = generateMusic(model, VOCAB, asked, { ...settings(40, 4), controls: { timeSignature: [3, 4], bpm: 90 } });
    assert.deepEqual(
      g.piece.timeSignatures.map((t) => [t.numerator, t.denominator]),
      [[3, 4]],
      "the controls' meter is kept",
    );
  } finally {
    model.net.dispose();
  }
});

test('note generation with a context of C steps restarts the state and still writes a grammatical piece', () => {
  const model = noteModel(0.5);
  try {
    const primer = controlsPrimer(VOCAB, {});
    const g = generateMusic(model, VOCAB, primer, settings(60, 5, 8));
    checkGenerated(g, primer, 60);
    assert.notDeepEqual(g.ids, generateMusic(model, VOCAB, primer, settings(60, 5)).ids, 'a short context changes what is written');
  } finally {
    model.net.dispose();
  }
});

test('note generation holds no tensors after it (tfjs engine and layers model alike)', () => {
  const model = noteModel();
  try {
    const primer = controlsPrimer(VOCAB, {});
    generateMusic(model, VOCAB, primer, settings(20, 1));
    const before = tf.memory().numTensors;
    generateMusic(model, VOCAB, primer, settings(20, 2));
    generateMusic(model, VOCAB, primer, settings(20, 3));
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.net.dispose();
  }
});
