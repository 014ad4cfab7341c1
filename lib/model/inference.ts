/**
 * Stateful one-token-at-a-time inference: advance(state, token) → {probs, state}.
 *
 * The LSTM state (h, c per layer) is carried from token to token, so the cost
 * of a generated token does not grow with the context — unlike the classic
 * design that re-runs the whole window for every note. The state is plain
 * typed arrays; only the matrix products may run on the tfjs backend.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors';
import type { LayerState, LstmVars, MusicModel } from './network';

/**
 * A model computed a value that is not a finite number (NaN or ±Infinity):
 * its weights are damaged, or far outside what training produces. What it
 * would generate or score is meaningless, so generation and scoring stop.
 */
export class NonFiniteOutput extends UserError {
  constructor(what: string) {
    super(`${what}: the model's weights are damaged (or not from a finished training)`);
    this.name = 'NonFiniteOutput';
  }
}

/**
 * A matrix-vector product with bias: out = bias + Wᵀ·x, for one layer's
 * weights. Two engines compute it: plain JavaScript loops over transposed
 * weights, or the tfjs backend's matrix product (WebAssembly SIMD or native
 * TensorFlow), which is several times faster for these sizes.
 */
export type Gemv = (x: Float32Array) => Float32Array;

/** One LSTM layer at inference: gate pre-activations (i, f, c, o as in Keras) from the concatenated input [x; h]. */
export interface InferenceLayer {
  readonly inDim: number;
  readonly units: number;
  /** [x; h] (length inDim + units) → 4·units pre-activations. */
  readonly gates: Gemv;
}

/** Everything inference needs, copied out of the model once. Call dispose() when done. */
export interface InferenceWeights {
  readonly vocabSize: number;
  readonly embeddingDim: number;
  /** Which engine computes the products. */
  readonly engine: GemvEngine;
  /** [vocabSize, embeddingDim] */
  readonly embedding: Float32Array;
  readonly layers: readonly InferenceLayer[];
  /** Top layer's h → vocabulary logits. */
  readonly output: Gemv;
  /** Frees tensors held by the tfjs engine (a no-op for the JS engine). */
  dispose(): void;
}

/** `auto`: tfjs on the wasm and native backends, JS on the plain cpu backend (where JS loops are faster). */
export type GemvEngine = 'js' | 'tfjs';

/** The recurrent state of the whole stack, one entry per layer. Never mutated; each advance returns a new one. */
export type LstmState = readonly LayerState<Float32Array>[];

/** What one advance returns. */
export interface Prediction {
  /** Unnormalized next-token scores. */
  readonly logits: Float32Array;
  /** Next-token probabilities (softmax of logits). */
  readonly probs: Float32Array;
  readonly state: LstmState;
}

/**
 * Copies the model's weights out for inference. The engine defaults to tfjs
 * on the wasm and native backends and to JS loops on the cpu backend.
 */
export function readInferenceWeights(model: MusicModel, engine: GemvEngine | 'auto' = 'auto'): InferenceWeights {
  const v = model.vars;
  const c = model.config;
  const use = resolveEngine(engine);
  const held: tf.Tensor[] = [];
  const gemv = gemvMaker(use, held);
  return {
    vocabSize: c.vocabSize,
    embeddingDim: c.embeddingDim,
    engine: use,
    embedding: v.embedding.dataSync() as Float32Array,
    layers: v.lstm.map((l) => inferenceLayer(l, gemv)),
    output: gemv(v.outKernel as tf.Tensor2D, v.outBias as tf.Tensor1D),
    dispose: () => tf.dispose(held),
  };
}

/** The engine `engine` stands for on the current backend: `auto` is tfjs on the wasm and native backends, JS on the cpu backend. */
export function resolveEngine(engine: GemvEngine | 'auto'): GemvEngine {
  return engine === 'auto' ? (tf.getBackend() === 'cpu' ? 'js' : 'tfjs') : engine;
}

/** Copies a kernel [inDim, outDim] and its bias out into a {@link Gemv} (see {@link gemvMaker}). */
export type GemvMaker = (kernel: tf.Tensor2D, bias: tf.Tensor1D) => Gemv;

/**
 * A maker of {@link Gemv}s on `use`: each takes a kernel [inDim, outDim] and
 * its bias and copies them out (JS: transposed arrays; tfjs: cloned tensors,
 * pushed to `held`, which the caller disposes when done).
 */
