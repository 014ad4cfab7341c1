/**
 * Scoring whole pieces: the log-probability the model gives each next token,
 * computed in batches (pieces side by side, in chunks, carrying the LSTM
 * state from chunk to chunk) — the same numbers as stepping through each
 * piece on its own, many times faster.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerState } from '../model/network';
import { forwardChunk } from '../model/forward';
import type { MusicModel } from '../model/network';

/** Batching for {@link scorePieces}. */
export interface ScoreOptions {
  /** Pieces scored side by side. */
  readonly batchSize: number;
  /** Time steps per chunk. */
  readonly chunk: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = { batchSize: 32, chunk: 128 };

/**
 * For each sequence, `out[k][i]` = ln p(ids[i+1] | ids[0..i]) for i = 0..n−2
 * (the first token is not predicted). `onProgress` reports pieces done.
 */
export function scorePieces(
  model: MusicModel,
  seqs: readonly ArrayLike<number>[],
  options: ScoreOptions = DEFAULT_SCORE_OPTIONS,
  onProgress?: (done: number, total: number) => void,
): Float64Array[] {
  const out = seqs.map((s) => new Float64Array(Math.max(0, s.length - 1)));
  // Longest first, so each batch holds pieces of similar length.
  const order = seqs
    .map((_, i) => i)
    .filter((i) => seqs[i].length >= 2)
    .sort((a, b) => seqs[b].length - seqs[a].length);
  let done = seqs.length - order.length;
  for (let start = 0; start < order.length; start += options.batchSize) {
    const group = order.slice(start, start + options.batchSize);
    const B = group.length;
    const steps = seqs[group[0]].length - 1;
    let state: LayerState<tf.Tensor2D>[] | null = null;
    for (let t0 = 0; t0 < steps; t0 += options.chunk) {
      const T = Math.min(options.chunk, steps - t0);
      const ids = new Int32Array(T * B);
      for (let t = 0; t < T; t++) {
        group.forEach((k, b) => {
          const s = seqs[k];
          ids[t * B + b] = t0 + t < s.length - 1 ? s[t0 + t] : 0;
        });
      }
      const r = forwardChunk(model.vars, ids, T, B, state);
      if (state) tf.dispose(state.flatMap((st) => [st.h, st.c]));
      state = r.state;
      const logp = r.logp.dataSync();
      r.logp.dispose();
      const V = model.config.vocabSize;
      for (let t = 0; t < T; t++) {
        group.forEach((k, b) => {
          const s = seqs[k];
          const i = t0 + t;
          if (i < s.length - 1) out[k][i] = logp[(t * B + b) * V + s[i + 1]];
        });
      }
    }
    if (state) tf.dispose(state.flatMap((st) => [st.h, st.c]));
    done += B;
    onProgress?.(done, seqs.length);
  }
  return out;
}
