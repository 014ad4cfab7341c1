/**
 * Loading and tokenizing MIDI, and writing a long piece, in a worker thread.
 * These steps are synchronous and take seconds to minutes on a large folder or
 * piece; on the main thread they would
 * keep Ctrl-C and SIGTERM from being answered until they end (a signal handler
 * runs only when the event loop turns). In a worker the main thread stays
 * free: on a signal the worker is terminated at once and the command throws
 * {@link Interrupted}, having written nothing. A worker that runs out of
 * memory ends with a one-line error instead of taking the process down.
 *
 * The worker runs this same file (see the end): it loads the TypeScript
 * sources through tsx, whatever ran the main thread. Paths are passed as the
 * user gave them and recovered by their bytes where they are used
 * (./paths.ts argPath: the worker reads the same command line).
 */
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { UserError } from '../core/errors';
import { encodePieces, type DatasetConfig, type EncodedPiece } from '../data/dataset';
import { corpusStats, prepareData, type CorpusStats, type PreparedData } from '../data/prepare';
import { loadCorpus, type Corpus } from '../midi/corpus';
import type { MidiReadOptions } from '../midi/read';
import { writeMidiFile } from '../midi/write';
import type { Piece } from '../core/piece';
import type { TokenizerConfig } from '../tokens/config';
import type { Vocabulary } from '../tokens/vocabulary';
import { argPath } from './paths';
import { Interrupted, type Io } from './shared';

type LoadOptions = MidiReadOptions & { readonly maxFiles?: number };

/** What a worker can do: load a corpus, and then summarize, prepare for training, or encode it. */
type Task =
  | { readonly kind: 'midi'; readonly file: string; readonly piece: Piece }
  | { readonly kind: 'corpus'; readonly folders: readonly string[]; readonly options: LoadOptions }
  | { readonly kind: 'stats'; readonly folders: readonly string[]; readonly options: LoadOptions; readonly tokenizer: TokenizerConfig }
  | {
      readonly kind: 'prepare';
      readonly folders: readonly string[];
      readonly options: LoadOptions;
      readonly tokenizer: TokenizerConfig;
      readonly dataset: DatasetConfig;
      readonly vocab?: Vocabulary;
    }
  | { readonly kind: 'encode'; readonly folders: readonly string[]; readonly options: LoadOptions; readonly vocab: Vocabulary };

/** A corpus without its pieces (what is reported about the files). */
type CorpusReport = Omit<Corpus, 'pieces'> & { readonly loaded: number };

interface Results {
  midi: null;
  corpus: Corpus;
  stats: { readonly corpus: CorpusReport; readonly stats: CorpusStats };
  prepare: { readonly corpus: CorpusReport; readonly data: PreparedData };
  encode: { readonly corpus: CorpusReport; readonly encoded: EncodedPiece[] };
}

type FromWorker =
  | { readonly type: 'progress'; readonly done: number; readonly total: number }
  | { readonly type: 'done'; readonly result: unknown }
  | { readonly type: 'error'; readonly kind: 'user' | 'range' | 'other'; readonly message: string; readonly stack?: string };

/** Progress of the file loading. */
type OnFile = (done: number, total: number) => void;

/** Loads a corpus in a worker thread (see the file comment). */
export function loadCorpusStoppable(io: Io, folders: readonly string[], options: LoadOptions = {}, onFile?: OnFile): Promise<Corpus> {
  return offload(io, { kind: 'corpus', folders, options }, onFile);
}

/** Loads a corpus and counts its notes, events and tokens, in a worker thread. */
export function corpusStatsStoppable(
  io: Io,
  folders: readonly string[],
  options: LoadOptions,
  tokenizer: TokenizerConfig,
  onFile?: OnFile,
): Promise<Results['stats']> {
  return offload(io, { kind: 'stats', folders, options, tokenizer }, onFile);
}

/** Loads a corpus and prepares it for training (vocabulary, encoding, split), in a worker thread. */
export function prepareDataStoppable(
  io: Io,
  folders: readonly string[],
  options: LoadOptions,
  tokenizer: TokenizerConfig,
  dataset: DatasetConfig,
  vocab: Vocabulary | undefined,
  onFile?: OnFile,
): Promise<Results['prepare']> {
  return offload(io, { kind: 'prepare', folders, options, tokenizer, dataset, vocab }, onFile);
}

/** Loads a corpus and encodes it with `vocab`, in a worker thread. */
export function encodeCorpusStoppable(
  io: Io,
  folders: readonly string[],
  options: LoadOptions,
  vocab: Vocabulary,
): Promise<Results['encode']> {
  return offload(io, { kind: 'encode', folders, options, vocab });
}

