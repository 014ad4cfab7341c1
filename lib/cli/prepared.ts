/**
 * Prepared corpora for the commands: running `prepare` with a progress bar
 * and Ctrl-C, the cache of MIDI folders prepared by `train` and `evaluate`
 * (one folder per set of data folders and settings), and a prepared folder's
 * pieces split as a MIDI load splits them.
 *
 * The cache lives in `$MUSICGEN_CACHE` when set (`off` turns it off), else in
 * the project's own out/cache/prepared/ (git ignores out/). An entry is named
 * by a hash of the folders' real paths, the tokenizer settings and the MIDI
 * options; it is used while every file is as it was (same size and mtime),
 * and prepared again, keeping the parts of unchanged files, when one is not.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { makeDirs, parentPath, showPath, type FilePath } from '../core/files';
import { lockModelFolder } from '../store/lock';
import { splitByFile } from '../data/dataset';
import { prepareCorpus, prepareThreads, type PrepareCorpusOptions } from '../data/prepare-corpus';
import { checkSources, openPrepared, type PreparedFolder } from '../data/prepared-data';
import { isPreparedFolder, PREPARED_FORMAT, type PreparedManifest } from '../data/shard-format';
import type { MidiReadOptions } from '../midi/read';
import type { TokenizerConfig } from '../tokens/config';
import { startBar } from './progress';
import { Interrupted, logLoadReport, type Io } from './shared';

/** The folder of the cache, or null when `MUSICGEN_CACHE=off`. */
function cacheRoot(): string | null {
  const env = process.env.MUSICGEN_CACHE;
  if (env === 'off') return null;
  return env && env.length > 0 ? path.resolve(env) : path.resolve(__dirname, '..', '..', 'out', 'cache', 'prepared');
}

/** The cache entry for these folders and settings, or null when the cache is off or cannot be written. */
function cacheEntry(folders: readonly FilePath[], tokenizer: TokenizerConfig, midi: MidiReadOptions): FilePath | null {
  const root = cacheRoot();
  if (!root) return null;
  // A cache that cannot be written (a read-only installation) is as good as off: the MIDI is loaded in memory.
  try {
    makeDirs(root, root);
    fs.accessSync(root, fs.constants.W_OK);
  } catch {
    return null;
  }
  const real = folders.map((f) => {
    try {
      return showPath(fs.realpathSync(f));
    } catch {
      return showPath(f);
    }
  });
  const key = JSON.stringify({
    format: PREPARED_FORMAT,
    folders: real,
    tokenizer,
    midi: { includeDrums: midi.includeDrums === true, tracks: midi.tracks ?? null, programs: midi.programs ?? null },
  });
  return path.join(root, createHash('sha256').update(key).digest('hex').slice(0, 16));
}

/** What {@link runPrepare} does. */
export interface PrepareRun extends Omit<PrepareCorpusOptions, 'threads' | 'signal' | 'onProgress'> {
  /** Worker threads (default: one per core). */
  readonly threads?: number;
  /** Told the outcome when this run prepared the folder. */
  readonly onDone?: (r: { manifest: PreparedManifest; seconds: number; notes: number; reused: number }) => void;
}

/**
 * Prepares a corpus with a progress bar, holding a lock on the folder (a run
 * that finds it held waits for it); Ctrl-C stops it with what is done kept
 * for the next run ({@link Interrupted}). `done`, asked once the lock is
 * taken, returns what another process prepared meanwhile, if anything.
 */
export async function runPrepare<T>(io: Io, r: PrepareRun, done?: () => T | null): Promise<T | null> {
  const release = await lockWaiting(io, r.out);
  try {
    const already = done?.() ?? null;
    if (already) return already;
    const bar = startBar('prepare', 1, io.quiet);
    let shown = { done: 0, total: 0 };
    const result = await prepareCorpus({
      ...r,
      threads: r.threads ?? prepareThreads(),
      signal: io.signal,
      onProgress: (d, total, notes) => {
        shown = { done: d, total };
        bar.setTotal(Math.max(1, total));
        bar.update(d, { notes });
      },
    }).finally(() => bar.stop());
    if (!result.manifest)
      throw new Interrupted(
        `interrupted: ${shown.done} of ${shown.total} files prepared in ${showPath(r.out)} are kept; the same command goes on from there`,
      );
    r.onDone?.({ manifest: result.manifest, seconds: result.seconds, notes: result.notes, reused: result.reusedFiles });
    return null;
  } finally {
    release();
  }
}

