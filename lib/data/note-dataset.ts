/**
 * Training data for the note-step family (lib/model/note-network.ts): each
 * piece cut into steps once (lib/tokens/steps.ts), windows of `seqLen`
 * steps, and batches that give, for every step of a window, its slots (its
 * tokens and its look-back) and flags as input, and the next step's tokens as
 * the head's targets, with the head's teacher-forced prefix beside them.
 * Every token after a piece's first step is a target exactly once over the
 * windows of stride seqLen, so the loss is per token like the token family's.
 */
import { createRng, deriveSeed, shuffled } from '../core/rng';
import { LOOKBACK_FLAGS, LOOKBACK_SLOTS, padId, startId, STEP_SLOTS, toSteps, type StepOptions, type Steps } from '../tokens/steps';
import type { Vocabulary } from '../tokens/vocabulary';
import { windowsOver, type EncodedPiece, type WindowRef } from './dataset';

/** Slots of a step's input: its tokens, then its look-back. */
export const INPUT_SLOTS = STEP_SLOTS + LOOKBACK_SLOTS;

/** A piece cut into steps. */
export interface SteppedPiece {
  readonly name: string;
  readonly steps: Steps;
  /** How it was cut (the pad and start ids depend on it). */
  readonly options: StepOptions;
}

/** A batch of step windows; every array is row-major, `[b][t][slot]`. */
export interface NoteBatch {
  readonly batchSize: number;
  /** Steps per window. */
  readonly seqLen: number;
  /** [B·T·INPUT_SLOTS] token ids of each step's slots (pad where empty). */
  readonly group: Int32Array;
  /** [B·T·LOOKBACK_FLAGS] look-back flags after each step. */
  readonly flags: Float32Array;
  /** [B·T·STEP_SLOTS] the head's input at each slot: the start id, then the next step's tokens but its last. */
  readonly prefix: Int32Array;
  /** [B·T·STEP_SLOTS] the next step's tokens, −1 where there is none (not scored). */
  readonly targets: Int32Array;
  /** Targets that are tokens (not −1). */
  readonly tokens: number;
}

/** Cuts encoded remi pieces into steps (once, for every epoch), as `options` say (a model's: model/config.ts stepOptionsOf). */
export function stepPieces(vocab: Vocabulary, pieces: readonly EncodedPiece[], options: StepOptions): SteppedPiece[] {
  return pieces.map((p) => ({ name: p.name, steps: toSteps(vocab, p.ids, options), options }));
}

/**
 * Window starts for pieces of more than `seqLen` steps (a window of T steps
 * predicts steps 1..T after its start); the last window of a piece is
 * aligned to its end.
 */
export function noteWindowIndex(pieces: readonly SteppedPiece[], seqLen: number, stride: number): WindowRef[] {
  return windowsOver(pieces.map((p) => p.steps.count), seqLen, stride);
}

/** Builds the batch of the windows `refs` (see {@link NoteBatch}). */
export function noteBatch(vocab: Vocabulary, pieces: readonly SteppedPiece[], refs: readonly WindowRef[], seqLen: number): NoteBatch {
  const B = refs.length;
  const T = seqLen;
  const group = new Int32Array(B * T * INPUT_SLOTS);
  const flags = new Float32Array(B * T * LOOKBACK_FLAGS);
  const prefix = new Int32Array(B * T * STEP_SLOTS);
  const targets = new Int32Array(B * T * STEP_SLOTS).fill(-1);
  let tokens = 0;
  refs.forEach((r, b) => {
    const { steps: s, options } = pieces[r.piece];
    const pad = padId(vocab, options);
    const start = startId(vocab, options);
    for (let t = 0; t < T; t++) {
      const step = r.start + t;
      const row = b * T + t;
      group.set(s.groups.subarray(step * STEP_SLOTS, (step + 1) * STEP_SLOTS), row * INPUT_SLOTS);
      group.set(s.lookback.subarray(step * LOOKBACK_SLOTS, (step + 1) * LOOKBACK_SLOTS), row * INPUT_SLOTS + STEP_SLOTS);
      flags.set(s.flags.subarray(step * LOOKBACK_FLAGS, (step + 1) * LOOKBACK_FLAGS), row * LOOKBACK_FLAGS);
      const next = s.groups.subarray((step + 1) * STEP_SLOTS, (step + 2) * STEP_SLOTS);
      const length = s.lengths[step + 1];
      for (let j = 0; j < STEP_SLOTS; j++) {
        prefix[row * STEP_SLOTS + j] = j === 0 ? start : j <= length ? next[j - 1] : pad;
        if (j < length) targets[row * STEP_SLOTS + j] = next[j];
      }
      tokens += length;
    }
  });
  return { batchSize: B, seqLen: T, group, flags, prefix, targets, tokens };
}

/** Rows [from, from + rows) of a batch as a batch of their own, its `tokens` counted anew (a thread's share, lib/train/parallel.ts). */
export function noteBatchRows(batch: NoteBatch, from: number, rows: number): NoteBatch {
  const cut = <A extends { slice(start: number, end: number): A }>(x: A, perStep: number): A => x.slice(from * batch.seqLen * perStep, (from + rows) * batch.seqLen * perStep);
  const targets = cut(batch.targets, STEP_SLOTS);
  const tokens = targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
  return { batchSize: rows, seqLen: batch.seqLen, group: cut(batch.group, INPUT_SLOTS), flags: cut(batch.flags, LOOKBACK_FLAGS), prefix: cut(batch.prefix, STEP_SLOTS), targets, tokens };
}

/** Yields batches over the windows, shuffled by (seed, epoch) when `shuffle` is set; the last may be smaller. Each is built when asked for. */
export function* noteBatches(
  vocab: Vocabulary,
  pieces: readonly SteppedPiece[],
  index: readonly WindowRef[],
  seqLen: number,
  batchSize: number,
  opts: { readonly shuffle: boolean; readonly seed: number; readonly epoch: number },
): Generator<NoteBatch> {
  const order = opts.shuffle ? shuffled(index, createRng(deriveSeed(opts.seed, opts.epoch))) : index;
  for (let b = 0; b < order.length; b += batchSize) yield noteBatch(vocab, pieces, order.slice(b, b + batchSize), seqLen);
}
