/**
 * The last stage of `musicgen prepare` (./prepare-corpus.ts): the parts'
 * token counts summed into the vocabulary (the same one buildVocabulary
 * builds from the pieces), each part's ids mapped onto it and written into
 * shards of whole pieces, the split by file, then vocab.json and, last,
 * manifest.json. The old manifest goes first, so a folder being rewritten is
 * never read as complete; each shard is written under a temporary name and
 * renamed.
 */
import * as fs from 'node:fs';
import { errCode, UserError } from '../core/errors';
import { joinPath, readJsonFile, showPath, type FilePath } from '../core/files';
import type { MidiReadOptions } from '../midi/read';
import type { TokenizerConfig } from '../tokens/config';
import type { StepOptions } from '../tokens/steps';
import { compareTokens, tokenFromString } from '../tokens/token';
import { schemeOf } from '../tokens/tokenize';
import { saveVocabulary } from '../tokens/vocab-file';
import { encodeTokens, makeVocabulary, type Vocabulary } from '../tokens/vocabulary';
import { splitByFile } from './dataset';
import { STEP_RECORD_BYTES, stepRecords, stepShardName, stepsHeader, type PreparedSteps } from './prepare-steps';
import { partName, type PartJson } from './prepare-worker';
import {
  dtypeBytes,
  dtypeFor,
  PREPARED_FORMAT,
  SHARD_BYTES,
  shardName,
  writeManifest,
  type FailedFile,
  type PreparedManifest,
  type PreparedPiece,
} from './shard-format';

/** What the merge needs. */
export interface MergeInput {
  readonly out: FilePath;
  readonly partsDir: FilePath;
  readonly chunks: number;
  /** The folders as given (piece names are prefixed by them when there are several). */
  readonly folders: readonly string[];
  readonly unusable: readonly FailedFile[];
  readonly passedOver: number;
  readonly midi: MidiReadOptions;
  readonly tokenizer: TokenizerConfig;
  readonly split: { readonly valFraction: number; readonly seed: number };
  /** Also write each piece's note-family steps, cut with these options (./prepare-steps.ts). */
  readonly steps?: StepOptions;
}

/** The vocabulary buildVocabulary would build from pieces with these token counts: the scheme's fixed one, or every token used, sorted. */
function vocabularyFromCounts(config: TokenizerConfig, counts: ReadonlyMap<string, number>): Vocabulary {
  const fixed = schemeOf(config).fixedVocabulary?.(config);
  const tokens = (fixed ?? [...counts.keys()].map(tokenFromString)).sort(compareTokens);
  const v = makeVocabulary(config, tokens, []);
  return makeVocabulary(
    config,
    tokens,
    v.keys.map((k) => counts.get(k) ?? 0),
  );
}

