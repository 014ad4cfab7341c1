/**
 * Training data: token-id sequences per piece, split into train and
 * validation sets by file, cut into windows of `seqLen` tokens with the
 * next-token target at every position (sequence-to-sequence), and served as
 * lazily built batches — only the window index lives in memory, never an
 * N×T×V one-hot array.
 */
import type { Piece } from '../core/piece';
import { createRng, deriveSeed, shuffled } from '../core/rng';
import { decodeIds, encodePiece, type Vocabulary } from '../tokens/vocabulary';
import { transposeWindow, windowSeed, type Transposer } from './transpose';
import { pitchedPositions } from '../tokens/token';
import { checkInt, checkNumber } from '../core/check';

/** One piece as token ids. */
export interface EncodedPiece {
  readonly name: string;
  readonly ids: Int32Array;
  /** 1 at the positions of pitched (not drum) notes, which transposition may move. */
  readonly pitched?: Uint8Array;
}

/** Dataset settings. */
export interface DatasetConfig {
  /** Tokens per training window. */
  readonly seqLen: number;
  /** Tokens between the starts of consecutive windows of a piece. */
  readonly stride: number;
  /** Fraction of files held out for validation. */
  readonly valFraction: number;
  /** Seed for the split and the shuffles. */
  readonly seed: number;
}

export const DEFAULT_DATASET_CONFIG: DatasetConfig = { seqLen: 64, stride: 32, valFraction: 0.1, seed: 1234 };

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateDatasetConfig(d: DatasetConfig): DatasetConfig {
  checkInt('seqLen', d.seqLen, 2, 10_000);
  checkInt('stride', d.stride, 1, 10_000);
  checkNumber('valFraction', d.valFraction, (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkInt('seed', d.seed, 0, 2 ** 31 - 1);
  return d;
}

/** Where one window starts. */
export interface WindowRef {
  readonly piece: number;
  readonly start: number;
}

/** A batch: `inputs[b*seqLen + t]` and `targets[...]` (the next token). */
export interface Batch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
}

/** Encodes pieces with the vocabulary (unknown symbols: nearest known), marking pitched positions for transposition. */
export function encodePieces(vocab: Vocabulary, pieces: readonly Piece[]): EncodedPiece[] {
  return pieces.map((p) => {
    const ids = Int32Array.from(encodePiece(vocab, p));
    return { name: p.name, ids, pitched: pitchedPositions(decodeIds(vocab, ids)) };
  });
}

/**
 * Splits pieces by file: a file goes to validation when a seeded hash of its
 * name falls below `valFraction`, so no file is in both sets and a file's side
 * does not change when other files are added or removed. Validation gets at
 * least one file when there are two or more.
 */
export function splitByFile<T extends { readonly name: string }>(
  pieces: readonly T[],
  valFraction: number,
  seed: number,
): { train: T[]; val: T[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1) (got ${valFraction})`);
  const u = pieces.map((p) => hashName(p.name, seed) / 4294967296);
  const isVal = u.map((x) => x < valFraction);
  if (valFraction > 0 && pieces.length >= 2 && !isVal.includes(true)) isVal[u.indexOf(Math.min(...u))] = true;
  return { train: pieces.filter((_, i) => !isVal[i]), val: pieces.filter((_, i) => isVal[i]) };
}

/** FNV-1a of a string, mixed with a seed (32-bit). */
function hashName(name: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return deriveSeed(h, seed);
}

/**
 * Window starts for pieces long enough (≥ seqLen + 1 tokens); the last window
 * of a piece is aligned to its end so no tail is lost.
 */
export function windowIndex(pieces: readonly EncodedPiece[], seqLen: number, stride: number): WindowRef[] {
  return windowsOver(pieces.map((p) => p.ids.length), seqLen, stride);
}

/**
 * Window starts over sequences of the given lengths (tokens, or the note
 * family's steps): windows of seqLen inputs, each with its next-item target,
 * `stride` apart, the last one aligned to the sequence's end.
 */
export function windowsOver(lengths: readonly number[], seqLen: number, stride: number): WindowRef[] {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new RangeError(`seqLen must be an integer ≥ 2 (got ${seqLen})`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be an integer ≥ 1 (got ${stride})`);
  const out: WindowRef[] = [];
  lengths.forEach((length, piece) => {
    const last = length - seqLen - 1;
    if (last < 0) return;
    let start = 0;
    for (; start <= last; start += stride) out.push({ piece, start });
    if (start - stride < last) out.push({ piece, start: last });
  });
  return out;
}

/**
 * Yields batches over the windows, shuffled by (seed, epoch) when `shuffle`
 * is set, each window transposed when a `transposer` is given. The last batch
 * may be smaller. Each batch is built when asked for.
 */
