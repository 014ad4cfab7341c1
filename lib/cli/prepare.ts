/**
 * `musicgen prepare`: tokenize folders of MIDI files once into a prepared
 * folder of binary shards (docs/prepared-format.md), on worker threads, which
 * `train` and `evaluate` then read with `--data DIR`. Ctrl-C stops it with
 * the finished files kept; the same command goes on from there.
 */
import { DEFAULT_DATASET_CONFIG, validateDatasetConfig } from '../data/dataset';
import { prepareThreads } from '../data/prepare-corpus';
import { stepsRefusal } from '../data/prepare-steps';
import type { StepOptions } from '../tokens/steps';
import { UserError } from '../core/errors';
import { showPath } from '../core/files';
import { asFlagError, defined, num, required, strs, type FlagSpecs, type ParsedArgs } from './args';
import type { PreparedManifest } from '../data/shard-format';
import { argPath } from './paths';
import { logPreparedReport, runPrepare } from './prepared';
import { FLAG_NAMES, midiOptions, MIDI_FLAGS, round, tokenizerFrom, TOKENIZER_FLAGS, type Io, type JsonResult } from './shared';

export const PREPARE_FLAGS: FlagSpecs = {
  data: { type: 'string', multiple: true, help: 'DIR folder of MIDI files (repeat for several)' },
  out: { type: 'string', help: 'DIR prepared folder to write (run again to go on after Ctrl-C, or to bring it up to date)' },
  threads: { type: 'string', help: `N worker threads tokenizing, 0 = one per core (default 0: ${prepareThreads()} here)` },
  'val-fraction': {
    type: 'string',
    help: `X fraction of files the manifest marks for validation (default ${DEFAULT_DATASET_CONFIG.valFraction}; train splits by its own)`,
  },
  seed: { type: 'string', help: `N seed of that split (default ${DEFAULT_DATASET_CONFIG.seed})` },
  family: {
    type: 'string',
    help: 'NAME token (default: token ids only) or note (also the steps a note model reads, for python/musicgen_torch; remi only)',
  },
  'no-lookback': { type: 'boolean', help: 'with --family note: steps without the look-back (as train --no-lookback)' },
  'no-copy': { type: 'boolean', help: 'with --family note: steps without copy ids (as train --no-copy)' },
  ...TOKENIZER_FLAGS,
  ...MIDI_FLAGS,
};

export async function prepareCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const folders = strs(a, 'data');
  if (folders.length === 0) throw new UserError('--data is required');
  const out = argPath(required(a, 'out'));
  const tokenizer = tokenizerFrom(a);
  const steps = stepOptionsFrom(a);
  const refusal = steps ? stepsRefusal(tokenizer) : null;
  if (refusal !== null) throw new UserError(`--family note: ${refusal}`);
  let split: { valFraction: number; seed: number };
  let threads: number;
  try {
    const d = validateDatasetConfig({
      ...DEFAULT_DATASET_CONFIG,
      ...defined({ valFraction: num(a, 'val-fraction'), seed: num(a, 'seed', 'int') }),
    });
    split = { valFraction: d.valFraction, seed: d.seed };
    threads = num(a, 'threads', 'int') ?? 0;
    if (threads < 0 || threads > 256) throw new RangeError(`threads must be an integer in [0, 256] (got ${threads})`);
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  let outcome: { manifest: PreparedManifest; seconds: number; notes: number; reused: number } | null = null;
  await runPrepare(io, {
    folders: folders.map(argPath),
    out,
    midi: midiOptions(a),
    tokenizer,
    split,
    threads: threads === 0 ? prepareThreads() : threads,
    ...(steps ? { steps } : {}),
    onDone: (o) => (outcome = o),
  });
  if (!outcome) throw new Error('prepare ended without a manifest');
  const r: { manifest: PreparedManifest; seconds: number; notes: number; reused: number } = outcome;
  const m = r.manifest;
  logPreparedReport(io, m);
  const notes = m.pieces.reduce((n, p) => n + p.notes, 0);
  const tokens = m.shards.reduce((n, s) => n + s.tokens, 0);
  const val = m.pieces.filter((p) => p.split === 'val').length;
  const stepCount = m.steps ? m.steps.shards.reduce((n, s) => n + s.steps, 0) : 0;
  const stepsNote = m.steps
    ? `; ${stepCount} note-family steps (${m.steps.lookback ? 'look-back' : 'no look-back'}, ${m.steps.copy ? 'copy ids' : 'no copy ids'})`
    : '';
  io.log(
    `prepared ${m.pieces.length} pieces (${m.pieces.length - val} training, ${val} validation; ${notes} notes, ${tokens} ` +
      `tokens, vocabulary ${m.vocabSize}${stepsNote}) in ${m.shards.length} shard${m.shards.length === 1 ? '' : 's'} in ${showPath(out)}; ` +
      `${m.failed.length} skipped; ${r.reused > 0 ? `${r.reused} files kept from before; ` : ''}` +
      `${r.seconds.toFixed(1)} s${r.notes > 0 ? `, ${Math.round(r.notes / Math.max(1e-3, r.seconds))} notes/s` : ''}`,
  );
  return {
    out: showPath(out),
    pieces: m.pieces.length,
    validation: val,
    notes,
    tokens,
    vocabSize: m.vocabSize,
    ...(m.steps ? { steps: stepCount, lookback: m.steps.lookback, copy: m.steps.copy } : {}),
    shards: m.shards.length,
    skipped: m.failed,
    reusedFiles: r.reused,
    seconds: round(r.seconds, 2),
    notesPerSec: Math.round(r.notes / Math.max(1e-3, r.seconds)),
  };
}

/** The step options of `--family note` (a new note model's: the look-back and copy ids unless --no-lookback / --no-copy), or null for the token family. */
function stepOptionsFrom(a: ParsedArgs): StepOptions | null {
  const family = a.values.family;
  const noLookback = a.values['no-lookback'] === true;
  const noCopy = a.values['no-copy'] === true;
  if (family === undefined || family === 'token') {
    if (noLookback || noCopy) throw new UserError(`--${noLookback ? 'no-lookback' : 'no-copy'} needs --family note`);
    return null;
  }
  if (family !== 'note') throw new UserError(`--family must be "token" or "note" (got ${JSON.stringify(family)})`);
  return { lookback: !noLookback, copy: !noCopy && !noLookback };
}