/** Writes the shards, vocab.json and manifest.json; returns the manifest. */
export function mergeParts(m: MergeInput): PreparedManifest {
  const parts: PartJson[] = [];
  for (let i = 0; i < m.chunks; i++) parts.push(readJsonFile(joinPath(m.partsDir, `${partName(i)}.json`)) as PartJson);
  const counts = new Map<string, number>();
  for (const p of parts) p.dict.forEach((k, i) => counts.set(k, (counts.get(k) ?? 0) + p.counts[i]));
  const vocab = vocabularyFromCounts(m.tokenizer, counts);
  const dtype = dtypeFor(vocab.tokens.length);
  const bytes = dtypeBytes(dtype);
  const tag = (folder: number, rel: string): string => (m.folders.length > 1 ? `${m.folders[folder]}/${rel}` : rel);

  fs.rmSync(joinPath(m.out, 'manifest.json'), { force: true });
  const stepsHead = m.steps ? stepsHeader(vocab, m.steps) : null;
  const stepShards: PreparedSteps['shards'][number][] = [];
  let stepFd = -1;
  let shardSteps = 0;
  const shards: { file: string; tokens: number }[] = [];
  const pieces: Omit<PreparedPiece, 'split'>[] = [];
  const failed: FailedFile[] = [...m.unusable];
  let warnings = 0;
  let fd = -1;
  let shardTokens = 0;
  const tmpOf = (i: number): FilePath => joinPath(m.out, `.${shardName(i)}.${process.pid}.tmp`);
  const stepTmpOf = (i: number): FilePath => joinPath(m.out, `.${stepShardName(i)}.${process.pid}.tmp`);
  const closeShard = (): void => {
    if (fd < 0) return;
    fs.closeSync(fd);
    fd = -1;
    const i = shards.length;
    if (stepFd >= 0) {
      fs.closeSync(stepFd);
      stepFd = -1;
      fs.renameSync(stepTmpOf(i), joinPath(m.out, stepShardName(i)));
      stepShards.push({ file: stepShardName(i), steps: shardSteps });
    }
    fs.renameSync(tmpOf(i), joinPath(m.out, shardName(i)));
    shards.push({ file: shardName(i), tokens: shardTokens });
  };
  try {
    parts.forEach((part, chunk) => {
      const bin = fs.readFileSync(joinPath(m.partsDir, `${partName(chunk)}.bin`));
      const local = Int32Array.from(part.dict, (k) => vocab.index.get(k) ?? -1);
      const complete = !local.includes(-1);
      let at = 0;
      for (const f of part.files) {
        const name = tag(f.folder, f.rel);
        if (f.reason !== undefined || f.length === undefined) {
          failed.push({ path: name, reason: f.reason ?? 'unknown error', size: f.size, mtimeMs: f.mtimeMs });
          continue;
        }
        const raw = new Int32Array(f.length);
        for (let i = 0; i < f.length; i++) raw[i] = bin.readInt32LE((at + i) * 4);
        at += f.length;
        // Tokens the vocabulary lacks (a fixed one) are mapped as encodePiece maps them.
        const ids = complete
          ? raw.map((id) => local[id])
          : Int32Array.from(
              encodeTokens(
                vocab,
                Array.from(raw, (id) => tokenFromString(part.dict[id])),
              ),
            );
        if (fd >= 0 && (shardTokens + ids.length) * bytes > SHARD_BYTES) closeShard();
        if (fd < 0) {
          fd = fs.openSync(tmpOf(shards.length), 'w');
          shardTokens = 0;
          if (m.steps) {
            stepFd = fs.openSync(stepTmpOf(shards.length), 'w');
            shardSteps = 0;
          }
        }
        const buf = Buffer.allocUnsafe(ids.length * bytes);
        if (bytes === 2) for (let i = 0; i < ids.length; i++) buf.writeUInt16LE(ids[i], i * 2);
        else for (let i = 0; i < ids.length; i++) buf.writeInt32LE(ids[i], i * 4);
        fs.writeSync(fd, buf);
        let steps: { steps?: { offset: number; count: number } } = {};
        if (m.steps) {
          const records = stepRecords(vocab, ids, m.steps);
          fs.writeSync(stepFd, records);
          steps = { steps: { offset: shardSteps, count: records.length / STEP_RECORD_BYTES } };
          shardSteps += records.length / STEP_RECORD_BYTES;
        }
        pieces.push({
          name,
          source: { path: f.rel, folder: f.folder, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256 ?? '' },
          shard: shards.length,
          offset: shardTokens,
          length: ids.length,
          notes: f.notes ?? 0,
          ...steps,
        });
        shardTokens += ids.length;
        warnings += f.warnings ?? 0;
      }
    });
    closeShard();
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    if (stepFd >= 0) fs.closeSync(stepFd);
    fs.rmSync(tmpOf(shards.length), { force: true });
    fs.rmSync(stepTmpOf(shards.length), { force: true });
    throw e instanceof UserError ? e : new UserError(`cannot write the shards in ${showPath(m.out)}: ${errCode(e)}`);
  }
  if (pieces.length === 0) throw new UserError(`no usable MIDI files in ${m.folders.join(', ')}`);
  // Shards of an earlier, larger preparation, and step shards of one with steps when this one has none.
  for (const name of fs.readdirSync(m.out)) {
    const s = /^(shard|steps)-(\d{4,})\.bin$/.exec(name);
    if (s && (Number(s[2]) >= shards.length || (s[1] === 'steps' && !m.steps))) fs.rmSync(joinPath(m.out, name), { force: true });
  }
  const { val } = splitByFile(pieces, m.split.valFraction, m.split.seed);
  const isVal = new Set(val);
  saveVocabulary(joinPath(m.out, 'vocab.json'), vocab);
  const manifest: PreparedManifest = {
    format: PREPARED_FORMAT,
    dtype,
    vocabSize: vocab.tokens.length,
    tokenizer: m.tokenizer,
    midi: { includeDrums: m.midi.includeDrums === true, tracks: m.midi.tracks ?? null, programs: m.midi.programs ?? null },
    split: m.split,
    shards,
    pieces: pieces.map((p) => ({ ...p, split: isVal.has(p) ? 'val' : 'train' })),
    failed,
    folders: m.folders,
    passedOver: m.passedOver,
    warnings,
    ...(stepsHead ? { steps: { ...stepsHead, shards: stepShards } } : {}),
  };
  writeManifest(m.out, manifest);
  return manifest;
}
