/**
 * `musicgen prepare`: a corpus of MIDI folders tokenized once into a prepared
 * folder (./shard-format.ts). The files are listed in the order a MIDI load
 * reads them and cut into chunks of {@link CHUNK_FILES}; worker threads (one
 * per core by default) tokenize the chunks into parts under `.parts/`
 * (./prepare-worker.ts); then the vocabulary is built from all parts' counts,
 * as buildVocabulary builds it from the pieces, and the parts are written as
 * shards under it (./prepare-merge.ts), the manifest last.
 *
 * A part already saved for the same files (path, size, mtime) with the same
 * settings is kept, so a
 * run stopped with Ctrl-C (or a corpus with one changed file) goes on where
 * it was instead of starting again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errCode, UserError } from '../core/errors';
import { joinPath, listFiles, makeDirs, readJsonFile, showPath, writeFileAtomic, type FilePath, type UnusableEntry } from '../core/files';
import { MIDI_EXTENSIONS, type MidiReadOptions } from '../midi/read';
import { validateTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import type { StepOptions } from '../tokens/steps';
import { mergeParts } from './prepare-merge';
import { stepsRefusal } from './prepare-steps';
import { partName, type ChunkFile, type ChunkTask, type FromPrepareWorker, type PartJson } from './prepare-worker';
import type { FailedFile, PreparedManifest } from './shard-format';

/** Files per chunk (one part). */
const CHUNK_FILES = 16;

/** What to prepare, and where. */
export interface PrepareCorpusOptions {
  /** The data folders (or single files). */
  readonly folders: readonly FilePath[];
  /** The prepared folder to write. */
  readonly out: FilePath;
  readonly midi: MidiReadOptions;
  readonly tokenizer: TokenizerConfig;
  /** The split the manifest records (the same as splitByFile gives). */
  readonly split: { readonly valFraction: number; readonly seed: number };
  /** Worker threads (≥ 1). */
  readonly threads: number;
  /** Also write the note family's steps of each piece, cut with these options (./prepare-steps.ts; remi with the meter after every bar). */
  readonly steps?: StepOptions;
  /** Aborted on Ctrl-C: the workers are stopped and nothing half-written is left. */
  readonly signal?: AbortSignal;
  /** After each chunk: files done (reused ones included), of all, and the notes tokenized in this run. */
  readonly onProgress?: (filesDone: number, files: number, notes: number) => void;
}

/** How a preparation ended. */
export interface PrepareCorpusResult {
  /** The manifest written, or null when stopped. */
  readonly manifest: PreparedManifest | null;
  readonly stopped: boolean;
  readonly files: number;
  /** Files whose part was kept from an earlier run. */
  readonly reusedFiles: number;
  /** Notes tokenized in this run (not in kept parts). */
  readonly notes: number;
  readonly seconds: number;
}

/** A file found in the folders, with its name relative to its folder. */
interface Listed {
  readonly file: FilePath;
  readonly rel: string;
  readonly folder: number;
}

/** The MIDI files under the folders, in load order, and the unusable entries (folder-relative names, as loadMidiFolder gives). */
export function listCorpus(folders: readonly FilePath[]): { files: Listed[]; unusable: (FailedFile & { folder: number })[]; passedOver: number } {
  const files: Listed[] = [];
  const unusable: (FailedFile & { folder: number })[] = [];
  let passedOver = 0;
  folders.forEach((root, folder) => {
    const bad: UnusableEntry[] = [];
    const over: FilePath[] = [];
    const found = listFiles(root, MIDI_EXTENSIONS, bad, over);
    const base = showPath(fs.statSync(root).isDirectory() ? root : path.dirname(showPath(root)));
    const nameOf = (f: FilePath): string => path.relative(base, showPath(f)) || path.basename(showPath(f));
    for (const f of found) files.push({ file: f, rel: nameOf(f), folder });
    for (const u of bad) unusable.push({ path: nameOf(u.path), reason: u.reason, folder });
    passedOver += over.length;
  });
  return { files, unusable, passedOver };
}

/** A file's size and modification time (zeros when it cannot be read: the worker then records why). */
function statOf(file: FilePath): { size: number; mtimeMs: number } {
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return { size: 0, mtimeMs: 0 };
  }
}

/** The part saved for a chunk, when it covers exactly these files as they are now. */
function keptPart(partsDir: FilePath, chunk: number, files: readonly ChunkFile[]): PartJson | null {
  const file = joinPath(partsDir, `${partName(chunk)}.json`);
  if (!fs.existsSync(file) || !fs.existsSync(joinPath(partsDir, `${partName(chunk)}.bin`))) return null;
  let part: PartJson;
  try {
    part = readJsonFile(file) as PartJson;
  } catch {
    return null;
  }
  const same =
    Array.isArray(part.files) &&
    part.files.length === files.length &&
    part.files.every((p, i) => p.rel === files[i].rel && p.folder === files[i].folder && p.size === files[i].size && p.mtimeMs === files[i].mtimeMs);
  return same ? part : null;
}

