/**
 * The note family's steps in a prepared folder (docs/prepared-format.md):
 * `musicgen prepare --family note` writes, beside each token shard
 * `shard-NNNN.bin`, a step shard `steps-NNNN.bin` holding the steps that
 * lib/tokens/steps.ts `toSteps` cuts each of its pieces into, so that other
 * tools (python/musicgen_torch) train on them without cutting pieces again.
 * A step is one record of {@link STEP_RECORD_BYTES} little-endian bytes:
 *
 *     bytes  0–15  group     8 × uint16   the step's code (its tokens, or a copy id and its velocity), pad after it
 *     bytes 16–27  lookback  6 × uint16   the look-back after the step (pad where there is no such note)
 *     byte  28     length    uint8        ids in the group
 *     bytes 29–30  flags     2 × uint8    the look-back flags after the step (0 or 1)
 *     byte  31     unused    0
 *
 * The manifest's `steps` field records how the pieces were cut (the
 * StepOptions) and the ids that depend on it (codeSize, pad, start).
 */
import { checkArray, checkInt, checkIsNumber, checkObject, checkString } from '../core/check';
import { codeSize, LOOKBACK_FLAGS, LOOKBACK_SLOTS, padId, startId, STEP_SLOTS, toSteps, type StepOptions } from '../tokens/steps';
import type { TokenizerConfig } from '../tokens/config';
import type { Vocabulary } from '../tokens/vocabulary';

/** Bytes of one step record (see the file comment). */
export const STEP_RECORD_BYTES = 32;

/** Largest id a record holds (uint16). */
const MAX_STEP_ID = 65_535;

/** The manifest's `steps`: how the pieces were cut, and the step shards (`steps-NNNN.bin`, one per token shard). */
export interface PreparedSteps {
  readonly lookback: boolean;
  readonly copy: boolean;
  /** Ids the note head chooses among: the vocabulary, then the copy ids when `copy`. */
  readonly codeSize: number;
  /** The empty slot's id (codeSize). */
  readonly pad: number;
  /** The head's start id (codeSize + 1). */
  readonly start: number;
  /** Bytes per step record ({@link STEP_RECORD_BYTES}). */
  readonly recordBytes: number;
  /** Steps in each step shard, in the token shards' order. */
  readonly shards: readonly { readonly file: string; readonly steps: number }[];
}

/** Where a piece's steps are: `count` records from record `offset` of the step shard with its token shard's number. */
export interface PieceSteps {
  readonly offset: number;
  readonly count: number;
}

/** The name of step shard `i`: steps-0000.bin, … */
export function stepShardName(i: number): string {
  return `steps-${String(i).padStart(4, '0')}.bin`;
}

/** Why a corpus of this tokenizer cannot be cut into steps (null when it can): steps need remi with the meter after every bar. */
export function stepsRefusal(tokenizer: TokenizerConfig): string | null {
  if (tokenizer.scheme !== 'remi') return `steps need the remi scheme (got "${tokenizer.scheme}")`;
  if (!tokenizer.meterEveryBar) return 'steps need remi with the meter after every bar (--meter every-bar)';
  return null;
}

/** The manifest's `steps` for a vocabulary cut with `options`, before any shard is written; throws a RangeError when the ids do not fit a record. */
export function stepsHeader(vocab: Vocabulary, options: StepOptions): Omit<PreparedSteps, 'shards'> {
  const start = startId(vocab, options);
  if (start > MAX_STEP_ID) throw new RangeError(`the step ids go up to ${start}, beyond a step record's uint16`);
  return { lookback: options.lookback, copy: options.copy, codeSize: codeSize(vocab, options), pad: padId(vocab, options), start, recordBytes: STEP_RECORD_BYTES };
}

/** A piece's step records (see the file comment), `toSteps(vocab, ids, options)` laid out for a step shard. */
export function stepRecords(vocab: Vocabulary, ids: ArrayLike<number>, options: StepOptions): Buffer {
  const s = toSteps(vocab, ids, options);
  const buf = Buffer.alloc(s.count * STEP_RECORD_BYTES);
  for (let i = 0; i < s.count; i++) {
    const at = i * STEP_RECORD_BYTES;
    for (let j = 0; j < STEP_SLOTS; j++) buf.writeUInt16LE(s.groups[i * STEP_SLOTS + j], at + 2 * j);
    for (let j = 0; j < LOOKBACK_SLOTS; j++) buf.writeUInt16LE(s.lookback[i * LOOKBACK_SLOTS + j], at + 16 + 2 * j);
    buf.writeUInt8(s.lengths[i], at + 28);
    for (let j = 0; j < LOOKBACK_FLAGS; j++) buf.writeUInt8(s.flags[i * LOOKBACK_FLAGS + j] > 0 ? 1 : 0, at + 29 + j);
  }
  return buf;
}

const MAX_INT = Number.MAX_SAFE_INTEGER;
const intIn = (name: string, v: unknown, lo: number, hi: number): number => {
  checkInt(name, checkIsNumber(name, v), lo, hi);
  return v as number;
};
const bool = (name: string, v: unknown): boolean => {
  if (typeof v !== 'boolean') throw new RangeError(`${name} must be true or false (got ${JSON.stringify(v)})`);
  return v;
};

/**
 * Checks the manifest's `steps` field by field against the vocabulary size
 * and the number of token shards (throws a RangeError naming the field; the
 * caller adds the file).
 */
export function checkStepsField(j: Readonly<Record<string, unknown>>, vocabSize: number, tokenShards: number): PreparedSteps {
  const lookback = bool('lookback', j.lookback);
  const copy = bool('copy', j.copy);
  if (copy && !lookback) throw new RangeError('copy must be false when lookback is false (copy ids copy the look-back notes)');
  const size = vocabSize + (copy ? 2 : 0);
  const codeSize = intIn('codeSize', j.codeSize, size, size);
  const pad = intIn('pad', j.pad, size, size);
  const start = intIn('start', j.start, size + 1, size + 1);
  const recordBytes = intIn('recordBytes', j.recordBytes, STEP_RECORD_BYTES, STEP_RECORD_BYTES);
  const list = checkArray('shards', j.shards);
  if (list.length !== tokenShards) throw new RangeError(`shards must list ${tokenShards} step shards, one per token shard (got ${list.length})`);
  const shards = list.map((s, i) => {
    const o = checkObject(`shards[${i}]`, s);
    const file = checkString(`shards[${i}].file`, o.file, (f) => f === stepShardName(i), JSON.stringify(stepShardName(i)));
    return { file, steps: intIn(`shards[${i}].steps`, o.steps, 0, MAX_INT) };
  });
  return { lookback, copy, codeSize, pad, start, recordBytes, shards };
}

/** Checks a piece's `steps` field against its step shard's size (a RangeError naming the field). */
export function checkPieceSteps(v: unknown, shardSteps: number, shard: number): PieceSteps {
  const o = checkObject('steps', v);
  const offset = intIn('steps.offset', o.offset, 0, MAX_INT);
  const count = intIn('steps.count', o.count, 0, MAX_INT);
  if (offset + count > shardSteps)
    throw new RangeError(`steps.offset + steps.count must be within step shard ${shard} (${shardSteps} steps; got ${offset} + ${count})`);
  return { offset, count };
}