export function gemvMaker(use: GemvEngine, held: tf.Tensor[]): GemvMaker {
  return (kernel, bias) => {
    if (use === 'js') {
      const [rows, cols] = kernel.shape;
      return jsGemv(transpose(kernel.dataSync() as Float32Array, rows, cols), bias.dataSync() as Float32Array);
    }
    const k = tf.clone(kernel);
    const b = tf.clone(bias);
    held.push(k, b);
    return (x) => {
      // No tf.tidy here: it would walk the returned array element by element.
      const a = tf.tensor2d(x, [1, x.length]);
      const out = tf.fused.matMul({ a, b: k, bias: b });
      const values = out.dataSync() as Float32Array;
      a.dispose();
      out.dispose();
      return values;
    };
  };
}

/** One LSTM layer's weights for inference: its kernel and recurrent kernel stacked into one product over [x; h]. */
export function inferenceLayer(l: LstmVars, gemv: GemvMaker): InferenceLayer {
  const stacked = tf.tidy(() => tf.concat([l.kernel, l.recurrentKernel], 0) as tf.Tensor2D);
  const layer: InferenceLayer = {
    inDim: l.kernel.shape[0],
    units: l.recurrentKernel.shape[0],
    gates: gemv(stacked, l.bias as tf.Tensor1D),
  };
  stacked.dispose();
  return layer;
}

/** The all-zeros state a sequence starts from (of a token model's stack, or a note model's main stack). */
export function initialState(w: Pick<InferenceWeights, 'layers'>): LstmState {
  return w.layers.map((l) => ({ h: new Float32Array(l.units), c: new Float32Array(l.units) }));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Advances the state by one input token and returns the next-token distribution. */
export function advance(w: InferenceWeights, state: LstmState, token: number): Prediction {
  if (!Number.isInteger(token) || token < 0 || token >= w.vocabSize) {
    throw new RangeError(`token id ${token} is outside the vocabulary (size ${w.vocabSize})`);
  }
  let x: Float32Array = w.embedding.subarray(token * w.embeddingDim, (token + 1) * w.embeddingDim);
  const next: LayerState<Float32Array>[] = [];
  w.layers.forEach((layer, l) => {
    const s = layerStep(layer, x, state[l]);
    next.push(s);
    x = s.h;
  });
  const logits = w.output(x);
  return { logits, probs: softmax(logits), state: next };
}

/** One LSTM layer reads one input vector `x` (inDim values) from the state `prev`; returns its new state. */
export function layerStep(layer: InferenceLayer, x: Float32Array, prev: LayerState<Float32Array>): LayerState<Float32Array> {
  const xh = new Float32Array(layer.inDim + layer.units);
  xh.set(x, 0);
  xh.set(prev.h, layer.inDim);
  return lstmCell(layer.gates(xh), prev.c);
}

/**
 * The LSTM cell update (Keras: gates i, f, c, o; sigmoid recurrent
 * activation, tanh): the new state from the gate pre-activations `z`
 * (4·units) and the previous cell `cPrev` (units).
 */
export function lstmCell(z: Float32Array, cPrev: Float32Array): LayerState<Float32Array> {
  const H = cPrev.length;
  const h = new Float32Array(H);
  const c = new Float32Array(H);
  for (let j = 0; j < H; j++) {
    const i = sigmoid(z[j]);
    const f = sigmoid(z[H + j]);
    const g = Math.tanh(z[2 * H + j]);
    const o = sigmoid(z[3 * H + j]);
    c[j] = f * cPrev[j] + i * g;
    h[j] = o * Math.tanh(c[j]);
  }
  return { h, c };
}

/** JS engine: out[j] = bias[j] + Σ_i m[j·n + i] · x[i], for transposed weights m of shape [bias.length, n]. */
function jsGemv(m: Float32Array, bias: Float32Array): Gemv {
  return (x) => matVec(m, x, bias);
}

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
export function advanceThrough(w: InferenceWeights, ids: ArrayLike<number>, state: LstmState = initialState(w)): Prediction {
  if (ids.length === 0) throw new RangeError('advanceThrough needs at least one token');
  let r: Prediction | null = null;
  let s = state;
  for (let i = 0; i < ids.length; i++) {
    r = advance(w, s, ids[i]);
    s = r.state;
  }
  return r as Prediction;
}
