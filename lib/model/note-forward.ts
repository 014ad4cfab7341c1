/**
 * The note-step model's forward pass over a batch of step windows
 * (lib/data/note-dataset.ts), on its own variables: the step inputs, the
 * main LSTM stack over the steps, and the head over the next step's slots,
 * giving the log-probability of every target token. Training asks for the
 * tapes its backward pass needs (lib/train/note-bptt.ts); validation and
 * scoring ask only for the figures. Rows are time-major (n = t·B + b); the
 * head's rows are slot-major (j·N + n), and it computes only the rows with a
 * target (./note-head.ts: most slots of a note's step are empty), all of which
 * reach the output layer. Call inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoteBatch } from '../data/note-dataset';
import { INPUT_SLOTS } from '../data/note-dataset';
import { LOOKBACK_FLAGS, STEP_SLOTS } from '../tokens/steps';
import { layerForward, rowBlocks, timeMajor, type LayerMasks, type LayerTape } from './forward';
import { headForward, type HeadTape } from './note-head';
import type { LayerState, ModelVars } from './network';

/** What the forward pass computed; the tapes and inputs only when asked for. */
export interface NoteForward {
  /** [M, V] log-probabilities of the M head rows that have a target. */
  readonly logp: tf.Tensor2D;
  /** [M] each of those rows' target token. */
  readonly targets: Int32Array;
  /** [M] each of those rows' place among the head's rows (slot-major: j·N + n), in the head's packed order. */
  readonly rows: Int32Array;
  /** Targets that are tokens. */
  readonly tokens: number;
  readonly tape: NoteTape | null;
  /** Each main layer's state after the window's last step (for scoring a long piece chunk by chunk). */
  readonly last: readonly LayerState<tf.Tensor2D>[];
}

/** What the backward pass needs. */
interface NoteTape {
  /** [N·INPUT_SLOTS] the step slots' ids, time-major. */
  readonly groupIds: Int32Array;
  /** [N, INPUT_SLOTS·E] their embeddings side by side. */
  readonly slotEmbeddings: tf.Tensor2D;
  readonly main: readonly LayerTape[];
  /** The head's packed pass (./note-head.ts), which holds the top layer's outputs. */
  readonly head: HeadTape;
  /** [M, headUnits (+ units)] the output layer's input at the rows with a target (all the head's packed rows): the head's outputs, and with headSkip the main stack's top outputs beside them. */
  readonly headOut: tf.Tensor2D;
  /** [M] the main stack's row (n) of each of those rows. */
  readonly topRows: Int32Array;
}

/**
 * The forward pass (see the file comment). `masks` gives each main layer's
 * dropout (training only); `init` the main layers' state before the first
 * step (zeros when absent).
 */
export function noteForward(
  vars: ModelVars,
  batch: NoteBatch,
  keepTape: boolean,
  masks?: readonly LayerMasks[],
  init?: readonly LayerState<tf.Tensor2D>[],
): NoteForward {
  const note = vars.note;
  if (!note) throw new RangeError('noteForward needs a model of the note family');
  const B = batch.batchSize;
  const T = batch.seqLen;
  const N = B * T;
  const E = vars.embedding.shape[1] as number;
  const groupIds = timeMajor(batch.group, B, T, INPUT_SLOTS);
  const flags = timeMajor(batch.flags, B, T, LOOKBACK_FLAGS);
  const slots = tf.reshape(tf.gather(vars.embedding, tf.tensor1d(groupIds, 'int32')), [N, INPUT_SLOTS * E]) as tf.Tensor2D;
  const step = tf.add(tf.matMul(slots, note.stepKernel as tf.Tensor2D), note.stepBias) as tf.Tensor2D;
  let xs = rowBlocks(tf.concat([step, tf.tensor2d(flags, [N, LOOKBACK_FLAGS])], 1) as tf.Tensor2D, T);
  const main: LayerTape[] = [];
  const last: LayerState<tf.Tensor2D>[] = [];
  vars.lstm.forEach((w, l) => {
    const r = layerForward(xs, w, masks?.[l].inMask ?? null, masks?.[l].recMask ?? null, keepTape, init?.[l] ?? null);
    if (r.tape) main.push(r.tape);
    last.push(r.last);
    xs = r.hs;
  });
  const top = tf.concat(xs, 0) as tf.Tensor2D;
  // Slot-major (j·N + n) targets and head inputs; a row's targets fill its first slots.
  const allTargets = timeMajor(timeMajor(batch.targets, B, T, STEP_SLOTS), N, STEP_SLOTS);
  const prefixIds = timeMajor(timeMajor(batch.prefix, B, T, STEP_SLOTS), N, STEP_SLOTS);
  const lengths = new Int32Array(N);
  allTargets.forEach((t, row) => {
    if (t >= 0) lengths[row % N]++;
  });
  const head = headForward(note.head, vars.embedding as tf.Tensor2D, top, lengths, prefixIds, keepTape);
  const targets = Int32Array.from(head.rows, (row) => allTargets[row]);
  const topRows = Int32Array.from(head.rows, (row) => row % N);
  // With headSkip the output layer reads the main stack's output beside the head's.
  const skip = (vars.outKernel.shape[0] as number) > head.out.shape[1];
  const outIn = skip ? (tf.concat([head.out, tf.gather(top, tf.tensor1d(topRows, 'int32'))], 1) as tf.Tensor2D) : head.out;
  const logp = tf.logSoftmax(tf.add(tf.matMul(outIn, vars.outKernel as tf.Tensor2D), vars.outBias)) as tf.Tensor2D;
  const tape = keepTape && head.tape ? { groupIds, slotEmbeddings: slots, main, head: head.tape, headOut: outIn, topRows } : null;
  return { logp, targets, rows: head.rows, tokens: batch.tokens, tape, last };
}

/** The summed negative log-probability of a forward pass's target tokens. */
export function targetNll(f: NoteForward): number {
  if (f.targets.length === 0) return 0;
  const V = f.logp.shape[1];
  return -tf
    .sum(
      tf.gather(
        tf.reshape(f.logp, [-1]),
        tf.tensor1d(
          Int32Array.from(f.targets, (t, m) => m * V + t),
          'int32',
        ),
      ),
    )
    .dataSync()[0];
}

/** Mean next-token loss (nats per token) over a batch of step windows, without dropout or gradients. */
export function noteBatchLoss(vars: ModelVars, batch: NoteBatch): number {
  return tf.tidy(() => {
    const f = noteForward(vars, batch, false);
    return targetNll(f) / Math.max(1, f.tokens);
  });
}
