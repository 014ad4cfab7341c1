/**
 * The notebook's settings: the flat hyperparameters of its one settings cell,
 * expanded into the configs of the stages it calls (tokenizer, dataset, model,
 * training, generation), whose defaults fill in the rest.
 *
 * Automated runs (scripts/run-notebook.sh, tests/notebook.test.ts) set
 * MUSICGEN_QUICK=1; {@link notebookConfig} then shrinks the data, the model
 * and the training so the whole notebook runs in a minute, and says so in one
 * line. The settings cell itself holds only the user's values.
 */
import { DEFAULT_DATASET_CONFIG, type DatasetConfig } from '../data/dataset';
import { DEFAULT_PRIMER_LENGTH } from '../generate/primer';
import { DEFAULT_SAMPLING_CONFIG, type SamplingConfig } from '../generate/sample';
import { DEFAULT_RUN_SETTINGS, type GenerationSettings } from '../generate/settings';
import { DEFAULT_MODEL_CONFIG, withFamilyDefaults, type ModelConfig, type ModelFamily } from '../model/network';
import { defaultTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../store/train-config';

/** The hyperparameters of the notebook's settings cell, flat and easy to edit. */
export interface Hyperparameters {
  /** Folder(s) of MIDI files to learn from. */
  readonly dataFolder: string | readonly string[];
  /** Use at most this many files (0 = all). */
  readonly maxFiles: number;
  /** Tokenization: 'remi' (the default), 'timed' (notes and their timings) or 'classic'; each with its own defaults. */
  readonly scheme: TokenizerConfig['scheme'];
  /**
   * How the LSTM steps through a piece: 'token' (once per token) or 'note'
   * (once per note or bar, with a head writing the note's tokens; remi only).
   * Optional: a settings cell without it trains the token family.
   */
  readonly family?: ModelFamily;
  /** Steps per training window: tokens for the token family, notes and bars for the note family. */
  readonly seqLen: number;
  readonly embeddingDim: number;
  readonly units: number;
  readonly layers: number;
  readonly dropout: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Max semitones of random transposition of each training window, either way (0 = off; remi only). */
  readonly transposeRange: number;
  /** Sampling temperature (> 0). */
  readonly temperature: number;
  /** Nucleus sampling threshold in (0, 1]. */
  readonly topP: number;
  /** Events to generate: notes (remi) or notes and chords (timed, classic). */
  readonly length: number;
  /** Seed for the split, the initial weights, training and sampling. */
  readonly seed: number;
  /** Open a live loss chart in the browser (nodeplotlib) while training. */
  readonly livePlot: boolean;
}

/** Every stage's settings, as the notebook's cells pass them to the library. */
export interface NotebookConfig {
  readonly dataFolders: readonly string[];
  /** Use at most this many files (0 = all). */
  readonly maxFiles: number;
  readonly tokenizer: TokenizerConfig;
  readonly dataset: DatasetConfig;
  readonly model: Omit<ModelConfig, 'vocabSize'>;
  readonly training: TrainConfig;
  /** How the notebook's model generates; its sampling is complete (the settings cell gives the temperature and top-p). */
  readonly generation: GenerationSettings & { readonly sampling: SamplingConfig };
  /** Tokens of primer the generation cell takes from the data. */
  readonly primerLength: number;
  /** Where the notebook's own model is saved (relative to the project root). */
  readonly modelDir: string;
  readonly livePlot: boolean;
}

/** What a quick run (MUSICGEN_QUICK=1) changes: a few files, a small model, one epoch. */
const QUICK_RUN: Partial<Hyperparameters> = { maxFiles: 12, units: 32, epochs: 1 };

/**
 * Expands the hyperparameters into every stage's config. With MUSICGEN_QUICK=1
 * in `env` the {@link QUICK_RUN} overrides apply first, and one line says so.
 */
export function notebookConfig(hyperparameters: Hyperparameters, env: NodeJS.ProcessEnv = process.env): NotebookConfig {
  let hp = hyperparameters;
  if (env.MUSICGEN_QUICK === '1') {
    hp = { ...hp, ...QUICK_RUN };
    const changes = Object.entries(QUICK_RUN).map(([k, v]) => `${k} ${String(v)}`);
    console.log(`MUSICGEN_QUICK=1 (automated quick run): using ${changes.join(', ')} instead of the values above`);
  }
  if (hp.transposeRange > 0 && hp.scheme !== 'remi') {
    throw new RangeError(`transposeRange needs scheme 'remi' (one pitch per token); set transposeRange: 0 for scheme '${hp.scheme}'`);
  }
  return {
    dataFolders: typeof hp.dataFolder === 'string' ? [hp.dataFolder] : hp.dataFolder,
    maxFiles: hp.maxFiles,
    tokenizer: defaultTokenizerConfig(hp.scheme),
    dataset: { ...DEFAULT_DATASET_CONFIG, seqLen: hp.seqLen, stride: Math.max(1, Math.floor(hp.seqLen / 2)), seed: hp.seed },
    model: withFamilyDefaults({
      ...DEFAULT_MODEL_CONFIG,
      family: hp.family ?? 'token',
      embeddingDim: hp.embeddingDim,
      units: hp.units,
      layers: hp.layers,
      dropout: hp.dropout,
      seed: hp.seed,
    }),
    training: {
      ...DEFAULT_TRAIN_CONFIG,
      epochs: hp.epochs,
      batchSize: hp.batchSize,
      learningRate: hp.learningRate,
      transposeRange: hp.transposeRange,
      seed: hp.seed,
    },
    generation: {
      sampling: { ...DEFAULT_SAMPLING_CONFIG, temperature: hp.temperature, topP: hp.topP },
      controls: {},
      run: { ...DEFAULT_RUN_SETTINGS, length: hp.length, seed: hp.seed },
    },
    primerLength: DEFAULT_PRIMER_LENGTH,
    modelDir: 'models/notebook',
    livePlot: hp.livePlot,
  };
}
