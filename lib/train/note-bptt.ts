/**
 * Loss and gradients for the note-step family (lib/model/note-network.ts):
 * the forward pass of lib/model/note-forward.ts with its tapes, then
 * backpropagation through the packed head over each next step's slots
 * (./note-head-bptt.ts), into the main stack's outputs and the prefix
 * embeddings, back through time over
 * the steps with the token family's layer kernel (./bptt.ts), and into the
 * step input projection and the embedding rows of every slot. Tested against
 * tfjs autograd on the saved layers model (tests/note-train.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { NoteBatch } from '../data/note-dataset';
import { INPUT_SLOTS } from '../data/note-dataset';
import { rowBlocks } from '../model/forward';
import { noteForward, targetNll } from '../model/note-forward';
import type { ModelVars } from '../model/network';
import { layerBackward, layerDropoutMasks, type BatchGradients, type DropoutSpec } from './bptt';
import { headBackward } from './note-head-bptt';

/** Columns [0, a) and [a, end) of a [r, c] matrix (host copy). */
function splitColumns(x: tf.Tensor2D, a: number): [tf.Tensor2D, tf.Tensor2D] {
  const [rows, cols] = x.shape;
  const d = x.dataSync() as Float32Array;
  const left = new Float32Array(rows * a);
  const right = new Float32Array(rows * (cols - a));
  for (let i = 0; i < rows; i++) {
    left.set(d.subarray(i * cols, i * cols + a), i * a);
    right.set(d.subarray(i * cols + a, (i + 1) * cols), i * (cols - a));
  }
  return [tf.tensor2d(left, [rows, a]), tf.tensor2d(right, [rows, cols - a])];
}

/**
 * Mean cross-entropy of the batch's target tokens and its gradients in
 * varList order (embedding, step kernel and bias, each main layer, the
 * head's layer, output kernel and bias). Tensors belong to the caller.
 */
export function noteLossAndGradients(vars: ModelVars, batch: NoteBatch, drop?: DropoutSpec): BatchGradients {
  const note = vars.note;
  if (!note) throw new RangeError('noteLossAndGradients needs a model of the note family');
  const B = batch.batchSize;
  const T = batch.seqLen;
  const N = B * T;
  const E = vars.embedding.shape[1] as number;
  let lossValue = 0;
  const grads = tf.tidy(() => {
    const f = noteForward(vars, batch, true, layerDropoutMasks(vars.lstm, B, drop));
    const tape = f.tape;
    if (!tape) throw new Error('the forward pass kept no tape');
    const count = Math.max(1, f.tokens);
    lossValue = targetNll(f) / count;
    const V = f.logp.shape[1];
    const dLogits = tf.div(tf.sub(tf.exp(f.logp), tf.oneHot(tf.tensor1d(f.targets, 'int32'), V)), count) as tf.Tensor2D;
    const dOutKernel = tf.matMul(tf.transpose(tape.headOut), dLogits);
    const dOutBias = tf.sum(dLogits, 0);
    // Every packed row of the head has a target. With headSkip the output layer also read the top outputs.
    const dOutIn = tf.matMul(dLogits, tf.transpose(vars.outKernel) as tf.Tensor2D) as tf.Tensor2D;
    const Hh = note.head.recurrentKernel.shape[0] as number;
    const skip = dOutIn.shape[1] > Hh;
    const [dHeadOut, dTopSkip] = skip ? splitColumns(dOutIn, Hh) : [dOutIn, null];
    const head = headBackward(tape.head, dHeadOut, note.head, vars.embedding as tf.Tensor2D);
    const dTop = dTopSkip ? tf.add(head.dTop, tf.unsortedSegmentSum(dTopSkip, tf.tensor1d(tape.topRows, 'int32'), N)) : head.dTop;
    let dhs = rowBlocks(dTop as tf.Tensor2D, T);
    const layerGrads: tf.Tensor[][] = [];
    for (let l = vars.lstm.length - 1; l >= 0; l--) {
      const g = layerBackward(tape.main[l], dhs, vars.lstm[l]);
      layerGrads[l] = [g.dKernel, g.dRecurrent, g.dBias];
      dhs = g.dxs;
    }
    // The first layer's input is [step vector; flags]: the flags are data.
    const [dStep] = splitColumns(tf.concat(dhs, 0) as tf.Tensor2D, note.stepBias.shape[0]);
    const dStepKernel = tf.matMul(tf.transpose(tape.slotEmbeddings), dStep);
    const dStepBias = tf.sum(dStep, 0);
    const dSlots = tf.reshape(tf.matMul(dStep, tf.transpose(note.stepKernel) as tf.Tensor2D), [N * INPUT_SLOTS, E]);
    const dEmb = tf.add(head.dEmbedding, tf.unsortedSegmentSum(dSlots, tf.tensor1d(tape.groupIds, 'int32'), vars.embedding.shape[0]));
    return [dEmb, dStepKernel, dStepBias, ...layerGrads.flat(), head.dKernel, head.dRecurrent, head.dBias, dOutKernel, dOutBias];
  });
  return { loss: lossValue, grads };
}
