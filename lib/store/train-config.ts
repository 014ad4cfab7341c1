/**
 * Training hyperparameters: one typed object with defaults, validated, saved
 * beside the weights. (Model, tokenizer, dataset and sampling settings live
 * with their own modules.)
 */
import { checkInt, checkIsNumber, checkNumber } from '../core/check';

/** How training runs. */
export interface TrainConfig {
  /** Maximum number of passes over the training windows. */
  readonly epochs: number;
  /** Windows per batch. */
  readonly batchSize: number;
  /** Adam learning rate at the start. */
  readonly learningRate: number;
  /** The learning rate is multiplied by this after each epoch that does not improve the validation loss (1 = constant). */
  readonly lrDecay: number;
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
  /**
   * Threads computing gradients on the JavaScript backends, each on a share of
   * every batch (0 = one per core, at most 8; 1 = main thread only). The
   * native backend uses every core by itself and ignores this.
   */
  readonly threads: number;
  /**
   * Random pitch transposition of each training window, up to this many
   * semitones either way (0 = off). Needs the remi scheme; drums never move.
   */
  readonly transposeRange: number;
  /**
   * Wall-time budget in minutes over the whole run, resumes included (0 = none).
   * When it is used up, the epoch under way ends early: it is validated and
   * saved like any other, and training stops. A later --resume with a larger
   * budget goes on with the next epoch.
   */
  readonly maxMinutes: number;
  /**
   * Carry the LSTM state from each training window to the next window of
   * its piece (truncated backpropagation through time, as in Keras stateful
   * RNNs and AWD-LSTM): the model learns to go on from states as deep as a
   * long generation's, not only from zeros. Windows are then consecutive
   * (stride seqLen) and the batches streams of pieces (lib/data/dataset.ts
   * streamBatches). Validation still reads windows from zeros, so losses
   * compare with runs without it.
   */
  readonly carryState: boolean;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 20,
  batchSize: 32,
  learningRate: 0.002,
  lrDecay: 0.5,
  clipNorm: 5,
  patience: 3,
  seed: 1234,
  checkpointEverySec: 120,
  maxValWindows: 2048,
  threads: 0,
  transposeRange: 0,
  maxMinutes: 0,
  carryState: false,
};

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateTrainConfig(c: TrainConfig): TrainConfig {
  checkInt('epochs', c.epochs, 1, 100_000);
  checkInt('batchSize', c.batchSize, 1, 4096);
  checkInt('patience', c.patience, 0, 100_000);
  checkInt('seed', c.seed, 0, 2 ** 31 - 1);
  checkInt('maxValWindows', c.maxValWindows, 0, 10_000_000);
  checkInt('threads', c.threads, 0, 64);
  checkInt('transposeRange', c.transposeRange, 0, 24);
  checkNumber('learningRate', c.learningRate, (v) => v > 0 && v <= 1, 'in (0, 1]');
  checkNumber('lrDecay', c.lrDecay, (v) => v > 0 && v <= 1, 'in (0, 1] (1 = constant learning rate)');
  checkNumber('clipNorm', c.clipNorm, (v) => v >= 0, '≥ 0 (0 = off)');
  checkNumber('maxMinutes', c.maxMinutes, (v) => v >= 0, '≥ 0 (0 = no limit)');
  checkNumber('checkpointEverySec', c.checkpointEverySec, (v) => v >= 0, '≥ 0 (0 = only at epoch ends)');
  if (typeof c.carryState !== 'boolean') throw new RangeError(`carryState must be true or false (got ${JSON.stringify(c.carryState)})`);
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
  /** Learning rate used in the epoch (absent in histories written before it was recorded). */
  readonly learningRate?: number;
}

/**
 * Checks one saved history entry field by field (history.json, a checkpoint's
 * history); throws a RangeError naming the field, e.g. "trainLoss must be a
 * number (got "2.4")". `learningRate` is optional: older histories lack it.
 */
export function validateEpochRecord(r: EpochRecord): EpochRecord {
  checkInt('epoch', checkIsNumber('epoch', r.epoch), 1, 100_000);
  checkNumber('trainLoss', checkIsNumber('trainLoss', r.trainLoss), (v) => v >= 0, '≥ 0');
  checkNumber('valLoss', checkIsNumber('valLoss', r.valLoss), (v) => v >= 0, '≥ 0');
  checkNumber('valPerplexity', checkIsNumber('valPerplexity', r.valPerplexity), (v) => v >= 1, '≥ 1');
  checkNumber('seconds', checkIsNumber('seconds', r.seconds), (v) => v >= 0, '≥ 0');
  checkNumber('tokensPerSec', checkIsNumber('tokensPerSec', r.tokensPerSec), (v) => v >= 0, '≥ 0');
  if (r.learningRate !== undefined)
    checkNumber('learningRate', checkIsNumber('learningRate', r.learningRate), (v) => v > 0 && v <= 1, 'in (0, 1]');
  return r;
}
