/**
 * The training kernel: forward pass and hand-written backpropagation through
 * time for the embedding → LSTM stack → softmax model, on the model's own
 * variables (Keras layout, gates i, f, c, o). Tested against tfjs's LSTM and
 * autograd (tests/lstm.test.ts).
 *
 * Why not tfjs autograd over tfjs's LSTM layer: that records dozens of tiny
 * ops per time step and differentiates them one by one. Here only the truly
 * sequential work runs per step (one matrix product and a few element-wise
 * ops); input projections, weight gradients and all gate-derivative factors
 * are a handful of large operations over the whole window. The forward pass
 * itself is the model's (lib/model/forward.ts): training asks it for a tape.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data/dataset';
import type { LayerState, LstmVars, ModelVars } from '../model/network';
import { layerForward, rowBlocks, timeMajor, type LayerMasks, type LayerTape } from '../model/forward';
import type { Rng } from '../core/rng';

/** Dropout settings for one batch (masks drawn from `rng`). */
export interface DropoutSpec {
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly rng: Rng;
}

function dropoutMask(rows: number, cols: number, rate: number, rng: Rng): tf.Tensor2D | null {
  if (rate <= 0) return null;
  const keep = 1 - rate;
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = rng.next() < keep ? 1 / keep : 0;
  return tf.tensor2d(m, [rows, cols]);
}

/** Each LSTM layer's dropout masks for a batch of `B` rows, drawn from `drop.rng` layer by layer (input, then recurrent); none without `drop`. */
export function layerDropoutMasks(lstm: readonly LstmVars[], B: number, drop?: DropoutSpec): LayerMasks[] {
  return lstm.map((w) => ({
    inMask: drop ? dropoutMask(B, w.kernel.shape[0], drop.dropout, drop.rng) : null,
    recMask: drop ? dropoutMask(B, w.recurrentKernel.shape[0], drop.recurrentDropout, drop.rng) : null,
  }));
}

/**
 * The factors of an LSTM's backward pass at every row of its tape at once, from
 * its gates i, f, g, o, its cell states c and the cell states before them:
 * dc = dh ⊙ k1 (+ what flows back from the next step), and the gates'
 * pre-activation gradients dz = [dc, dc, dc, dh] ⊙ m (gate order i, f, c, o).
 */
export function gateFactors(
  gates: { readonly i: tf.Tensor2D; readonly f: tf.Tensor2D; readonly g: tf.Tensor2D; readonly o: tf.Tensor2D; readonly c: tf.Tensor2D },
  cPrev: tf.Tensor2D,
): { readonly k1: tf.Tensor2D; readonly m: tf.Tensor2D } {
  const { i: I, f: F, g: G, o: O } = gates;
  const tc = tf.tanh(gates.c);
  const one = tf.scalar(1);
  const k1 = tf.mul(O, tf.sub(one, tf.square(tc))) as tf.Tensor2D;
  const m = tf.concat(
    [
      tf.mul(G, tf.mul(I, tf.sub(one, I))), // dz_i = dc * m_i
      tf.mul(cPrev, tf.mul(F, tf.sub(one, F))), // dz_f = dc * m_f
      tf.mul(I, tf.sub(one, tf.square(G))), // dz_g = dc * m_g
      tf.mul(tc, tf.mul(O, tf.sub(one, O))), // dz_o = dh * m_o
    ],
    1,
  ) as tf.Tensor2D;
  return { k1, m };
}

/** Backward pass of one layer: given dL/dh_t for all t, returns per-step dL/dx_t and the weight gradients. */
export function layerBackward(
  tape: LayerTape,
  dhs: readonly tf.Tensor2D[],
  w: LstmVars,
): { dxs: tf.Tensor2D[]; dKernel: tf.Tensor; dRecurrent: tf.Tensor; dBias: tf.Tensor } {
  const T = dhs.length;
  const B = dhs[0].shape[0];
  const H = w.recurrentKernel.shape[0];
  const inDim = w.kernel.shape[0];
  // Per-step factors, computed for the whole window at once.
  const { k1, m } = gateFactors(tape, shiftDown(tape.c, B * H, tape.c0));
  const k1s = rowBlocks(k1, T);
  const fs = rowBlocks(tape.f, T);
  const ms = rowBlocks(m, T);
  const uT = tf.transpose(w.recurrentKernel) as tf.Tensor2D;
  const dzs: tf.Tensor2D[] = new Array<tf.Tensor2D>(T);
  let dhNext: tf.Tensor2D | null = null;
  let dcNext: tf.Tensor2D | null = null;
  for (let t = T - 1; t >= 0; t--) {
    const dh: tf.Tensor2D = dhNext ? tf.add(dhs[t], dhNext) : dhs[t];
    const dcH: tf.Tensor2D = tf.mul(dh, k1s[t]);
    const dc: tf.Tensor2D = dcNext ? tf.add(dcH, dcNext) : dcH;
    dzs[t] = tf.mul(tf.concat([dc, dc, dc, dh], 1), ms[t]);
    if (t > 0) {
      dcNext = tf.mul(dc, fs[t]) as tf.Tensor2D;
      const dhp: tf.Tensor2D = tf.matMul(dzs[t], uT);
      // (recurrent dropout scales h_{t-1}, so its gradient too)
      dhNext = tape.recMask ? (tf.mul(dhp, tape.recMask) as tf.Tensor2D) : dhp;
    }
  }
  const dZ = tf.concat(dzs, 0);
  const dW = tf.matMul(tf.transpose(tape.cat), dZ) as tf.Tensor2D;
  const [dKernel, dRecurrent] = splitRows(dW, inDim);
  const dBias = tf.sum(dZ, 0);
  let dxs = rowBlocks(tf.matMul(dZ, tf.transpose(w.kernel) as tf.Tensor2D), T);
  if (tape.inMask) dxs = dxs.map((d) => tf.mul(d, tape.inMask as tf.Tensor2D));
  return { dxs, dKernel, dRecurrent, dBias };
}