/** Prepares the corpus (see the file comment). */
export async function prepareCorpus(o: PrepareCorpusOptions): Promise<PrepareCorpusResult> {
  const started = Date.now();
  validateTokenizerConfig(o.tokenizer);
  if (o.folders.length === 0) throw new UserError('no data folder given');
  const refusal = o.steps ? stepsRefusal(o.tokenizer) : null;
  if (refusal !== null) throw new UserError(`--family note: ${refusal}`);
  if (o.steps?.copy === true && !o.steps.lookback) throw new UserError('--family note: copy ids need the look-back (give --no-copy with --no-lookback)');
  const { files, unusable, passedOver } = listCorpus(o.folders);
  const partsDir = joinPath(o.out, '.parts');
  makeDirs(partsDir, o.out);
  // Parts made with other settings (another tokenizer, other MIDI options, other folders) are not kept.
  const settingsFile = joinPath(partsDir, 'settings.json');
  const settings = JSON.stringify({ tokenizer: o.tokenizer, midi: { ...o.midi, onWarning: undefined }, folders: o.folders.map(showPath) });
  if (!fs.existsSync(settingsFile) || fs.readFileSync(settingsFile, 'utf8') !== settings) {
    for (const name of fs.readdirSync(partsDir)) fs.rmSync(joinPath(partsDir, name), { force: true });
    writeFileAtomic(settingsFile, settings);
  }
  const chunks: ChunkFile[][] = [];
  for (let i = 0; i < files.length; i += CHUNK_FILES) {
    chunks.push(
      files.slice(i, i + CHUNK_FILES).map((f) => ({
        path: typeof f.file === 'string' ? f.file : new Uint8Array(f.file),
        rel: f.rel,
        folder: f.folder,
        ...statOf(f.file),
      })),
    );
  }
  removeTemporary(o.out);
  const pending: number[] = [];
  let reusedFiles = 0;
  chunks.forEach((c, i) => {
    if (keptPart(partsDir, i, c)) reusedFiles += c.length;
    else pending.push(i);
  });
  // Parts past the last chunk belong to files no longer there.
  for (const name of fs.readdirSync(partsDir)) {
    const m = /^part-(\d{6})\.(json|bin)$/.exec(name);
    if (m && Number(m[1]) >= chunks.length) fs.rmSync(joinPath(partsDir, name), { force: true });
  }
  let done = reusedFiles;
  let notes = 0;
  o.onProgress?.(done, files.length, 0);
  const stopped = await runChunks(
    pending.map((chunk) => ({
      chunk,
      files: chunks[chunk],
      partsDir: typeof partsDir === 'string' ? partsDir : new Uint8Array(partsDir),
      midi: o.midi,
      tokenizer: o.tokenizer,
    })),
    Math.max(1, Math.min(o.threads, pending.length)),
    o.signal,
    (r) => {
      done += r.files;
      notes += r.notes;
      o.onProgress?.(done, files.length, notes);
    },
  );
  const seconds = (Date.now() - started) / 1000;
  // A thread stopped while writing leaves its temporary file (the part itself is whole or absent).
  removeTemporary(partsDir);
  if (stopped) return { manifest: null, stopped: true, files: files.length, reusedFiles, notes, seconds };
  const manifest = mergeParts({
    out: o.out,
    partsDir,
    chunks: chunks.length,
    folders: o.folders.map(showPath),
    unusable: unusable.map((u) => ({ path: o.folders.length > 1 ? `${showPath(o.folders[u.folder])}/${u.path}` : u.path, reason: u.reason })),
    passedOver,
    midi: o.midi,
    tokenizer: o.tokenizer,
    split: o.split,
    steps: o.steps,
  });
  return { manifest, stopped: false, files: files.length, reusedFiles, notes, seconds: (Date.now() - started) / 1000 };
}

/** Removes the temporary files (`.name.pid.time.tmp`) of writes that were cut short in `dir`. */
function removeTemporary(dir: FilePath): void {
  for (const name of fs.readdirSync(dir)) if (name.startsWith('.') && name.endsWith('.tmp')) fs.rmSync(joinPath(dir, name), { force: true });
}

/** The default number of threads: one per core. */
export function prepareThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Runs the chunks on `threads` workers; resolves true when stopped by `signal`. */
function runChunks(
  tasks: readonly ChunkTask[],
  threads: number,
  signal: AbortSignal | undefined,
  onDone: (r: { files: number; notes: number }) => void,
): Promise<boolean> {
  if (tasks.length === 0) return Promise.resolve(signal?.aborted === true);
  if (signal?.aborted) return Promise.resolve(true);
  const boot =
    `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\n` +
    `require(${JSON.stringify(path.join(__dirname, 'prepare-worker.ts'))});`;
  return new Promise<boolean>((resolve, reject) => {
    const workers: Worker[] = [];
    let next = 0;
    let running = 0;
    let settled = false;
    const finish = (err: Error | null, stopped: boolean): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void Promise.all(workers.map((w) => w.terminate())).then(() => (err ? reject(err) : resolve(stopped)));
    };
    const onAbort = (): void => finish(null, true);
    signal?.addEventListener('abort', onAbort);
    const feed = (w: Worker): void => {
      if (settled) return;
      if (next >= tasks.length) {
        if (running === 0) finish(null, false);
        return;
      }
      running++;
      w.postMessage(tasks[next++]);
    };
    for (let i = 0; i < threads; i++) {
      const w = new Worker(boot, { eval: true, workerData: { musicgenPrepare: true } });
      workers.push(w);
      w.on('message', (m: FromPrepareWorker) => {
        running--;
        if (m.type === 'error') return finish(new UserError(`preparing chunk ${m.chunk} failed: ${m.message}`), false);
        onDone(m);
        feed(w);
      });
      w.on('error', (e: Error & { code?: string }) =>
        finish(new UserError(`a preparation thread ${e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'ran out of memory' : `failed (${errCode(e)})`}`), false),
      );
      w.on('exit', (code) => finish(new Error(`a preparation thread stopped (exit code ${code})`), false));
      feed(w);
    }
  });
}
