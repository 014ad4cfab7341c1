/**
 * The note-step model family: the LSTM advances once per step, a note (or a
 * bar with its meter: lib/tokens/steps.ts), instead of once per remi token,
 * and a small head writes the next step's tokens one after another.
 *
 *     step s's tokens (8 slots) + its look-back (6 slots) ─ embedding ─ concatenated ─ dense → x_s
 *     [x_s; look-back flags] → N stacked LSTM layers → h_s
 *     head: an LSTM over the next step's slots j = 0..7, reading [h_s; embedding(y_{j−1})]
 *           (y_{−1} = the start id) → dense → softmax over the vocabulary and the copy ids = p(y_j | h_s, y_<j)
 *           (with `headSkip` the dense layer reads [head output; h_s])
 *
 * Every token of a piece is still predicted once, from the same vocabulary,
 * so NLL per token and per note compare with the token model's exactly. The
 * saved form is a tfjs layers model with three inputs (group, flags, prefix)
 * that computes these probabilities for teacher-forced prefixes; training,
 * scoring and generation use its variables directly, like the token model's.
 */
import * as tf from '@tensorflow/tfjs';
import { LOOKBACK_FLAGS, LOOKBACK_SLOTS, STEP_SLOTS } from '../tokens/steps';
import { noteCodeSize, stepUnitsOf, type ModelConfig } from './config';

/** Units of the head's LSTM when the config does not say. */
export const DEFAULT_HEAD_UNITS = 128;

/** The note-step model's variables beyond the token model's (embedding, main LSTM stack, output layer). */
export interface NoteVars {
  /** [(STEP_SLOTS + LOOKBACK_SLOTS)·embeddingDim, stepUnits]: a step's slot embeddings → its input vector. */
  readonly stepKernel: tf.Variable;
  /** [stepUnits] */
  readonly stepBias: tf.Variable;
  /** The head's LSTM (Keras layout, as the stack's layers): input [units + embeddingDim], `headUnits` units. */
  readonly head: { readonly kernel: tf.Variable; readonly recurrentKernel: tf.Variable; readonly bias: tf.Variable };
}

/** Input width of the main LSTM stack's first layer: the step vector and the look-back flags. */
function stepInputDim(c: ModelConfig): number {
  return stepUnitsOf(c) + LOOKBACK_FLAGS;
}

/** The tfjs layers model of the note-step family (see the file comment), with seeded initial weights. */
export function buildNoteNet(c: ModelConfig): tf.LayersModel {
  const V = noteCodeSize(c);
  const E = c.embeddingDim;
  const s = c.seed;
  const glorot = (k: number): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: s + k });
  const groupIn = tf.input({ shape: [null, STEP_SLOTS + LOOKBACK_SLOTS], dtype: 'int32', name: 'group' });
  const flagsIn = tf.input({ shape: [null, LOOKBACK_FLAGS], name: 'flags' });
  const prefixIn = tf.input({ shape: [null, STEP_SLOTS], dtype: 'int32', name: 'prefix' });
  // Two extra rows: the empty slot and the head's start.
  const embedding = tf.layers.embedding({
    inputDim: V + 2,
    outputDim: E,
    embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s }),
    name: 'embedding',
  });
  const slots = tf.layers
    .reshape({ targetShape: [-1, (STEP_SLOTS + LOOKBACK_SLOTS) * E], name: 'step_slots' })
    .apply(embedding.apply(groupIn)) as tf.SymbolicTensor;
  const step = tf.layers.dense({ units: stepUnitsOf(c), kernelInitializer: glorot(50), name: 'step_in' }).apply(slots) as tf.SymbolicTensor;
  let x = tf.layers.concatenate({ name: 'step_input' }).apply([step, flagsIn]) as tf.SymbolicTensor;
  for (let l = 0; l < c.layers; l++) {
    const lstm = tf.layers.lstm({
      units: c.units,
      returnSequences: true,
      recurrentActivation: 'sigmoid',
      dropout: c.dropout,
      recurrentDropout: c.recurrentDropout,
      kernelInitializer: glorot(1 + 2 * l),
      recurrentInitializer: glorot(2 + 2 * l),
      unitForgetBias: true,
      name: `lstm_${l + 1}`,
    });
    x = lstm.apply(x) as tf.SymbolicTensor;
  }
  const repeated = tf.layers
    .timeDistributed({ layer: tf.layers.repeatVector({ n: STEP_SLOTS }), name: 'head_repeat' })
    .apply(x) as tf.SymbolicTensor;
  const headIn = tf.layers
    .concatenate({ axis: -1, name: 'head_input' })
    .apply([repeated, embedding.apply(prefixIn) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const headLstm = tf.layers.lstm({
    units: c.headUnits ?? DEFAULT_HEAD_UNITS,
    returnSequences: true,
    recurrentActivation: 'sigmoid',
    kernelInitializer: glorot(60),
    recurrentInitializer: glorot(61),
    unitForgetBias: true,
    name: 'head_lstm',
  });
  const head = tf.layers.timeDistributed({ layer: headLstm, name: 'head' }).apply(headIn) as tf.SymbolicTensor;
  const outIn =
    c.headSkip === true ? (tf.layers.concatenate({ axis: -1, name: 'output_input' }).apply([head, repeated]) as tf.SymbolicTensor) : head;
  const out = tf.layers
    .dense({ units: V, activation: 'softmax', kernelInitializer: glorot(100), name: 'output' })
    .apply(outIn) as tf.SymbolicTensor;
  return tf.model({ inputs: [groupIn, flagsIn, prefixIn], outputs: out, name: 'music_note_lstm' });
}

/** The weight shapes of a note-step model of config `c`, in the layers model's order (embedding, step_in, each LSTM, head, output). */
export function noteWeightShapes(c: ModelConfig): number[][] {
  const E = c.embeddingDim;
  const Hh = c.headUnits ?? DEFAULT_HEAD_UNITS;
  const V = noteCodeSize(c);
  const shapes: number[][] = [[V + 2, E], [(STEP_SLOTS + LOOKBACK_SLOTS) * E, stepUnitsOf(c)], [stepUnitsOf(c)]];
  for (let l = 0; l < c.layers; l++) shapes.push([l === 0 ? stepInputDim(c) : c.units, 4 * c.units], [c.units, 4 * c.units], [4 * c.units]);
  shapes.push([c.units + E, 4 * Hh], [Hh, 4 * Hh], [4 * Hh], [Hh + (c.headSkip === true ? c.units : 0), V], [V]);
  return shapes;
}