/** The rows of x moved down by one block of `n` values, `first` (or zeros) on top: c_{t-1} from c_t, c_{-1} being the state the window started from. */
function shiftDown(x: tf.Tensor2D, n: number, first: tf.Tensor2D | null): tf.Tensor2D {
  const d = x.dataSync() as Float32Array;
  const out = new Float32Array(d.length);
  out.set(d.subarray(0, d.length - n), n);
  if (first) out.set(first.dataSync() as Float32Array, 0);
  return tf.tensor2d(out, x.shape);
}

/** Splits a [a+b, c] matrix into its first `a` rows and the rest (host copy). */
function splitRows(x: tf.Tensor2D, a: number): [tf.Tensor2D, tf.Tensor2D] {
  const [rows, cols] = x.shape;
  const d = x.dataSync() as Float32Array;
  return [tf.tensor2d(d.slice(0, a * cols), [a, cols]), tf.tensor2d(d.slice(a * cols), [rows - a, cols])];
}

/** Result of one batch: mean loss (nats per token) and gradients in {@link varList} order; with a start state given, the state the batch ends in. */
export interface BatchGradients {
  readonly loss: number;
  readonly grads: tf.Tensor[];
  readonly state?: BatchStateArrays;
}

/** Every layer's h and c for each row of a batch, row-major [B × units] (a state carried from one batch to the next). */
export type BatchStateArrays = readonly LayerState<Float32Array>[];

/**
 * Loss and gradients of the mean next-token cross-entropy over every position
 * of a batch. With `init`, each layer starts from that state instead of zeros
 * (truncated backpropagation: no gradient flows into it), and the result
 * carries the state each row ends in, for the next window of its stream. The
 * returned gradient tensors belong to the caller (dispose them).
 */
export function lossAndGradients(vars: ModelVars, batch: Batch, drop?: DropoutSpec, init?: BatchStateArrays): BatchGradients {
  const B = batch.batchSize;
  const T = batch.seqLen;
  const N = B * T;
  const V = vars.outBias.shape[0];
  const ids = timeMajor(batch.inputs, B, T);
  const targets = timeMajor(batch.targets, B, T);
  let lossValue = 0;
  const ends: LayerState<Float32Array>[] = [];
  const grads = tf.tidy(() => {
    const idT = tf.tensor1d(ids, 'int32');
    let xs = rowBlocks(tf.gather(vars.embedding, idT) as tf.Tensor2D, T);
    const tapes: LayerTape[] = [];
    const masks = layerDropoutMasks(vars.lstm, B, drop);
    vars.lstm.forEach((w, l) => {
      const H = w.recurrentKernel.shape[0];
      const start = init ? { h: tf.tensor2d(init[l].h, [B, H]), c: tf.tensor2d(init[l].c, [B, H]) } : null;
      const r = layerForward(xs, w, masks[l].inMask, masks[l].recMask, true, start);
      if (init) ends.push({ h: (r.last.h.dataSync() as Float32Array).slice(), c: (r.last.c.dataSync() as Float32Array).slice() });
      tapes.push(r.tape as LayerTape);
      xs = r.hs;
    });
    const top = tf.concat(xs, 0) as tf.Tensor2D;
    const logp = tf.logSoftmax(tf.add(tf.matMul(top, vars.outKernel as tf.Tensor2D), vars.outBias));
    const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), V);
    lossValue = -tf.sum(tf.mul(logp, onehot)).dataSync()[0] / N;
    const dLogits = tf.div(tf.sub(tf.exp(logp), onehot), N) as tf.Tensor2D;
    const dOutKernel = tf.matMul(tf.transpose(top), dLogits);
    const dOutBias = tf.sum(dLogits, 0);
    let dhs = rowBlocks(tf.matMul(dLogits, tf.transpose(vars.outKernel) as tf.Tensor2D), T);
    const layerGrads: tf.Tensor[][] = [];
    for (let l = vars.lstm.length - 1; l >= 0; l--) {
      const g = layerBackward(tapes[l], dhs, vars.lstm[l]);
      layerGrads[l] = [g.dKernel, g.dRecurrent, g.dBias];
      dhs = g.dxs;
    }
    const dEmb = tf.unsortedSegmentSum(tf.concat(dhs, 0), idT, vars.embedding.shape[0]);
    return [dEmb, ...layerGrads.flat(), dOutKernel, dOutBias];
  });
  return init ? { loss: lossValue, grads, state: ends } : { loss: lossValue, grads };
}