export function* batches(
  pieces: readonly EncodedPiece[],
  index: readonly WindowRef[],
  seqLen: number,
  batchSize: number,
  opts: { readonly shuffle: boolean; readonly seed: number; readonly epoch: number; readonly transposer?: Transposer },
): Generator<Batch> {
  const order = opts.shuffle ? shuffled(index, createRng(deriveSeed(opts.seed, opts.epoch))) : index;
  for (let b = 0; b < order.length; b += batchSize) {
    const refs = order.slice(b, b + batchSize);
    const inputs = new Int32Array(refs.length * seqLen);
    const targets = new Int32Array(refs.length * seqLen);
    refs.forEach((r, k) => {
      const piece = pieces[r.piece];
      let ids = piece.ids.subarray(r.start, r.start + seqLen + 1);
      if (opts.transposer && opts.transposer.maxSemitones > 0 && piece.pitched) {
        ids = ids.slice();
        transposeWindow(opts.transposer, ids, piece.pitched.subarray(r.start, r.start + seqLen + 1), windowSeed(opts.seed, opts.epoch, r.piece, r.start));
      }
      inputs.set(ids.subarray(0, seqLen), k * seqLen);
      targets.set(ids.subarray(1, seqLen + 1), k * seqLen);
    });
    yield { batchSize: refs.length, seqLen, inputs, targets };
  }
}

/** A batch whose rows go on from the rows of the batch before it (training with the LSTM state carried over). */
export interface StreamBatch extends Batch {
  /** 1 for a row whose window does not follow the one the same row held in the batch before (its state starts from zeros). */
  readonly fresh: Uint8Array;
}

/** The consecutive windows (stride seqLen) of each piece, pieces in a seeded order: a piece's tail shorter than a window is left out. */
function streamWindows(pieces: readonly EncodedPiece[], seqLen: number, seed: number, epoch: number): WindowRef[] {
  const order = shuffled(pieces.map((_, i) => i), createRng(deriveSeed(seed ^ 0x57e4, epoch)));
  const out: WindowRef[] = [];
  for (const piece of order) for (let start = 0; start + seqLen + 1 <= pieces[piece].ids.length; start += seqLen) out.push({ piece, start });
  return out;
}

/** Batches {@link streamBatches} yields in an epoch: the windows dealt into `batchSize` streams of equal length. */
export function streamBatchCount(pieces: readonly EncodedPiece[], seqLen: number, batchSize: number): number {
  return Math.floor(pieces.reduce((n, p) => n + Math.max(0, Math.floor((p.ids.length - 1) / seqLen)), 0) / batchSize);
}

/**
 * Batches for training with the state carried from one window to the next
 * (truncated backpropagation through time, as in Keras's stateful RNNs and
 * AWD-LSTM): the pieces, in an order shuffled by (seed, epoch), are cut into
 * consecutive windows of `seqLen` tokens, laid end to end and dealt into
 * `batchSize` streams of equal length (the last few windows left over are
 * left out); row b of each batch is the next window of stream b. A row whose
 * window does not follow its row's window in the batch before is `fresh`.
 * With a `transposer`, every window of a piece moves by the same shift in an
 * epoch (drawn for the piece's first window), so a carried state always saw
 * the same key.
 */
export function* streamBatches(
  pieces: readonly EncodedPiece[],
  seqLen: number,
  batchSize: number,
  opts: { readonly seed: number; readonly epoch: number; readonly transposer?: Transposer },
): Generator<StreamBatch> {
  const windows = streamWindows(pieces, seqLen, opts.seed, opts.epoch);
  const perStream = Math.floor(windows.length / batchSize);
  const moved = new Map<number, Int32Array>();
  const idsOf = (piece: number): Int32Array => {
    const p = pieces[piece];
    if (!opts.transposer || opts.transposer.maxSemitones <= 0 || !p.pitched) return p.ids;
    let ids = moved.get(piece);
    if (!ids) {
      ids = p.ids.slice();
      transposeWindow(opts.transposer, ids, p.pitched, windowSeed(opts.seed, opts.epoch, piece, 0));
      moved.set(piece, ids);
    }
    return ids;
  };
  for (let i = 0; i < perStream; i++) {
    const inputs = new Int32Array(batchSize * seqLen);
    const targets = new Int32Array(batchSize * seqLen);
    const fresh = new Uint8Array(batchSize);
    for (let b = 0; b < batchSize; b++) {
      const w = windows[b * perStream + i];
      const before = i > 0 ? windows[b * perStream + i - 1] : null;
      fresh[b] = before && before.piece === w.piece && before.start + seqLen === w.start ? 0 : 1;
      const ids = idsOf(w.piece).subarray(w.start, w.start + seqLen + 1);
      inputs.set(ids.subarray(0, seqLen), b * seqLen);
      targets.set(ids.subarray(1, seqLen + 1), b * seqLen);
    }
    // A piece no stream holds any more is not needed again this epoch.
    if (moved.size > 4 * batchSize) for (const key of [...moved.keys()].slice(0, moved.size - 2 * batchSize)) moved.delete(key);
    yield { batchSize, seqLen, inputs, targets, fresh };
  }
}
