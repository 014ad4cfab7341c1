/**
 * What one training run iterates, whatever the model family: an epoch's
 * batches (shuffled windows, or streams whose state is carried over), the
 * validation batches, and for each batch its loss and gradients or its loss
 * alone. The token family's windows are of `seqLen` tokens; the note family's
 * (lib/model/note-network.ts) of `seqLen` steps, a note or a bar each.
 */
import { UserError } from '../core/errors';
import { createRng, shuffled } from '../core/rng';
import {
  batches,
  streamBatchCount,
  streamBatches,
  windowIndex,
  type Batch,
  type DatasetConfig,
  type EncodedPiece,
  type StreamBatch,
  type WindowRef,
} from '../data/dataset';
import { epochOrder, limitedOrder, streamedBatches, windowTable, type StreamPieces } from '../data/stream-windows';
import { noteBatches, noteWindowIndex, stepPieces, type NoteBatch } from '../data/note-dataset';
import type { Transposer } from '../data/transpose';
import { batchLoss } from '../model/forward';
import { stepOptionsOf } from '../model/config';
import { noteBatchLoss } from '../model/note-forward';
import type { ModelConfig, ModelVars } from '../model/network';
import type { TrainConfig } from '../store/train-config';
import type { Vocabulary } from '../tokens/vocabulary';
import { lossAndGradients, type BatchGradients, type BatchStateArrays, type DropoutSpec } from './bptt';
import { noteLossAndGradients } from './note-bptt';
import type { GradientWorkers } from './parallel';

/** One batch of either family. */
export type TrainingBatch =
  { readonly family: 'token'; readonly batch: Batch | StreamBatch } | { readonly family: 'note'; readonly batch: NoteBatch };

/** An epoch's and the validation's batches of one run. */
export interface RunBatches {
  /** Batches in a training epoch. */
  readonly perEpoch: number;
  /** Supervised tokens in a full batch (for time estimates). */
  readonly batchTokens: number;
  readonly train: (epoch: number) => Iterable<TrainingBatch>;
  /** Validation windows (0 = no validation: the training loss stands in). */
  readonly valWindows: number;
  readonly val: () => Iterable<TrainingBatch>;
}

/** What a run's batches are made from. */
interface BatchSource {
  readonly config: ModelConfig;
  readonly vocab: Vocabulary;
  readonly train: readonly EncodedPiece[];
  readonly val: readonly EncodedPiece[];
  readonly dataset: DatasetConfig;
  /** The token family's windows read from a prepared folder's shards (then `train` and `val` are empty). */
  readonly streamed?: StreamedData;
}

/** Training and validation pieces in a prepared folder's shards, and which ids transposition may move (lib/data/stream-windows.ts). */
export interface StreamedData {
  readonly train: StreamPieces;
  readonly val: StreamPieces;
  readonly pitched: Uint8Array;
}

const tagged = function* <B>(family: 'token' | 'note', items: Iterable<B>): Generator<TrainingBatch> {
  for (const batch of items) yield { family, batch } as TrainingBatch;
};

/** Validation windows: at most `max` (0 = all), a seeded choice. */
function limitWindows(index: readonly WindowRef[], max: number, seed: number): WindowRef[] {
  if (max <= 0 || index.length <= max) return [...index];
  return shuffled(index, createRng(seed ^ 0x5eed)).slice(0, max);
}