/** Locks a folder being prepared, waiting (up to 30 minutes, or until Ctrl-C) while another process prepares it. */
async function lockWaiting(io: Io, dir: FilePath): Promise<() => void> {
  makeDirs(parentPath(dir), dir);
  const until = Date.now() + 30 * 60_000;
  let said = false;
  for (;;) {
    try {
      return lockModelFolder(dir);
    } catch (e) {
      if (!(e instanceof UserError) || !/being written/.test(e.message) || Date.now() > until) throw e;
      if (!said) io.log(`waiting for another process preparing ${showPath(dir)}`);
      said = true;
    }
    await new Promise((res) => setTimeout(res, 500));
    if (io.signal.aborted) throw new Interrupted();
  }
}

/** Prints a prepared corpus's files that could not be used, how many were passed over, and how many warnings its files had. */
export function logPreparedReport(io: Io, m: PreparedManifest): void {
  logLoadReport(io, { skipped: m.failed.map((f) => ({ file: f.path, reason: f.reason })), warnings: [], passedOver: m.passedOver }, false);
  if (m.warnings > 0) io.log(`${m.warnings} warnings on loaded files (notes left out or read differently): musicgen inspect lists them`);
}

/**
 * The prepared form of `folders`: the folder itself when it is a prepared
 * one; else (unless `cache` is off) the cache entry for these settings,
 * prepared now, or again when a file changed (unless `cache` is
 * `if-ready`). Null when there is none to use.
 */
export async function preparedFor(
  io: Io,
  folders: readonly FilePath[],
  tokenizer: TokenizerConfig,
  midi: MidiReadOptions,
  split: { readonly valFraction: number; readonly seed: number },
  cache: 'off' | 'if-ready' | 'make',
): Promise<Prepared | null> {
  if (folders.length === 1 && isPreparedFolder(folders[0])) return { prep: openPrepared(folders[0]), cached: false, notes: [] };
  const entry = cache === 'off' ? null : cacheEntry(folders, tokenizer, midi);
  if (!entry) return null;
  const shown = folders.map(showPath).join(', ');
  const notes: string[] = [];
  const ready = readyEntry(notes, entry, folders, shown);
  if (ready || cache === 'if-ready') return ready;
  const meanwhile = await runPrepare(io, { folders, out: entry, midi, tokenizer, split }, () => readyEntry([], entry, folders, shown));
  notes.push(`prepared ${shown} into the cache ${showPath(entry)}; later runs with the same settings reuse it`);
  return meanwhile ?? { prep: openPrepared(entry), cached: true, notes };
}

/** The cache entry when it is complete and its files are as they were (else null, noting why when it is there but stale). */
function readyEntry(notes: string[], entry: FilePath, folders: readonly FilePath[], shown: string): Prepared | null {
  if (!isPreparedFolder(entry)) return null;
  let prep: PreparedFolder;
  try {
    prep = openPrepared(entry);
  } catch {
    return null;
  }
  const check = checkSources(prep.manifest, folders);
  if (check.changed.length === 0) {
    notes.push(`using ${shown} as prepared before with the same settings (cache ${showPath(entry)})`);
    return { prep, cached: true, notes };
  }
  prep.reader.close();
  notes.push(`${shown} changed since it was prepared (${check.changed.slice(0, 3).join(', ')}${check.changed.length > 3 ? ', …' : ''})`);
  return null;
}

/** A prepared folder found for a run, and whether it is a cache entry. */
type Prepared = {
  readonly prep: PreparedFolder;
  readonly cached: boolean;
  /** What to tell the user about the cache once the data is known to be usable (so an error stays one line). */
  readonly notes: readonly string[];
};

/**
 * The names of a prepared folder's pieces as a load of `folders` names them
 * (prefixed by their folder when there are several), the first `maxFiles`,
 * split by file with `valFraction` and `seed` (as splitByFile splits them).
 */
export function splitPrepared(
  prep: PreparedFolder,
  folders: readonly string[] | null,
  valFraction: number,
  seed: number,
  maxFiles?: number,
): { readonly names: string[]; readonly train: number[]; readonly val: number[] } {
  const pieces = prep.manifest.pieces.slice(0, maxFiles && maxFiles > 0 ? maxFiles : undefined);
  const names = pieces.map((p) =>
    folders === null ? p.name : folders.length > 1 ? `${folders[p.source.folder]}/${p.source.path}` : p.source.path,
  );
  const items = names.map((name, index) => ({ name, index }));
  const { train, val } = splitByFile(items, valFraction, seed);
  if (pieces.length === 0) throw new UserError(`no usable MIDI files in ${showPath(prep.dir)}`);
  return { names, train: train.map((x) => x.index), val: val.map((x) => x.index) };
}
