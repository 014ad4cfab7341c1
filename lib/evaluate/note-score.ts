/**
 * Scoring whole pieces with a model of the note family: every token after a
 * piece's first step gets the log-probability the head gave it, the main
 * LSTM's state carried from chunk to chunk of steps. The result has the token
 * family's layout (./score.ts): out[k][i] = ln p(ids[i + 1] | what came
 * before), so NLL per token, per note and per beat compare across families.
 * A copy (../tokens/steps.ts) is one decision for the tokens it stands for:
 * its log-probability goes to the first of them, its velocity's to the
 * velocity token, and the others (the pitch after a pos, the dur) get 0, so
 * every sum over a piece is the whole of what the model pays for it.
 */
import * as tf from '@tensorflow/tfjs';
import { noteBatch } from '../data/note-dataset';
import { noteForward } from '../model/note-forward';
import { noteCodeSize, stepOptionsOf } from '../model/config';
import type { LayerState, MusicModel } from '../model/network';
import { STEP_SLOTS, toSteps } from '../tokens/steps';
import type { Vocabulary } from '../tokens/vocabulary';

/** Steps per chunk: the head's scores of a chunk take 8 × chunk × vocabulary floats. */
const CHUNK_STEPS = 256;

/**
 * For each sequence (a whole piece, starting with `<s>`), the log-probability
 * of each token but the first (see the file comment). A sequence whose first
 * step holds more than `<s>` cannot be scored (the model has no step before
 * it to predict from): a RangeError says so.
 */
export function scoreNotePieces(
  model: MusicModel,
  vocab: Vocabulary,
  seqs: readonly ArrayLike<number>[],
  chunk = CHUNK_STEPS,
): Float64Array[] {
  return seqs.map((ids, k) => {
    const out = new Float64Array(Math.max(0, ids.length - 1));
    if (ids.length < 2) return out;
    const options = stepOptionsOf(model.config);
    const steps = toSteps(vocab, ids, options);
    if (steps.lengths[0] !== 1)
      throw new RangeError(
        `sequence ${k + 1}: a note model scores pieces that start with <s> alone (its first step holds ${steps.lengths[0]} tokens)`,
      );
    const piece = [{ name: `piece ${k + 1}`, steps, options }];
    const C = noteCodeSize(model.config);
    let state: LayerState<tf.Tensor2D>[] | undefined;
    for (let a = 0; a + 1 < steps.count; a += chunk) {
      const L = Math.min(chunk, steps.count - 1 - a);
      const batch = noteBatch(vocab, piece, [{ piece: 0, start: a }], L);
      let rows = new Int32Array(0);
      const [logp, ...hc] = tf.tidy(() => {
        const f = noteForward(model.vars, batch, false, undefined, state);
        rows = f.rows;
        return [f.logp, ...f.last.flatMap((s) => [s.h, s.c])];
      });
      if (state) tf.dispose(state.flatMap((s) => [s.h, s.c]));
      state = [];
      for (let l = 0; l < hc.length; l += 2) state.push({ h: hc[l] as tf.Tensor2D, c: hc[l + 1] as tf.Tensor2D });
      const scores = logp.dataSync();
      logp.dispose();
      // Scored row m is the head's row j·L + t: slot j of the step after step a + t. A copy's slot 1 is its velocity.
      rows.forEach((row, m) => {
        const s = a + (row % L) + 1;
        const j = Math.floor(row / L);
        const skipped = steps.spans[s] - steps.lengths[s];
        const token = steps.starts[s] + j + (j > 0 && skipped > 0 ? skipped - 1 : 0);
        out[token - 1] = scores[m * C + steps.groups[s * STEP_SLOTS + j]];
      });
    }
    if (state) tf.dispose(state.flatMap((s) => [s.h, s.c]));
    return out;
  });
}