/** The batches of a run (see the file comment); a one-line UserError when the data holds no window, or a setting does not fit the family. */
export function runBatches(src: BatchSource, cfg: TrainConfig, transposer?: Transposer): RunBatches {
  const { seqLen, stride } = src.dataset;
  const seed = cfg.seed;
  if (src.config.family === 'note') {
    if (src.vocab.config.scheme !== 'remi' || !src.vocab.config.meterEveryBar)
      throw new UserError(
        `the note family needs remi tokens with a meter after every bar (--scheme remi --meter every-bar; got ` +
          `${src.vocab.config.scheme}${src.vocab.config.scheme === 'remi' ? ' with the meter only where it changes' : ''})`,
      );
    if (cfg.carryState)
      throw new UserError(
        "carryState is not available for the note family yet: its windows are already about 3.5 times longer than the token family's",
      );
    if (transposer) throw new UserError('transposeRange is not available for the note family yet');
    const options = stepOptionsOf(src.config);
    const train = stepPieces(src.vocab, src.train, options);
    const val = stepPieces(src.vocab, src.val, options);
    const index = noteWindowIndex(train, seqLen, stride);
    if (index.length === 0)
      throw new UserError(
        `seqLen ${seqLen} is too long: the longest training piece has ${Math.max(0, ...train.map((p) => p.steps.count))} steps (need seqLen + 1)`,
      );
    const valIndex = limitWindows(noteWindowIndex(val, seqLen, seqLen), cfg.maxValWindows, seed);
    // A step holds about 3.5 tokens on piano-midi: the training data's own mean sets the time estimates.
    const tokensPerStep =
      src.train.reduce((n, p) => n + p.ids.length, 0) /
      Math.max(
        1,
        train.reduce((n, p) => n + p.steps.count, 0),
      );
    return {
      perEpoch: Math.ceil(index.length / cfg.batchSize),
      batchTokens: cfg.batchSize * seqLen * tokensPerStep,
      train: (epoch) => tagged('note', noteBatches(src.vocab, train, index, seqLen, cfg.batchSize, { shuffle: true, seed, epoch })),
      valWindows: valIndex.length,
      val: () => tagged('note', noteBatches(src.vocab, val, valIndex, seqLen, cfg.batchSize, { shuffle: false, seed: 0, epoch: 0 })),
    };
  }
  if (src.streamed) return streamedRunBatches(src.streamed, src.dataset, cfg, transposer);
  const index = windowIndex(src.train, seqLen, stride);
  if (index.length === 0) {
    const longest = Math.max(0, ...src.train.map((p) => p.ids.length));
    throw new UserError(`seqLen ${seqLen} is too long: the longest training piece has ${longest} tokens (need seqLen + 1)`);
  }
  const valIndex = limitWindows(windowIndex(src.val, seqLen, seqLen), cfg.maxValWindows, seed);
  const perEpoch = cfg.carryState ? streamBatchCount(src.train, seqLen, cfg.batchSize) : Math.ceil(index.length / cfg.batchSize);
  if (perEpoch === 0)
    throw new UserError(
      `carryState: the training pieces hold fewer windows of ${seqLen} tokens than a batch of ${cfg.batchSize} streams: lower the batch size or seqLen`,
    );
  return {
    perEpoch,
    batchTokens: cfg.batchSize * seqLen,
    train: (epoch) =>
      tagged(
        'token',
        cfg.carryState
          ? streamBatches(src.train, seqLen, cfg.batchSize, { seed, epoch, transposer })
          : batches(src.train, index, seqLen, cfg.batchSize, { shuffle: true, seed, epoch, transposer }),
      ),
    valWindows: valIndex.length,
    val: () => tagged('token', batches(src.val, valIndex, seqLen, cfg.batchSize, { shuffle: false, seed: 0, epoch: 0 })),
  };
}

/** The token family's batches read from the shards: the same windows, shuffles and transpositions as in memory. */
function streamedRunBatches(s: StreamedData, dataset: DatasetConfig, cfg: TrainConfig, transposer?: Transposer): RunBatches {
  const { seqLen, stride } = dataset;
  if (cfg.carryState) throw new UserError('carryState reads whole pieces in order: load the prepared pieces in memory for it');
  const table = windowTable(s.train, seqLen, stride);
  if (table.count === 0)
    throw new UserError(
      `seqLen ${seqLen} is too long: the longest training piece has ${Math.max(0, ...s.train.length)} tokens (need seqLen + 1)`,
    );
  const valTable = windowTable(s.val, seqLen, seqLen);
  const valOrder = limitedOrder(valTable.count, cfg.maxValWindows, cfg.seed);
  const pitched = s.pitched;
  return {
    perEpoch: Math.ceil(table.count / cfg.batchSize),
    batchTokens: cfg.batchSize * seqLen,
    train: (epoch) =>
      tagged(
        'token',
        streamedBatches(table, epochOrder(table.count, cfg.seed, epoch), cfg.batchSize, { seed: cfg.seed, epoch, transposer, pitched }),
      ),
    valWindows: valOrder.length,
    val: () => tagged('token', streamedBatches(valTable, valOrder, cfg.batchSize, { seed: 0, epoch: 0 })),
  };
}

/** Supervised tokens in a batch. */
export function batchTokenCount(b: TrainingBatch): number {
  return b.family === 'note' ? b.batch.tokens : b.batch.batchSize * b.batch.seqLen;
}

/** Loss and gradients of a batch, on the worker threads when there are some (either family), from `init` when the token family's state is carried. */
export async function batchGradients(
  vars: ModelVars,
  b: TrainingBatch,
  drop: DropoutSpec,
  workers: GradientWorkers | null,
  init?: BatchStateArrays,
): Promise<BatchGradients> {
  if (b.family === 'note') return workers ? workers.noteLossAndGradients(vars, b.batch, drop) : noteLossAndGradients(vars, b.batch, drop);
  return workers ? workers.lossAndGradients(vars, b.batch, drop, init) : lossAndGradients(vars, b.batch, drop, init);
}

/** A batch's mean loss per token without dropout, and the weight it has in a mean over batches (rows, or tokens for the note family). */
export function batchLossAndWeight(vars: ModelVars, b: TrainingBatch): { readonly loss: number; readonly weight: number } {
  if (b.family === 'note') return { loss: noteBatchLoss(vars, b.batch), weight: b.batch.tokens };
  return { loss: batchLoss(vars, b.batch), weight: b.batch.batchSize };
}
