/**
 * Stateful one-token-at-a-time inference: (state, token) → {probs, state}.
 *
 * The LSTM state (h, c per layer) is carried from step to step, so the cost
 * of a generated token does not grow with the context — unlike the classic
 * design that re-runs the whole window for every note. Plain typed arrays and
 * loops: no tensors to dispose, identical results on every backend.
 */
import type { MusicModel } from './model';

/** One LSTM layer's weights as flat row-major arrays (Keras layout, gates i, f, c, o). */
export interface StepLayer {
  readonly inDim: number;
  readonly units: number;
  /** [inDim, 4·units] */
  readonly kernel: Float32Array;
  /** [units, 4·units] */
  readonly recurrentKernel: Float32Array;
  /** [4·units] */
  readonly bias: Float32Array;
}

/** All weights needed for stepping, copied out of the model once. */
export interface StepWeights {
  readonly vocabSize: number;
  readonly embeddingDim: number;
  /** [vocabSize, embeddingDim] */
  readonly embedding: Float32Array;
  readonly layers: readonly StepLayer[];
  /** [units, vocabSize] */
  readonly outKernel: Float32Array;
  /** [vocabSize] */
  readonly outBias: Float32Array;
}

/** The recurrent state: h and c for each layer. Never mutated; each step returns a new one. */
export interface LstmState {
  readonly h: readonly Float32Array[];
  readonly c: readonly Float32Array[];
}

/** What one step returns. */
export interface StepResult {
  /** Unnormalized next-token scores. */
  readonly logits: Float32Array;
  /** Next-token probabilities (softmax of logits). */
  readonly probs: Float32Array;
  readonly state: LstmState;
}

/** Copies the model's weights into plain arrays for stepping. */
export function readStepWeights(model: MusicModel): StepWeights {
  const v = model.vars;
  const c = model.config;
  return {
    vocabSize: c.vocabSize,
    embeddingDim: c.embeddingDim,
    embedding: v.embedding.dataSync() as Float32Array,
    layers: v.lstm.map((l) => ({
      inDim: l.kernel.shape[0],
      units: l.recurrentKernel.shape[0],
      kernel: l.kernel.dataSync() as Float32Array,
      recurrentKernel: l.recurrentKernel.dataSync() as Float32Array,
      bias: l.bias.dataSync() as Float32Array,
    })),
    outKernel: v.outKernel.dataSync() as Float32Array,
    outBias: v.outBias.dataSync() as Float32Array,
  };
}

/** The all-zeros state a sequence starts from. */
export function initialState(w: StepWeights): LstmState {
  return { h: w.layers.map((l) => new Float32Array(l.units)), c: w.layers.map((l) => new Float32Array(l.units)) };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Advances the state by one input token and returns the next-token distribution. */
export function step(w: StepWeights, state: LstmState, token: number): StepResult {
  if (!Number.isInteger(token) || token < 0 || token >= w.vocabSize) {
    throw new RangeError(`token id ${token} is outside the vocabulary (size ${w.vocabSize})`);
  }
  let x = w.embedding.subarray(token * w.embeddingDim, (token + 1) * w.embeddingDim);
  const hs: Float32Array[] = [];
  const cs: Float32Array[] = [];
  w.layers.forEach((layer, l) => {
    const H = layer.units;
    const G = 4 * H;
    const z = Float64Array.from(layer.bias);
    matVecAdd(z, x, layer.kernel, G);
    matVecAdd(z, state.h[l], layer.recurrentKernel, G);
    const h = new Float32Array(H);
    const c = new Float32Array(H);
    const cPrev = state.c[l];
    for (let j = 0; j < H; j++) {
      const i = sigmoid(z[j]);
      const f = sigmoid(z[H + j]);
      const g = Math.tanh(z[2 * H + j]);
      const o = sigmoid(z[3 * H + j]);
      c[j] = f * cPrev[j] + i * g;
      h[j] = o * Math.tanh(c[j]);
    }
    hs.push(h);
    cs.push(c);
    x = h;
  });
  const V = w.vocabSize;
  const z = Float64Array.from(w.outBias);
  matVecAdd(z, x, w.outKernel, V);
  const logits = Float32Array.from(z);
  return { logits, probs: softmax(logits), state: { h: hs, c: cs } };
}

/** out[j] += Σ_i x[i] · m[i·cols + j] */
function matVecAdd(out: Float64Array, x: ArrayLike<number>, m: Float32Array, cols: number): void {
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * cols;
    for (let j = 0; j < cols; j++) out[j] += xi * m[row + j];
  }
}

/** Softmax of scores (numerically stable). */
export function softmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Feeds a whole sequence; returns the state after it and the distribution after its last token. */
export function runSequence(w: StepWeights, ids: ArrayLike<number>, state: LstmState = initialState(w)): StepResult {
  if (ids.length === 0) throw new RangeError('runSequence needs at least one token');
  let r: StepResult | null = null;
  let s = state;
  for (let i = 0; i < ids.length; i++) {
    r = step(w, s, ids[i]);
    s = r.state;
  }
  return r as StepResult;
}
