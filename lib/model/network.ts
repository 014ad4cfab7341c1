/**
 * The model: embedding → N stacked LSTM layers → softmax over the vocabulary,
 * defined as a tfjs layers model (the saved format), plus typed access to its
 * weight variables for the fast training kernel (lib/train/bptt.ts) and the
 * stateful step generator (lib/model/inference.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Vocabulary } from '../tokens/vocabulary';
import { buildNoteNet, noteWeightShapes, type NoteVars } from './note-network';
import { validateModelConfig, DEFAULT_MODEL_CONFIG, type ModelConfig } from './config';

export { DEFAULT_MODEL_CONFIG, validateModelConfig, withFamilyDefaults, type ModelConfig, type ModelFamily } from './config';

/**
 * One LSTM layer's recurrent state: the output h and the cell c. `T` is a
 * [batch, units] tensor while training and scoring in batches, or a
 * Float32Array of `units` values when stepping through one sequence.
 */
export interface LayerState<T> {
  readonly h: T;
  readonly c: T;
}

/** One LSTM layer's variables, in Keras layout and gate order (i, f, c, o). */
export interface LstmVars {
  /** [inputDim, 4·units] */
  readonly kernel: tf.Variable;
  /** [units, 4·units] */
  readonly recurrentKernel: tf.Variable;
  /** [4·units] */
  readonly bias: tf.Variable;
}

/** The model's trainable variables. */
export interface ModelVars {
  /** [vocabSize, embeddingDim] */
  readonly embedding: tf.Variable;
  readonly lstm: readonly LstmVars[];
  /** [units, vocabSize] */
  readonly outKernel: tf.Variable;
  /** [vocabSize] */
  readonly outBias: tf.Variable;
  /** The note family's step input and head (absent for the token family); the output layer is then the head's. */
  readonly note?: NoteVars;
}

/** A built model: the tfjs layers model, its config and its variables. */
export interface MusicModel {
  readonly config: ModelConfig;
  readonly net: tf.LayersModel;
  readonly vars: ModelVars;
}

/** Builds a fresh model with seeded initial weights. */
export function buildModel(config: ModelConfig): MusicModel {
  validateModelConfig(config);
  if (config.family === 'note') {
    const net = buildNoteNet(config);
    return { config, net, vars: modelVars(net, config) };
  }
  const s = config.seed;
  const net = tf.sequential({ name: 'music_lstm' });
  net.add(
    tf.layers.embedding({
      inputDim: config.vocabSize,
      outputDim: config.embeddingDim,
      batchInputShape: [null, null],
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s }),
      name: 'embedding',
    }),
  );
  for (let l = 0; l < config.layers; l++) {
    net.add(
      tf.layers.lstm({
        units: config.units,
        returnSequences: true,
        recurrentActivation: 'sigmoid',
        dropout: config.dropout,
        recurrentDropout: config.recurrentDropout,
        kernelInitializer: tf.initializers.glorotUniform({ seed: s + 1 + 2 * l }),
        recurrentInitializer: tf.initializers.glorotUniform({ seed: s + 2 + 2 * l }),
        unitForgetBias: true,
        name: `lstm_${l + 1}`,
      }),
    );
  }
  net.add(
    tf.layers.dense({
      units: config.vocabSize,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: s + 100 }),
      name: 'output',
    }),
  );
  return { config, net, vars: modelVars(net, config) };
}

/** Wraps a loaded tfjs layers model, checking that it has the expected shapes. */
export function wrapModel(net: tf.LayersModel, config: ModelConfig): MusicModel {
  return { config, net, vars: modelVars(net, config) };
}

function modelVars(net: tf.LayersModel, c: ModelConfig): ModelVars {
  const w = net.trainableWeights.map((lv) => lv.read() as tf.Variable);
  const expect: number[][] = c.family === 'note' ? noteWeightShapes(c) : [[c.vocabSize, c.embeddingDim]];
  for (let l = 0; c.family !== 'note' && l < c.layers; l++) {
    expect.push([l === 0 ? c.embeddingDim : c.units, 4 * c.units], [c.units, 4 * c.units], [4 * c.units]);
  }
  if (c.family !== 'note') expect.push([c.units, c.vocabSize], [c.vocabSize]);
  if (w.length !== expect.length) {
    throw new Error(`model has ${w.length} weight arrays, config expects ${expect.length}`);
  }
  w.forEach((v, i) => {
    if (v.shape.join('x') !== expect[i].join('x')) {
      throw new Error(`weight ${i} has shape [${v.shape}], config expects [${expect[i]}]`);
    }
  });
  const first = c.family === 'note' ? 3 : 1;
  const lstm: LstmVars[] = [];
  for (let l = 0; l < c.layers; l++) {
    lstm.push({ kernel: w[first + 3 * l], recurrentKernel: w[first + 1 + 3 * l], bias: w[first + 2 + 3 * l] });
  }
  const base = { embedding: w[0], lstm, outKernel: w[w.length - 2], outBias: w[w.length - 1] };
  if (c.family !== 'note') return base;
  const h = first + 3 * c.layers;
  return { ...base, note: { stepKernel: w[1], stepBias: w[2], head: { kernel: w[h], recurrentKernel: w[h + 1], bias: w[h + 2] } } };
}

/**
 * All variables in a fixed order, the layers model's: embedding, (note: step
 * kernel and bias,) per layer kernel/recurrent/bias, (note: the head's
 * kernel/recurrent/bias,) output kernel/bias.
 */
export function varList(v: ModelVars): tf.Variable[] {
  const stack = v.lstm.flatMap((l) => [l.kernel, l.recurrentKernel, l.bias]);
  if (!v.note) return [v.embedding, ...stack, v.outKernel, v.outBias];
  const { stepKernel, stepBias, head } = v.note;
  return [v.embedding, stepKernel, stepBias, ...stack, head.kernel, head.recurrentKernel, head.bias, v.outKernel, v.outBias];
}

/** Number of trainable parameters. */
export function parameterCount(m: MusicModel): number {
  return varList(m.vars).reduce((a, v) => a + v.size, 0);
}

/** A short text summary: one line per layer with output shape and parameter count. */
export function layerTable(m: MusicModel): string {
  const lines: string[] = [];
  m.net.summary(100, undefined, (line: string) => lines.push(line));
  return lines.join('\n');
}

/** A fresh model sized for the vocabulary. */
export function newModel(vocab: Vocabulary, config: Partial<ModelConfig> = {}): MusicModel {
  return buildModel({ ...DEFAULT_MODEL_CONFIG, ...config, vocabSize: vocab.tokens.length });
}
