/**
 * One chunk of `musicgen prepare` (./prepare-corpus.ts), as run on a worker
 * thread: each file is read, hashed (sha256), parsed and tokenized, and the
 * chunk is saved as a part, `part-NNNNNN.bin` (the ids of its pieces under
 * the chunk's own token list, int32) and then `part-NNNNNN.json` (its files,
 * that token list and its counts), each written atomically, so a part whose
 * json exists is whole. A file that cannot be used is recorded with its
 * one-line reason; it never stops the chunk.
 *
 * The worker runs this same file (see the end), loading the TypeScript
 * sources through tsx.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { errCode } from '../core/errors';
import { joinPath, writeFileAtomic, type FilePath } from '../core/files';
import type { Piece } from '../core/piece';
import { parseMidi, readMidiFile, type MidiReadOptions } from '../midi/read';
import type { TokenizerConfig } from '../tokens/config';
import { tokenToString } from '../tokens/token';
import { pieceToTokens } from '../tokens/tokenize';

/** A file of a chunk: its path (bytes when the name is not UTF-8), its name relative to its folder, and the folder's index. */
export interface ChunkFile {
  readonly path: string | Uint8Array;
  readonly rel: string;
  readonly folder: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** What a part records about one file: a piece (`length` tokens), or a `reason` it could not be used. */
interface PartFile {
  readonly rel: string;
  readonly folder: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256?: string;
  readonly length?: number;
  readonly notes?: number;
  readonly warnings?: number;
  readonly reason?: string;
}

/** The json half of a part. */
export interface PartJson {
  readonly files: readonly PartFile[];
  /** The chunk's own token list (token strings); the part's ids index it. */
  readonly dict: readonly string[];
  readonly counts: readonly number[];
}

/** A chunk to prepare. */
export interface ChunkTask {
  readonly chunk: number;
  readonly files: readonly ChunkFile[];
  readonly partsDir: string | Uint8Array;
  readonly midi: MidiReadOptions;
  readonly tokenizer: TokenizerConfig;
}

/** The name of part `chunk` (without its extension). */
export function partName(chunk: number): string {
  return `part-${String(chunk).padStart(6, '0')}`;
}

const asPath = (p: string | Uint8Array): FilePath => (typeof p === 'string' ? p : Buffer.from(p));

/** A file's bytes, its sha256 and its piece (or the reason it cannot be used), as a MIDI load reads it. */
function readOne(f: ChunkFile, midi: MidiReadOptions): { sha256?: string; piece?: Piece; warnings: number; reason?: string } {
  let warnings = 0;
  const options = { ...midi, onWarning: () => void warnings++ };
  const file = asPath(f.path);
  let bytes: Buffer;
  try {
    if (f.size > (midi.maxBytes ?? 16 * 1024 * 1024)) readMidiFile(file, options, f.rel);
    bytes = fs.readFileSync(file);
  } catch (e) {
    return { warnings, reason: e instanceof Error && e.name === 'MidiFileError' ? oneLine(e) : `cannot read file: ${errCode(e)}` };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  try {
    return { sha256, piece: parseMidi(bytes, f.rel, options), warnings };
  } catch (e) {
    return { sha256, warnings, reason: oneLine(e) };
  }
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim() || 'unknown error';
}

/** Prepares one chunk and saves its part; returns the notes it holds. */
function prepareChunk(task: ChunkTask): { readonly notes: number; readonly files: number } {
  const dict = new Map<string, number>();
  const counts: number[] = [];
  const idLists: Int32Array[] = [];
  const files: PartFile[] = [];
  let notes = 0;
  for (const f of task.files) {
    const base = { rel: f.rel, folder: f.folder, size: f.size, mtimeMs: f.mtimeMs };
    const r = readOne(f, task.midi);
    if (!r.piece) {
      files.push({ ...base, ...(r.sha256 ? { sha256: r.sha256 } : {}), reason: r.reason ?? 'unknown error' });
      continue;
    }
    let tokens;
    try {
      tokens = pieceToTokens(r.piece, task.tokenizer);
    } catch (e) {
      files.push({ ...base, sha256: r.sha256, reason: oneLine(e) });
      continue;
    }
    const ids = new Int32Array(tokens.length);
    tokens.forEach((t, i) => {
      const k = tokenToString(t);
      let id = dict.get(k);
      if (id === undefined) {
        id = counts.length;
        dict.set(k, id);
        counts.push(0);
      }
      counts[id]++;
      ids[i] = id;
    });
    idLists.push(ids);
    notes += r.piece.notes.length;
    files.push({ ...base, sha256: r.sha256, length: ids.length, notes: r.piece.notes.length, warnings: r.warnings });
  }
  const total = idLists.reduce((n, a) => n + a.length, 0);
  const bin = Buffer.alloc(total * 4);
  let at = 0;
  for (const ids of idLists) for (let i = 0; i < ids.length; i++, at += 4) bin.writeInt32LE(ids[i], at);
  const dir = asPath(task.partsDir);
  writeFileAtomic(joinPath(dir, `${partName(task.chunk)}.bin`), bin);
  const json: PartJson = { files, dict: [...dict.keys()], counts };
  writeFileAtomic(joinPath(dir, `${partName(task.chunk)}.json`), JSON.stringify(json));
  return { notes, files: files.length };
}

/** Messages from a worker. */
export type FromPrepareWorker =
  | { readonly type: 'done'; readonly chunk: number; readonly notes: number; readonly files: number }
  | { readonly type: 'error'; readonly chunk: number; readonly message: string };

if (!isMainThread && parentPort && (workerData as { musicgenPrepare?: boolean } | null)?.musicgenPrepare === true) {
  const port = parentPort;
  port.on('message', (task: ChunkTask) => {
    try {
      const r = prepareChunk(task);
      port.postMessage({ type: 'done', chunk: task.chunk, ...r } satisfies FromPrepareWorker);
    } catch (e) {
      port.postMessage({ type: 'error', chunk: task.chunk, message: oneLine(e) } satisfies FromPrepareWorker);
    }
  });
}
