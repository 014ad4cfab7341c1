/**
 * A model's hyperparameters, saved with its weights (config.json's `model`):
 * the family, the sizes and the dropout, with their defaults and checks.
 */
import { checkInt, checkNumber } from '../core/check';
import { COPY_BACKS, type StepOptions } from '../tokens/steps';

/** Model hyperparameters; saved with the weights. */
export interface ModelConfig {
  /** Number of tokens (set from the vocabulary). */
  readonly vocabSize: number;
  /** Embedding width. */
  readonly embeddingDim: number;
  /** LSTM units per layer. */
  readonly units: number;
  /** Number of stacked LSTM layers. */
  readonly layers: number;
  /** Dropout on each LSTM layer's inputs, in [0, 1). */
  readonly dropout: number;
  /** Dropout on each LSTM layer's recurrent state, in [0, 1). */
  readonly recurrentDropout: number;
  /** Seed for the initial weights. */
  readonly seed: number;
  /**
   * `token` (absent in older model folders): the LSTM advances once per
   * token. `note`: once per note or bar, with a head writing the next note's
   * tokens (./note-network.ts; remi with a meter after every bar only).
   */
  readonly family?: ModelFamily;
  /** Units of the note family's head (default 128). */
  readonly headUnits?: number;
  /**
   * Width of the note family's step vector, the projection of a step's slot
   * embeddings that the LSTM stack reads. Absent in the first note-family
   * folders, which used the embedding width; new models default to the
   * LSTM units ({@link withFamilyDefaults}).
   */
  readonly stepUnits?: number;
  /** The note family's look-back (the notes 1 and 2 bars back, lib/tokens/steps.ts): false leaves it empty, to measure what it brings (default true). */
  readonly lookback?: boolean;
  /**
   * The note family's copy ids (lib/tokens/steps.ts): its head may write
   * "the note of bar −1 (or −2) from here again" as one decision. Absent in
   * older note folders (false); new note models with the look-back default
   * to true ({@link withFamilyDefaults}).
   */
  readonly copy?: boolean;
  /**
   * The note family's output layer reads the main stack's output beside the
   * head's (a skip connection), so the head's first choice of a step is read
   * straight from the main LSTM as a token model's is. Absent in older note
   * folders (false); new note models default to true ({@link withFamilyDefaults}).
   */
  readonly headSkip?: boolean;
}

/** How the LSTM steps through a piece: once per token, or once per note. */
export type ModelFamily = 'token' | 'note';

export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  vocabSize: 0,
  embeddingDim: 64,
  units: 256,
  layers: 2,
  dropout: 0.1,
  recurrentDropout: 0,
  seed: 42,
};

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateModelConfig(c: ModelConfig): ModelConfig {
  checkInt('vocabSize', c.vocabSize, 2, 100_000);
  checkInt('embeddingDim', c.embeddingDim, 1, 4096);
  checkInt('units', c.units, 1, 4096);
  checkInt('layers', c.layers, 1, 8);
  checkInt('seed', c.seed, 0, 2 ** 31 - 1);
  checkNumber('dropout', c.dropout, (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkNumber('recurrentDropout', c.recurrentDropout, (v) => v >= 0 && v < 1, 'in [0, 1)');
  if (c.family !== undefined && c.family !== 'token' && c.family !== 'note')
    throw new RangeError(`family must be "token" or "note" (got ${JSON.stringify(c.family)})`);
  if (c.headUnits !== undefined) checkInt('headUnits', c.headUnits, 1, 4096);
  if (c.stepUnits !== undefined) checkInt('stepUnits', c.stepUnits, 1, 4096);
  if (c.lookback !== undefined && typeof c.lookback !== 'boolean')
    throw new RangeError(`lookback must be true or false (got ${JSON.stringify(c.lookback)})`);
  if (c.copy !== undefined && typeof c.copy !== 'boolean')
    throw new RangeError(`copy must be true or false (got ${JSON.stringify(c.copy)})`);
  if (c.headSkip !== undefined && typeof c.headSkip !== 'boolean')
    throw new RangeError(`headSkip must be true or false (got ${JSON.stringify(c.headSkip)})`);
  if (c.copy === true && c.lookback === false)
    throw new RangeError('copy needs the look-back (it copies the look-back notes): lookback is false');
  return c;
}

/** The width of a note-family model's step vector: `stepUnits`, or the embedding width in folders that predate it. */
export function stepUnitsOf(c: ModelConfig): number {
  return c.stepUnits ?? c.embeddingDim;
}

/** How a note-family model cuts pieces into steps: with its look-back, and with copy ids. */
export function stepOptionsOf(c: ModelConfig): StepOptions {
  return { lookback: c.lookback !== false, copy: c.copy === true };
}

/** The ids a note-family model's head chooses among: the vocabulary, then its copy ids (its embedding has 2 rows more: empty slot, head start). */
export function noteCodeSize(c: ModelConfig): number {
  return c.vocabSize + (c.copy === true ? COPY_BACKS : 0);
}

/**
 * A new model's config with its family's defaults filled in: a note-family
 * model's step vector is as wide as its LSTM, its output layer reads the
 * LSTM beside the head, and it has copy ids when it has the look-back.
 */
export function withFamilyDefaults(c: ModelConfig): ModelConfig {
  if (c.family !== 'note') return c;
  return { ...c, stepUnits: c.stepUnits ?? c.units, headSkip: c.headSkip ?? true, copy: c.copy ?? c.lookback !== false };
}
