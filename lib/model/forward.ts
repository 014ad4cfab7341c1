/**
 * The network's forward pass over batches of sequences, time-major, on the
 * model's own variables (Keras layout, gates i, f, c, o): scoring whole
 * pieces chunk by chunk ({@link forwardChunk}), the loss of a batch
 * ({@link batchLoss}), and, for training, one layer's pass that also records
 * the tape its backward pass needs ({@link layerForward}; lib/train/bptt.ts).
 * Each gate is its own fused matrix product, so no per-step slicing is needed;
 * splits go through host copies, which beat tfjs's slice kernels on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data/dataset';
import type { LayerState, LstmVars, ModelVars } from './network';

/** One layer's recurrent state for a batch: h and c, each [B, H]. */
type BatchState = LayerState<tf.Tensor2D>;

/** What one layer's forward pass records for its backward pass (lib/train/bptt.ts). */
export interface LayerTape {
  readonly cat: tf.Tensor2D; // [T*B, in+H]: masked input x_t beside masked h_{t-1}
  readonly inMask: tf.Tensor2D | null; // [B, in]
  readonly recMask: tf.Tensor2D | null; // [B, H]
  readonly i: tf.Tensor2D; // [T*B, H] gate activations
  readonly f: tf.Tensor2D;
  readonly g: tf.Tensor2D;
  readonly o: tf.Tensor2D;
  readonly c: tf.Tensor2D; // [T*B, H] cell states c_t
  readonly c0: tf.Tensor2D | null; // [B, H] the cell state the window started from (null = zeros)
}

/** Dropout masks of one LSTM layer ([B, in] on its input and [B, units] on its recurrent state; null = none). */
export interface LayerMasks {
  readonly inMask: tf.Tensor2D | null;
  readonly recMask: tf.Tensor2D | null;
}

/**
 * Swaps the first two axes of a row-major array: [B][T][S] → [T][B][S], S
 * values per cell (1 by default). Batch-major ids become time-major (row
 * t·B + b), and [N][slots] becomes slot-major. A new array of the same type.
 */
export function timeMajor<A extends Int32Array | Float32Array>(x: A, B: number, T: number, S = 1): A {
  const out = x.slice() as A;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < S; j++) out[(t * B + b) * S + j] = x[(b * T + t) * S + j];
  return out;
}

/**
 * Splits a [parts·r, c] tensor into `parts` row blocks. Done through a host
 * copy: tfjs's slice kernels are far slower than a memcpy on the wasm backend.
 */
export function rowBlocks(x: tf.Tensor2D, parts: number): tf.Tensor2D[] {
  const [rows, cols] = x.shape;
  const r = rows / parts;
  const d = x.dataSync() as Float32Array;
  const out: tf.Tensor2D[] = [];
  for (let p = 0; p < parts; p++) out.push(tf.tensor2d(d.subarray(p * r * cols, (p + 1) * r * cols), [r, cols]));
  return out;
}

/** Splits a [r, parts·c] tensor (or a [parts·c] vector) into `parts` column blocks via a host copy. */
export function colBlocks(x: tf.Tensor, parts: number): tf.Tensor[] {
  const rows = x.rank === 1 ? 1 : x.shape[0];
  const cols = x.rank === 1 ? x.shape[0] : x.shape[1]!;
  const c = cols / parts;
  const d = x.dataSync() as Float32Array;
  const out: tf.Tensor[] = [];
  for (let p = 0; p < parts; p++) {
    const blk = new Float32Array(rows * c);
    for (let i = 0; i < rows; i++) blk.set(d.subarray(i * cols + p * c, i * cols + (p + 1) * c), i * c);
    out.push(x.rank === 1 ? tf.tensor1d(blk) : tf.tensor2d(blk, [rows, c]));
  }
  return out;
}

/**
 * Forward pass of one LSTM layer over a time-major window given as per-step
 * inputs [B, in]; returns per-step outputs h_t and the tape for backward.
 * Each gate is its own fused matrix product (+ bias + activation), so no
 * per-step slicing is needed.
 */
