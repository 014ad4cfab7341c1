/**
 * Using a prepared folder (./shard-format.ts): opening it (manifest and
 * vocabulary checked against each other), whether its source files are still
 * as they were (size and mtime, then sha256), and its pieces as in-memory
 * {@link EncodedPiece}s under a given vocabulary (re-encoded through the
 * tokens when that vocabulary is another one).
 */
import * as fs from 'node:fs';
import { UserError } from '../core/errors';
import { joinPath, showPath, type FilePath } from '../core/files';
import { pitchedPositions } from '../tokens/token';
import { loadVocabulary } from '../tokens/vocab-file';
import { decodeIds, encodeTokens, type Vocabulary } from '../tokens/vocabulary';
import type { EncodedPiece } from './dataset';
import { listCorpus } from './prepare-corpus';
import { readManifest, ShardReader, type PreparedManifest } from './shard-format';

/** An opened prepared folder. */
export interface PreparedFolder {
  readonly dir: FilePath;
  readonly manifest: PreparedManifest;
  readonly vocab: Vocabulary;
  readonly reader: ShardReader;
}

/** Opens a prepared folder; a one-line UserError names the file and field that is wrong. */
export function openPrepared(dir: FilePath): PreparedFolder {
  const manifest = readManifest(dir);
  const vocabFile = joinPath(dir, 'vocab.json');
  const vocab = loadVocabulary(vocabFile);
  if (vocab.tokens.length !== manifest.vocabSize)
    throw new UserError(`${showPath(vocabFile)}: ${vocab.tokens.length} tokens, but manifest.json gives vocabSize ${manifest.vocabSize}`);
  if (JSON.stringify(vocab.config) !== JSON.stringify(manifest.tokenizer))
    throw new UserError(`${showPath(vocabFile)}: its tokenizer differs from manifest.json's (prepare the corpus again)`);
  return { dir, manifest, vocab, reader: new ShardReader(dir, manifest) };
}

/** Whether two vocabularies give every token the same id. */
export function sameIds(a: Vocabulary, b: Vocabulary): boolean {
  return a.keys.length === b.keys.length && a.keys.every((k, i) => k === b.keys[i]);
}

/** How a prepared folder's sources compare with the files now in its folders. */
export interface SourceCheck {
  /** Files added, removed or changed in size or modification time (their names), empty when the preparation still holds. */
  readonly changed: readonly string[];
}

/** Compares the manifest's files with `folders` (the folders it was prepared from, in the same order). */
export function checkSources(m: PreparedManifest, folders: readonly FilePath[]): SourceCheck {
  const { files, unusable } = listCorpus(folders);
  const known = new Map<string, { size?: number; mtimeMs?: number; sha256?: string }>();
  for (const p of m.pieces) known.set(`${p.source.folder}\0${p.source.path}`, p.source);
  const tagged = (folder: number, rel: string): string => (m.folders.length > 1 ? `${m.folders[folder]}/${rel}` : rel);
  for (const f of m.failed) {
    const folder = m.folders.length > 1 ? m.folders.findIndex((d) => f.path.startsWith(`${d}/`)) : 0;
    const rel = m.folders.length > 1 && folder >= 0 ? f.path.slice(m.folders[folder].length + 1) : f.path;
    known.set(`${folder}\0${rel}`, f);
  }
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const key = `${f.folder}\0${f.rel}`;
    seen.add(key);
    const was = known.get(key);
    if (!was) {
      changed.push(`${tagged(f.folder, f.rel)} (new)`);
      continue;
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(f.file);
    } catch {
      changed.push(tagged(f.folder, f.rel));
      continue;
    }
    // A touched file counts as changed, as make counts it: only its chunk is prepared again.
    if (st.size !== was.size || st.mtimeMs !== was.mtimeMs) changed.push(tagged(f.folder, f.rel));
  }
  for (const u of unusable) seen.add(`${u.folder}\0${u.path}`);
  for (const key of known.keys()) if (!seen.has(key)) changed.push(`${key.split('\0')[1]} (gone)`);
  return { changed };
}

/**
 * The prepared pieces `indices` (manifest order) as EncodedPieces named
 * `names[k]`, under `vocab`: the shards' ids as they are when it is the
 * folder's own vocabulary, else re-encoded through their tokens (as a MIDI
 * load encodes them: unknown tokens to the nearest known one).
 */
export function piecesInMemory(
  prep: PreparedFolder,
  indices: readonly number[],
  names: readonly string[],
  vocab: Vocabulary = prep.vocab,
): EncodedPiece[] {
  const same = sameIds(vocab, prep.vocab);
  return indices.map((i, k) => {
    const raw = prep.reader.pieceIds(i);
    const ids = same ? raw : Int32Array.from(encodeTokens(vocab, decodeIds(prep.vocab, raw)));
    return { name: names[k], ids, pitched: pitchedPositions(decodeIds(vocab, ids)) };
  });
}
