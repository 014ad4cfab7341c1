/**
 * Streamed training windows: the token family's batches read from a prepared
 * folder's shards as they are needed, so memory does not grow with the
 * corpus. The window index is compact: a window is a number, found from a
 * per-piece table of window counts (8 bytes a piece), and an epoch's seeded
 * shuffle is a Uint32Array of window numbers (4 bytes a window). The windows
 * of {@link STREAM_BLOCK} batches are read at a time, in shard order, when
 * the first of them is used: a resumed run passes over the batches it did
 * before without reading them.
 *
 * The windows, the shuffle and the transposition are those of ./dataset.ts
 * (windowsOver, batches), number for number: a run on a prepared folder sees
 * exactly the batches a run on the same pieces in memory sees.
 */
import { createRng, deriveSeed } from '../core/rng';
import type { Vocabulary } from '../tokens/vocabulary';
import type { Batch } from './dataset';
import type { ShardReader } from './shard-format';
import { transposeWindow, windowSeed, type Transposer } from './transpose';

/** Batches whose windows are read together. */
const STREAM_BLOCK = 16;

/** Pieces of a prepared folder, in training order, by where their ids are. */
export interface StreamPieces {
  readonly reader: ShardReader;
  readonly shard: Uint32Array;
  readonly offset: Float64Array;
  readonly length: Float64Array;
}

/** The windows over some pieces (as windowsOver places them). */
export interface WindowTable {
  readonly pieces: StreamPieces;
  readonly seqLen: number;
  readonly stride: number;
  /** first[p]: the number of piece p's first window; first[n]: the count. */
  readonly first: Float64Array;
  readonly count: number;
}

/** Pieces `indices` of the reader's manifest, in that order. */
export function streamPieces(reader: ShardReader, indices: readonly number[]): StreamPieces {
  const ps = reader.manifest.pieces;
  return {
    reader,
    shard: Uint32Array.from(indices, (i) => ps[i].shard),
    offset: Float64Array.from(indices, (i) => ps[i].offset),
    length: Float64Array.from(indices, (i) => ps[i].length),
  };
}

/** Windows of a piece of `length` tokens: every `stride` from 0, and one aligned to the end when the last falls short of it. */
function windowsOf(length: number, seqLen: number, stride: number): number {
  const last = length - seqLen - 1;
  if (last < 0) return 0;
  return Math.floor(last / stride) + 1 + (last % stride === 0 ? 0 : 1);
}

/** The window table of `pieces` for windows of `seqLen` tokens `stride` apart. */
export function windowTable(pieces: StreamPieces, seqLen: number, stride: number): WindowTable {
  const n = pieces.length.length;
  const first = new Float64Array(n + 1);
  for (let p = 0; p < n; p++) first[p + 1] = first[p] + windowsOf(pieces.length[p], seqLen, stride);
  return { pieces, seqLen, stride, first, count: first[n] };
}

/** Piece and start of window `w`. */
function windowAt(t: WindowTable, w: number): { piece: number; start: number } {
  let lo = 0;
  let hi = t.first.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t.first[mid] <= w) lo = mid;
    else hi = mid - 1;
  }
  const k = w - t.first[lo];
  const last = t.pieces.length[lo] - t.seqLen - 1;
  return { piece: lo, start: Math.min(k * t.stride, last) };
}

