/**
 * The prepared-corpus format (docs/prepared-format.md): a folder holding
 * `manifest.json`, `vocab.json` (as in a model folder) and `shard-NNNN.bin`
 * files of raw little-endian token ids, the pieces laid end to end in
 * manifest order with no header, so that `numpy.memmap` reads them. This file
 * checks a manifest field by field, writes it, and reads ids from the shards.
 */
import * as fs from 'node:fs';
import { checkArray, checkField, checkInt, checkIsNumber, checkNumber, checkObject, checkString, inField } from '../core/check';
import { errCode, UserError } from '../core/errors';
import { joinPath, readJsonFile, showPath, writeFileAtomic, type FilePath } from '../core/files';
import { validateTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import { checkPieceSteps, checkStepsField, STEP_RECORD_BYTES, type PieceSteps, type PreparedSteps } from './prepare-steps';

/** The format tag of manifest.json. */
export const PREPARED_FORMAT = 'musicgen-prepared/1';

/** Largest shard, in bytes: a shard holds whole pieces and is closed once it reaches this size. */
export const SHARD_BYTES = 64 * 1024 * 1024;

/** How ids are stored: uint16 when the vocabulary has at most 65,535 tokens, else int32. */
export type ShardDtype = 'uint16' | 'int32';

/** The file a piece came from. */
interface PieceSource {
  /** Path relative to its data folder (the folder's own name when the folder is a single file). */
  readonly path: string;
  /** Index into the manifest's `folders`. */
  readonly folder: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/** One piece of the prepared corpus. */
export interface PreparedPiece {
  /** The piece's name, as a MIDI load names it (what the train/validation split hashes). */
  readonly name: string;
  readonly source: PieceSource;
  readonly shard: number;
  /** Token offset of the piece's first id within its shard. */
  readonly offset: number;
  /** Tokens. */
  readonly length: number;
  readonly notes: number;
  readonly split: 'train' | 'val';
  /** Where its steps are in step shard `shard` (only in a folder prepared with steps: the manifest's `steps`). */
  readonly steps?: PieceSteps;
}

/** A file that could not be used, with its one-line reason. */
export interface FailedFile {
  readonly path: string;
  readonly reason: string;
  /** The file's size and modification time when it was tried (absent for what is not a file). */
  readonly size?: number;
  readonly mtimeMs?: number;
}

/** The MIDI reading options the corpus was prepared with. */
interface PreparedMidiOptions {
  readonly includeDrums: boolean;
  readonly tracks: readonly number[] | null;
  readonly programs: readonly number[] | null;
}

/** Contents of manifest.json. */
export interface PreparedManifest {
  readonly format: typeof PREPARED_FORMAT;
  readonly dtype: ShardDtype;
  readonly vocabSize: number;
  readonly tokenizer: TokenizerConfig;
  readonly midi: PreparedMidiOptions;
  /** The split the `split` field of each piece follows (the same as splitByFile in ./dataset gives). */
  readonly split: { readonly valFraction: number; readonly seed: number };
  readonly shards: readonly { readonly file: string; readonly tokens: number }[];
  readonly pieces: readonly PreparedPiece[];
  readonly failed: readonly FailedFile[];
  /** The data folders, as given to `prepare`. */
  readonly folders: readonly string[];
  /** Files passed over for their extension. */
  readonly passedOver: number;
  /** Warnings on files that loaded (notes left out or read differently). */
  readonly warnings: number;
  /** The note family's steps (`prepare --family note`, ./prepare-steps.ts); absent otherwise. */
  readonly steps?: PreparedSteps;
}

/** Bytes per id of a dtype. */
export function dtypeBytes(dtype: ShardDtype): number {
  return dtype === 'uint16' ? 2 : 4;
}

/** The dtype for a vocabulary of `size` tokens. */
export function dtypeFor(size: number): ShardDtype {
  return size <= 65_535 ? 'uint16' : 'int32';
}

/** The name of shard `i`: shard-0000.bin, … */
export function shardName(i: number): string {
  return `shard-${String(i).padStart(4, '0')}.bin`;
}

const intIn = (name: string, v: unknown, lo: number, hi: number): number => {
  checkInt(name, checkIsNumber(name, v), lo, hi);
  return v as number;
};
const MAX_INT = Number.MAX_SAFE_INTEGER;
const intList = (name: string, v: unknown, hi: number): number[] | null =>
  v === null ? null : checkArray(name, v).map((x, i) => intIn(`${name}[${i}]`, x, 0, hi));

/** Checks a piece entry; `shards` are the shard sizes in tokens. */
function checkPiece(
  p: Readonly<Record<string, unknown>>,
  shards: readonly number[],
  folders: number,
  stepShards: readonly number[] | null,
): PreparedPiece {
  const s = inField('source', () => checkObject('source', p.source));
  const source: PieceSource = {
    path: inField('source', () => checkString('path', s.path)),
    folder: inField('source', () => intIn('folder', s.folder ?? 0, 0, Math.max(0, folders - 1))),
    size: inField('source', () => intIn('size', s.size, 0, MAX_INT)),
    mtimeMs: inField('source', () => {
      checkNumber('mtimeMs', s.mtimeMs, (x) => x >= 0, 'a time ≥ 0');
      return s.mtimeMs as number;
    }),
    sha256: inField('source', () => checkString('sha256', s.sha256, (h) => /^[0-9a-f]{64}$/.test(h), '64 hex digits')),
  };
  const shard = intIn('shard', p.shard, 0, shards.length - 1);
  const offset = intIn('offset', p.offset, 0, MAX_INT);
  const length = intIn('length', p.length, 0, MAX_INT);
  if (offset + length > shards[shard])
    throw new RangeError(`offset + length must be within shard ${shard} (${shards[shard]} tokens; got ${offset} + ${length})`);
  const piece: PreparedPiece = {
    name: checkString('name', p.name),
    source,
    shard,
    offset,
    length,
    notes: intIn('notes', p.notes, 0, MAX_INT),
    split: checkString('split', p.split, (x) => x === 'train' || x === 'val', '"train" or "val"') as 'train' | 'val',
  };
  return stepShards === null ? piece : { ...piece, steps: checkPieceSteps(p.steps, stepShards[shard], shard) };
}

/**
 * Checks manifest.json field by field; a one-line UserError names the file
 * and the field, e.g. "out/p/manifest.json: pieces[3].length must be an integer in …".
 */
function manifestFromJson(json: unknown, source: string): PreparedManifest {
  const field = <T>(name: string, f: () => T): T => checkField(source, name, f);
  const j = field('', () => checkObject('the file', json));
  field('', () => checkString('format', j.format, (f) => f === PREPARED_FORMAT, `"${PREPARED_FORMAT}" (is this a prepared folder?)`));
  const vocabSize = field('', () => intIn('vocabSize', j.vocabSize, 1, 2 ** 31 - 1));
  const dtype = field('', () => checkString('dtype', j.dtype, (d) => d === dtypeFor(vocabSize), `"${dtypeFor(vocabSize)}" for ${vocabSize} tokens`)) as ShardDtype;
  const tokenizer = field('tokenizer', () => validateTokenizerConfig(checkObject('tokenizer', j.tokenizer) as unknown as TokenizerConfig));
  const m = field('', () => checkObject('midi', j.midi ?? { includeDrums: false, tracks: null, programs: null }));
  const midi = field('midi', () => ({
    includeDrums: m.includeDrums === true,
    tracks: intList('tracks', m.tracks ?? null, 65535),
    programs: intList('programs', m.programs ?? null, 127),
  }));
  const sp = field('', () => checkObject('split', j.split));
  const split = field('split', () => {
    checkNumber('valFraction', sp.valFraction, (v) => v >= 0 && v < 1, 'in [0, 1)');
    return { valFraction: sp.valFraction as number, seed: intIn('seed', sp.seed, 0, 2 ** 31 - 1) };
  });
  const folders = field('', () => checkArray('folders', j.folders)).map((f, i) => field('', () => checkString(`folders[${i}]`, f)));
  const shards = field('', () => checkArray('shards', j.shards)).map((s, i) =>
    field(`shards[${i}]`, () => {
      const o = checkObject(`shards[${i}]`, s);
      return { file: checkString('file', o.file, (f) => f === shardName(i), JSON.stringify(shardName(i))), tokens: intIn('tokens', o.tokens, 0, MAX_INT) };
    }),
  );
  const sizes = shards.map((s) => s.tokens);
  const steps =
    j.steps === undefined ? undefined : field('steps', () => checkStepsField(checkObject('steps', j.steps), vocabSize, shards.length));
  const stepSizes = steps ? steps.shards.map((s) => s.steps) : null;
  const pieces = field('', () => checkArray('pieces', j.pieces)).map((p, i) =>
    field(`pieces[${i}]`, () => checkPiece(checkObject(`pieces[${i}]`, p), sizes, folders.length, stepSizes)),
  );
  const failed = field('', () => checkArray('failed', j.failed)).map((f, i) =>
    field(`failed[${i}]`, () => {
      const o = checkObject(`failed[${i}]`, f);
      const stat =
        o.size === undefined ? {} : { size: intIn('size', o.size, 0, MAX_INT), mtimeMs: checkIsNumber('mtimeMs', o.mtimeMs) };
      return { path: checkString('path', o.path), reason: checkString('reason', o.reason), ...stat };
    }),
  );
  const passedOver = field('', () => intIn('passedOver', j.passedOver ?? 0, 0, MAX_INT));
  const warnings = field('', () => intIn('warnings', j.warnings ?? 0, 0, MAX_INT));
  const manifest: PreparedManifest = { format: PREPARED_FORMAT, dtype, vocabSize, tokenizer, midi, split, shards, pieces, failed, folders, passedOver, warnings };
  return steps ? { ...manifest, steps } : manifest;
}

/**
 * Whether `dir` is a prepared folder: its manifest.json names this format
 * near its start (a MIDI folder that happens to hold some other
 * manifest.json is not one). The manifest is checked in full when opened.
 */
export function isPreparedFolder(dir: FilePath): boolean {
  let fd: number;
  try {
    fd = fs.openSync(joinPath(dir, 'manifest.json'), 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString('utf8').includes(PREPARED_FORMAT.split('/')[0]);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and checks `dir`/manifest.json, and that each shard file has the size the manifest gives it. */
export function readManifest(dir: FilePath): PreparedManifest {
  const file = joinPath(dir, 'manifest.json');
  const m = manifestFromJson(readJsonFile(file), showPath(file));
  m.shards.forEach((s) => {
    const f = joinPath(dir, s.file);
    let size: number;
    try {
      size = fs.statSync(f).size;
    } catch (e) {
      throw new UserError(`${showPath(f)}: cannot read (${errCode(e)}); prepare the corpus again`);
    }
    const want = s.tokens * dtypeBytes(m.dtype);
    if (size !== want) throw new UserError(`${showPath(f)}: ${size} bytes, but manifest.json gives ${s.tokens} tokens (${want} bytes)`);
  });
  m.steps?.shards.forEach((s) => {
    const f = joinPath(dir, s.file);
    const size = fs.existsSync(f) ? fs.statSync(f).size : -1;
    const want = s.steps * STEP_RECORD_BYTES;
    if (size !== want)
      throw new UserError(`${showPath(f)}: ${size < 0 ? 'missing' : `${size} bytes`}, but manifest.json gives ${s.steps} steps (${want} bytes)`);
  });
  return m;
}

/** Writes manifest.json atomically. */
export function writeManifest(dir: FilePath, m: PreparedManifest): void {
  writeFileAtomic(joinPath(dir, 'manifest.json'), JSON.stringify(m, null, 1) + '\n');
}

/** Reads token ids out of a prepared folder's shards, one open file per shard. */
export class ShardReader {
  private readonly fds: number[];
  private readonly bytes: number;
  constructor(
    private readonly dir: FilePath,
    readonly manifest: PreparedManifest,
  ) {
    this.bytes = dtypeBytes(manifest.dtype);
    this.fds = manifest.shards.map((s) => {
      const f = joinPath(dir, s.file);
      try {
        return fs.openSync(f, 'r');
      } catch (e) {
        throw new UserError(`cannot read ${showPath(f)}: ${errCode(e)}`);
      }
    });
  }

  /** Writes `count` ids starting at token `offset` of `shard` into `out` at `at`. */
  readInto(shard: number, offset: number, count: number, out: Int32Array, at = 0): void {
    const buf = Buffer.allocUnsafe(count * this.bytes);
    const got = fs.readSync(this.fds[shard], buf, 0, buf.length, offset * this.bytes);
    if (got !== buf.length) throw new UserError(`${showPath(joinPath(this.dir, shardName(shard)))}: truncated (prepare the corpus again)`);
    if (this.bytes === 2) for (let i = 0; i < count; i++) out[at + i] = buf.readUInt16LE(i * 2);
    else for (let i = 0; i < count; i++) out[at + i] = buf.readInt32LE(i * 4);
  }

  /** The ids of piece `i` of the manifest. */
  pieceIds(i: number): Int32Array {
    const p = this.manifest.pieces[i];
    const out = new Int32Array(p.length);
    this.readInto(p.shard, p.offset, p.length, out);
    return out;
  }

  /** Closes the shard files. */
  close(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }
}
