/**
 * Stateful one-token-at-a-time inference: (state, token) → {probs, state}.
 *
 * The LSTM state (h, c per layer) is carried from step to step, so the cost
 * of a generated token does not grow with the context — unlike the classic
 * design that re-runs the whole window for every note. Plain typed arrays and
 * loops: no tensors to dispose, identical results on every backend.
 */
import type { MusicModel } from './model';

/**
 * One LSTM layer's weights, transposed for stepping: row j holds the weights
 * of gate unit j (gates i, f, c, o as in Keras) over the concatenated input
 * [x; h], so each unit is one contiguous dot product.
 */
export interface StepLayer {
  readonly inDim: number;
  readonly units: number;
  /** [4·units, inDim + units] */
  readonly weightsT: Float32Array;
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
  /** [vocabSize, units] (transposed output kernel) */
  readonly outKernelT: Float32Array;
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
    layers: v.lstm.map((l) => {
      const inDim = l.kernel.shape[0];
      const units = l.recurrentKernel.shape[0];
      const k = l.kernel.dataSync() as Float32Array;
      const r = l.recurrentKernel.dataSync() as Float32Array;
      const G = 4 * units;
      const w = inDim + units;
      const weightsT = new Float32Array(G * w);
      for (let j = 0; j < G; j++) {
        for (let i = 0; i < inDim; i++) weightsT[j * w + i] = k[i * G + j];
        for (let i = 0; i < units; i++) weightsT[j * w + inDim + i] = r[i * G + j];
      }
      return { inDim, units, weightsT, bias: l.bias.dataSync() as Float32Array };
    }),
    outKernelT: transpose(v.outKernel.dataSync() as Float32Array, c.units, c.vocabSize),
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
  let x: Float32Array = w.embedding.subarray(token * w.embeddingDim, (token + 1) * w.embeddingDim);
  const hs: Float32Array[] = [];
  const cs: Float32Array[] = [];
  w.layers.forEach((layer, l) => {
    const H = layer.units;
    const xh = new Float32Array(layer.inDim + H);
    xh.set(x, 0);
    xh.set(state.h[l], layer.inDim);
    const z = matVec(layer.weightsT, xh, layer.bias);
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
  const logits = matVec(w.outKernelT, x, w.outBias);
  return { logits, probs: softmax(logits), state: { h: hs, c: cs } };
}

/** out[j] = bias[j] + Σ_i m[j·n + i] · x[i], for m of shape [bias.length, n = x.length]. */
function matVec(m: Float32Array, x: Float32Array, bias: Float32Array): Float32Array {
  const n = x.length;
  const rows = bias.length;
  const out = new Float32Array(rows);
  const n4 = n - (n % 4);
  for (let j = 0; j < rows; j++) {
    const base = j * n;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let i = 0; i < n4; i += 4) {
      a0 += m[base + i] * x[i];
      a1 += m[base + i + 1] * x[i + 1];
      a2 += m[base + i + 2] * x[i + 2];
      a3 += m[base + i + 3] * x[i + 3];
    }
    for (let i = n4; i < n; i++) a0 += m[base + i] * x[i];
    out[j] = bias[j] + (a0 + a1) + (a2 + a3);
  }
  return out;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
  return t;
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

/** Runs a stateful forward pass over a whole sequence and returns the next-token log-probabilities it assigns (for evaluation). */
export function sequenceLogProbs(weights: StepWeights, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(Math.max(0, ids.length - 1));
  let state = initialState(weights);
  for (let i = 0; i + 1 < ids.length; i++) {
    const r = step(weights, state, ids[i]);
    out[i] = Math.log(Math.max(r.probs[ids[i + 1]], 1e-30));
    state = r.state;
  }
  return out;
}
