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
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new RangeError(`seqLen must be an integer ≥ 2 (got ${seqLen})`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be an integer ≥ 1 (got ${stride})`);
  const out: WindowRef[] = [];
  pieces.forEach((p, piece) => {
    const last = p.ids.length - seqLen - 1;
    if (last < 0) return;
    let start = 0;
    for (; start <= last; start += stride) out.push({ piece, start });
    if (start - stride < last) out.push({ piece, start: last });
  });
  return out;
}

/** Number of supervised tokens (targets) in a window index. */
export function windowTokens(index: readonly WindowRef[], seqLen: number): number {
  return index.length * seqLen;
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