export function layerForward(
  xs: readonly tf.Tensor2D[],
  w: LstmVars,
  inMask: tf.Tensor2D | null,
  recMask: tf.Tensor2D | null,
  keepTape: boolean,
  init: BatchState | null = null,
): { hs: tf.Tensor2D[]; last: BatchState; tape: LayerTape | null } {
  const T = xs.length;
  const B = xs[0].shape[0];
  const H = w.recurrentKernel.shape[0];
  const wCat = tf.concat([w.kernel, w.recurrentKernel], 0) as tf.Tensor2D;
  const [wi, wf, wg, wo] = colBlocks(wCat, 4) as tf.Tensor2D[];
  const [bi, bf, bg, bo] = colBlocks(w.bias, 4) as tf.Tensor1D[];
  let h: tf.Tensor2D = init ? init.h : tf.zeros([B, H]);
  let c: tf.Tensor2D = init ? init.c : tf.zeros([B, H]);
  const tape = {
    cat: [] as tf.Tensor2D[],
    i: [] as tf.Tensor2D[],
    f: [] as tf.Tensor2D[],
    g: [] as tf.Tensor2D[],
    o: [] as tf.Tensor2D[],
    c: [] as tf.Tensor2D[],
  };
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const x = inMask ? tf.mul(xs[t], inMask) : xs[t];
    const cat = tf.concat([x, recMask ? tf.mul(h, recMask) : h], 1) as tf.Tensor2D;
    const i: tf.Tensor2D = tf.fused.matMul({ a: cat, b: wi, bias: bi, activation: 'sigmoid' }) as tf.Tensor2D;
    const f: tf.Tensor2D = tf.fused.matMul({ a: cat, b: wf, bias: bf, activation: 'sigmoid' }) as tf.Tensor2D;
    const g: tf.Tensor2D = tf.tanh(tf.fused.matMul({ a: cat, b: wg, bias: bg })) as tf.Tensor2D;
    const o: tf.Tensor2D = tf.fused.matMul({ a: cat, b: wo, bias: bo, activation: 'sigmoid' }) as tf.Tensor2D;
    c = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
    hs.push(h);
    if (keepTape) {
      tape.cat.push(cat);
      tape.i.push(i);
      tape.f.push(f);
      tape.g.push(g);
      tape.o.push(o);
      tape.c.push(c);
    }
  }
  if (!keepTape) return { hs, last: { h, c }, tape: null };
  return {
    hs,
    last: { h, c },
    tape: {
      cat: tf.concat(tape.cat, 0),
      inMask,
      recMask,
      i: tf.concat(tape.i, 0),
      f: tf.concat(tape.f, 0),
      g: tf.concat(tape.g, 0),
      o: tf.concat(tape.o, 0),
      c: tf.concat(tape.c, 0),
      c0: init ? init.c : null,
    },
  };
}

/** Mean next-token loss (nats per token) over a batch, without dropout or gradients. */
export function batchLoss(vars: ModelVars, batch: Batch): number {
  const B = batch.batchSize;
  const T = batch.seqLen;
  const ids = timeMajor(batch.inputs, B, T);
  const targets = timeMajor(batch.targets, B, T);
  return tf.tidy(() => {
    let xs = rowBlocks(tf.gather(vars.embedding, tf.tensor1d(ids, 'int32')) as tf.Tensor2D, T);
    for (const w of vars.lstm) xs = layerForward(xs, w, null, null, false).hs;
    const logp = tf.logSoftmax(tf.add(tf.matMul(tf.concat(xs, 0) as tf.Tensor2D, vars.outKernel as tf.Tensor2D), vars.outBias));
    const V = logp.shape[1] as number;
    const flat = tf.tensor1d(
      Int32Array.from(targets, (tg, i) => i * V + tg),
      'int32',
    );
    return -tf.mean(tf.gather(logp.reshape([-1]), flat)).dataSync()[0];
  });
}

/**
 * Forward pass over a time-major chunk of ids ([T·B], row t·B + b) starting
 * from `state` (zeros when null): returns next-token log-probabilities
 * [T·B, V] and the state after the chunk, for scoring long sequences in
 * batches while carrying the state across chunks. Tensors belong to the caller.
 */
export function forwardChunk(
  vars: ModelVars,
  ids: Int32Array,
  T: number,
  B: number,
  state: readonly BatchState[] | null,
): { logp: tf.Tensor2D; state: BatchState[] } {
  const out = tf.tidy(() => {
    let xs = rowBlocks(tf.gather(vars.embedding, tf.tensor1d(ids, 'int32')) as tf.Tensor2D, T);
    const next: BatchState[] = [];
    vars.lstm.forEach((w, l) => {
      const r = layerForward(xs, w, null, null, false, state ? state[l] : null);
      next.push(r.last);
      xs = r.hs;
    });
    const logp = tf.logSoftmax(
      tf.add(tf.matMul(tf.concat(xs, 0) as tf.Tensor2D, vars.outKernel as tf.Tensor2D), vars.outBias),
    ) as tf.Tensor2D;
    return [logp, ...next.flatMap((st) => [st.h, st.c])];
  });
  const [logp, ...hc] = out as tf.Tensor2D[];
  const after: BatchState[] = [];
  for (let l = 0; l < hc.length; l += 2) after.push({ h: hc[l], c: hc[l + 1] });
  return { logp, state: after };
}