/**
 * Notes up to which a piece is written on the main thread. Writing is linear
 * (about 200,000 notes/s, `npm run bench`), so this is a quarter of a second;
 * longer pieces (up to `--length`'s limit) are written in a worker, where a
 * signal stops them at once.
 */
const WRITE_HERE_MAX_NOTES = 50_000;

/** Writes a piece as a MIDI file (atomically), in a worker thread when it is long. */
export async function writeMidiStoppable(io: Io, file: string, piece: Piece): Promise<void> {
  if (piece.notes.length <= WRITE_HERE_MAX_NOTES) writeMidiFile(argPath(file), piece);
  else await offload(io, { kind: 'midi', file, piece });
}

/** Runs `task` in a new worker; rejects with Interrupted on a signal (terminating the worker), or with the worker's error. */
function offload<K extends Task['kind']>(io: Io, task: Extract<Task, { kind: K }>, onFile?: OnFile): Promise<Results[K]> {
  if (io.signal.aborted) return Promise.reject(new Interrupted());
  const boot = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\nrequire(${JSON.stringify(path.join(__dirname, 'offload.ts'))});`;
  return new Promise<Results[K]>((resolve, reject) => {
    const worker = new Worker(boot, { eval: true, workerData: { musicgenOffload: task } });
    let settled = false;
    // The worker is gone before the promise settles, so the process can exit at once.
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      io.signal.removeEventListener('abort', onAbort);
      worker.terminate().then(f, f);
    };
    const onAbort = (): void => settle(() => reject(new Interrupted()));
    io.signal.addEventListener('abort', onAbort);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'progress') onFile?.(m.done, m.total);
      else if (m.type === 'done') settle(() => resolve(m.result as Results[K]));
      else settle(() => reject(rebuildError(m)));
    });
    worker.on('error', (e: Error & { code?: string }) => {
      const why = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'ran out of memory' : `failed (${e.message.split('\n')[0]})`;
      settle(() => reject(new UserError(`${describe(task)} ${why}`)));
    });
    worker.on('exit', (code) => settle(() => reject(new Error(`${describe(task)}: its thread stopped (exit code ${code})`))));
  });
}

/** What a task does, for messages. */
function describe(task: Task): string {
  return task.kind === 'midi' ? `writing ${task.file}` : `loading ${task.folders.join(', ')}`;
}

/** The worker's error as the same kind of error here (UserError and RangeError are the one-line kinds). */
function rebuildError(m: Extract<FromWorker, { type: 'error' }>): Error {
  const e = m.kind === 'user' ? new UserError(m.message) : m.kind === 'range' ? new RangeError(m.message) : new Error(m.message);
  if (m.stack) e.stack = m.stack;
  return e;
}

/** What is reported about a corpus once its pieces have been used. */
function report(c: Corpus): CorpusReport {
  const { pieces, ...rest } = c;
  return { ...rest, loaded: pieces.length };
}

/** The task's work, in the worker. */
function run(task: Task, onFile: (done: number, total: number) => void): unknown {
  if (task.kind === 'midi') {
    writeMidiFile(argPath(task.file), task.piece);
    return null;
  }
  const corpus = loadCorpus(task.folders.map(argPath), task.options, onFile);
  switch (task.kind) {
    case 'corpus':
      return corpus;
    case 'stats':
      return { corpus: report(corpus), stats: corpusStats(corpus, task.tokenizer) };
    case 'prepare':
      return { corpus: report(corpus), data: prepareData(corpus.pieces, task.tokenizer, task.dataset, task.vocab) };
    case 'encode':
      return { corpus: report(corpus), encoded: encodePieces(task.vocab, corpus.pieces) };
  }
}

const task = isMainThread ? undefined : (workerData as { musicgenOffload?: Task } | null)?.musicgenOffload;
if (task && parentPort) {
  const port = parentPort;
  let last = 0;
  const onFile = (done: number, total: number): void => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    port.postMessage({ type: 'progress', done, total } satisfies FromWorker);
  };
  // Stay alive until the main thread has the answer and terminates this thread.
  port.on('message', () => undefined);
  try {
    port.postMessage({ type: 'done', result: run(task, onFile) } satisfies FromWorker);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const kind = err instanceof UserError ? 'user' : err instanceof RangeError ? 'range' : 'other';
    port.postMessage({ type: 'error', kind, message: err.message, stack: err.stack } satisfies FromWorker);
  }
}