/** Window numbers 0…count−1 in the order `shuffled` gives an index of that length with `rng`'s seed. */
function shuffledNumbers(count: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = i;
  const rng = createRng(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/** An epoch's order of the windows: batches' shuffle by (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  return shuffledNumbers(count, deriveSeed(seed, epoch));
}

/** The validation windows: all in order, or `max` of them as the batching's seeded choice picks them. */
export function limitedOrder(count: number, max: number, seed: number): Uint32Array {
  if (max <= 0 || count <= max) return Uint32Array.from({ length: count }, (_, i) => i);
  return shuffledNumbers(count, seed ^ 0x5eed).slice(0, max);
}

/** What each id is to transposition: {@link EVENT}, a program token ({@link DRUMS} or {@link PITCHED}), or 0. */
export function pitchedIds(vocab: Vocabulary): Uint8Array {
  return Uint8Array.from(vocab.tokens, (t) => (t.kind === 'event' ? EVENT : t.kind === 'program' ? (t.drum ? DRUMS : PITCHED) : 0));
}
const EVENT = 1;
const DRUMS = 2;
const PITCHED = 3;

/** Whether the notes at token `start` of piece `p` are drums: its last program token before `start` says so (as pitchedPositions reads a piece). */
function drumsAt(t: WindowTable, kinds: Uint8Array, p: number, start: number): boolean {
  const step = 256;
  const buf = new Int32Array(step);
  for (let end = start; end > 0; end -= step) {
    const from = Math.max(0, end - step);
    t.pieces.reader.readInto(t.pieces.shard[p], t.pieces.offset[p] + from, end - from, buf);
    for (let i = end - from - 1; i >= 0; i--) if (kinds[buf[i]] >= DRUMS) return kinds[buf[i]] === DRUMS;
  }
  return false;
}

/** Options of {@link streamedBatches}. */
export interface StreamOptions {
  readonly seed: number;
  readonly epoch: number;
  readonly transposer?: Transposer;
  /** Required with a transposer: {@link pitchedIds} of the vocabulary. */
  readonly pitched?: Uint8Array;
}

/** Batches of the windows in `order`, read from the shards a block at a time (see the file comment). */
export function* streamedBatches(t: WindowTable, order: Uint32Array, batchSize: number, o: StreamOptions): Generator<Batch> {
  const { seqLen } = t;
  const span = seqLen + 1;
  const perBlock = STREAM_BLOCK * batchSize;
  const block = new Int32Array(perBlock * span);
  let loaded = -1;
  /** Reads (and transposes) the windows of the block starting at `b0`, unless it is the one in `block`. */
  const load = (b0: number): void => {
    if (loaded === b0) return;
    readBlock(t, order.subarray(b0, Math.min(order.length, b0 + perBlock)), block, o);
    loaded = b0;
  };
  for (let b0 = 0; b0 < order.length; b0 += perBlock) {
    const n = Math.min(perBlock, order.length - b0);
    for (let s = 0; s < n; s += batchSize) {
      const rows = Math.min(batchSize, n - s);
      // Built when first read: a resumed run that passes over the batches it did before reads none of their windows.
      let arrays: { inputs: Int32Array; targets: Int32Array } | null = null;
      const build = (): { inputs: Int32Array; targets: Int32Array } => {
        if (arrays) return arrays;
        load(b0);
        const inputs = new Int32Array(rows * seqLen);
        const targets = new Int32Array(rows * seqLen);
        for (let k = 0; k < rows; k++) {
          const ids = block.subarray((s + k) * span, (s + k + 1) * span);
          inputs.set(ids.subarray(0, seqLen), k * seqLen);
          targets.set(ids.subarray(1), k * seqLen);
        }
        arrays = { inputs, targets };
        return arrays;
      };
      yield {
        batchSize: rows,
        seqLen,
        get inputs() {
          return build().inputs;
        },
        get targets() {
          return build().targets;
        },
      };
    }
  }
}

/** Reads the windows `numbers` into `block` (in shard order), transposed as the options say. */
function readBlock(t: WindowTable, numbers: Uint32Array, block: Int32Array, o: StreamOptions): void {
  const span = t.seqLen + 1;
  const refs = Array.from(numbers, (w, k) => ({ k, ...windowAt(t, w) }));
  const at = (r: { piece: number; start: number }): number => t.pieces.shard[r.piece] * 2 ** 40 + t.pieces.offset[r.piece] + r.start;
  for (const r of [...refs].sort((x, y) => at(x) - at(y)))
    t.pieces.reader.readInto(t.pieces.shard[r.piece], t.pieces.offset[r.piece] + r.start, span, block, r.k * span);
  const moving = o.transposer && o.transposer.maxSemitones > 0 && o.pitched ? o.transposer : undefined;
  if (!moving || !o.pitched) return;
  const mask = new Uint8Array(span);
  for (const r of refs) {
    const ids = block.subarray(r.k * span, (r.k + 1) * span);
    let drums = drumsAt(t, o.pitched, r.piece, r.start);
    for (let i = 0; i < span; i++) {
      const kind = o.pitched[ids[i]];
      if (kind >= DRUMS) drums = kind === DRUMS;
      mask[i] = kind === EVENT && !drums ? 1 : 0;
    }
    transposeWindow(moving, ids, mask, windowSeed(o.seed, o.epoch, r.piece, r.start));
  }
}
