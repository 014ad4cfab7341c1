/**
 * Training hyperparameters: one typed object with defaults, validated, saved
 * beside the weights. (Model, tokenizer, dataset and sampling settings live
 * with their own modules.)
 */

/** How training runs. */
export interface TrainConfig {
  /** Maximum number of passes over the training windows. */
  readonly epochs: number;
  /** Windows per batch. */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly learningRate: number;
  /** Gradients are scaled down when their global norm exceeds this (0 = off). */
  readonly clipNorm: number;
  /** Stop after this many epochs without a better validation loss (0 = never). */
  readonly patience: number;
  /** Seed for shuffling and dropout. */
  readonly seed: number;
  /** Seconds between mid-epoch checkpoints (0 = only at epoch ends). */
  readonly checkpointEverySec: number;
  /** Cap on validation windows evaluated per epoch (0 = all). */
  readonly maxValWindows: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 20,
  batchSize: 32,
  learningRate: 0.002,
  clipNorm: 5,
  patience: 3,
  seed: 1234,
  checkpointEverySec: 120,
  maxValWindows: 2048,
};

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateTrainConfig(c: TrainConfig): TrainConfig {
  const int = (name: keyof TrainConfig, lo: number, hi: number): void => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${String(v)})`);
    }
  };
  int('epochs', 1, 100_000);
  int('batchSize', 1, 4096);
  int('patience', 0, 100_000);
  int('seed', 0, 2 ** 31 - 1);
  int('maxValWindows', 0, 10_000_000);
  const num = (name: keyof TrainConfig, ok: (v: number) => boolean, range: string): void => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${name} must be ${range} (got ${String(v)})`);
  };
  num('learningRate', (v) => v > 0 && v <= 1, 'in (0, 1]');
  num('clipNorm', (v) => v >= 0, '≥ 0 (0 = off)');
  num('checkpointEverySec', (v) => v >= 0, '≥ 0 (0 = only at epoch ends)');
  return c;
}

/** One epoch's figures, as kept in the training history. */
export interface EpochRecord {
  readonly epoch: number;
  /** Mean training loss (nats per token) over the epoch. */
  readonly trainLoss: number;
  /** Validation loss (nats per token). */
  readonly valLoss: number;
  /** exp(valLoss). */
  readonly valPerplexity: number;
  /** Wall time of the epoch in seconds. */
  readonly seconds: number;
  /** Supervised tokens per second while training. */
  readonly tokensPerSec: number;
}
