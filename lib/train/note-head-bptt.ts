/**
 * Backpropagation through the note family's packed head (lib/model/note-head.ts):
 * back over its slots, then into its weights, the main stack's top outputs
 * (through the once-per-step h_top share of its gates) and the embedding rows
 * of its input tokens (through embedding · W_emb).
 */
import * as tf from '@tensorflow/tfjs';
import type { LstmVars } from '../model/network';
import type { HeadTape } from '../model/note-head';
import { gateFactors } from './bptt';

/** Gradients of the head: its kernel, recurrent kernel and bias, the top outputs [N, units] and the embedding [V + 2, E]. */
export interface HeadGradients {
  readonly dKernel: tf.Tensor2D;
  readonly dRecurrent: tf.Tensor2D;
  readonly dBias: tf.Tensor1D;
  readonly dTop: tf.Tensor2D;
  readonly dEmbedding: tf.Tensor2D;
}

/** `x` [r, c] with zero rows appended up to `rows` (host copy). */
function padRows(x: tf.Tensor2D, rows: number): tf.Tensor2D {
  if (x.shape[0] === rows) return x;
  const out = new Float32Array(rows * x.shape[1]);
  out.set(x.dataSync() as Float32Array);
  return tf.tensor2d(out, [rows, x.shape[1]]);
}

/** The head's backward pass, given dL/dh at each packed row (`dOut`, [P, headUnits]). Call inside tf.tidy. */
export function headBackward(tape: HeadTape, dOut: tf.Tensor2D, head: LstmVars, embedding: tf.Tensor2D): HeadGradients {
  const { counts } = tape;
  const N = tape.top.shape[0];
  const H = head.recurrentKernel.shape[0];
  const split = (x: tf.Tensor2D): tf.Tensor2D[] => (counts.length > 0 ? (tf.split(x, [...counts], 0) as tf.Tensor2D[]) : []);
  // The factors for every packed row at once; only the recurrence runs slot by slot.
  const { k1, m } = gateFactors(tape, tape.cPrev);
  const [K1, M, F, D] = [k1, m, tape.f, dOut].map(split);
  const uT = tf.transpose(head.recurrentKernel) as tf.Tensor2D;
  const dzs: tf.Tensor2D[] = new Array<tf.Tensor2D>(counts.length);
  let dhNext: tf.Tensor2D | null = null;
  let dcNext: tf.Tensor2D | null = null;
  for (let j = counts.length - 1; j >= 0; j--) {
    const n = counts[j];
    const dh: tf.Tensor2D = dhNext ? tf.add(D[j], padRows(dhNext, n)) : D[j];
    const dcH = tf.mul(dh, K1[j]) as tf.Tensor2D;
    const dc: tf.Tensor2D = dcNext ? tf.add(dcH, padRows(dcNext, n)) : dcH;
    dzs[j] = tf.mul(tf.concat([dc, dc, dc, dh], 1), M[j]);
    dcNext = tf.mul(dc, F[j]) as tf.Tensor2D;
    dhNext = tf.matMul(dzs[j], uT) as tf.Tensor2D;
  }
  const dZ = dzs.length > 0 ? (tf.concat(dzs, 0) as tf.Tensor2D) : tf.zeros([0, 4 * H]);
  // The top share was added to every slot of a step, the embedding share at each input token.
  const dTopShare = tf.unsortedSegmentSum(dZ, tf.tensor1d(tape.source, 'int32'), N) as tf.Tensor2D;
  const dEmbShare = tf.unsortedSegmentSum(dZ, tf.tensor1d(tape.prefixIds, 'int32'), embedding.shape[0]) as tf.Tensor2D;
  return {
    dKernel: tf.concat([tf.matMul(tf.transpose(tape.top), dTopShare), tf.matMul(tf.transpose(embedding), dEmbShare)], 0) as tf.Tensor2D,
    dRecurrent: tf.matMul(tf.transpose(tape.hPrev), dZ) as tf.Tensor2D,
    dBias: tf.sum(dZ, 0) as tf.Tensor1D,
    dTop: tf.matMul(dTopShare, tf.transpose(tape.wTop)) as tf.Tensor2D,
    dEmbedding: tf.matMul(dEmbShare, tf.transpose(tape.wEmb)) as tf.Tensor2D,
  };
}
