/**
 * The note family on PyTorch DDP in `npm run bench` (scripts/bench-ddp.ts runs it): the model our note kernel
 * trains there (DEFAULT_MODEL_CONFIG with the note family's defaults: 2×256, head 128, step vector 256, headSkip,
 * copy ids and look-back), on batches of 32 windows of 64 steps, and the rows that set its notes/s beside our
 * token kernel's and our note kernel's.
 *
 * PyTorch trains on random steps whose lengths follow the data's step profile ({@link stepProfile}): how many of
 * the remi data's steps hold 1 to 8 code ids, and how many of those hold a note. Its notes/s counts the steps
 * trained whose next step (the head's targets) holds a note: a dur token, or a copy id, which stands for a note.
 * Our token kernel's notes/s is bench.ts's: its tokens/s ÷ the remi tokens per note of the corpus. Our note
 * kernel's is counted here as PyTorch's: its target ids/s × the profile's notes per target id.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_DATASET_CONFIG } from '../lib/data/dataset';
import { stepOptionsOf, withFamilyDefaults, type ModelConfig } from '../lib/model/config';
import { DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_HEAD_UNITS } from '../lib/model/note-network';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { copyBack, STEP_SLOTS, toSteps } from '../lib/tokens/steps';
import { loadVocabulary } from '../lib/tokens/vocab-file';
import type { DdpRate } from './bench-ddp';

/** Steps by their number of code ids (index 0: 1 id … 7: 8 ids), and how many of them hold a note. */
export interface StepProfile {
  readonly lengths: readonly number[];
  readonly notes: readonly number[];
  /** Where it comes from. */
  readonly source: string;
}

/** What python/musicgen_torch/bench.py uses without --step-lengths: piano-midi prepared with copy ids. */
export const PIANO_PROFILE = 'piano-midi (prepare --family note, copy ids): 843,529 steps, 794,251 of them notes';

/** The default note model at the bench's size for this vocabulary (withFamilyDefaults: step vector = units, headSkip, copy). */
export function benchNoteConfig(vocabSize: number): ModelConfig {
  return withFamilyDefaults({ ...DEFAULT_MODEL_CONFIG, family: 'note', vocabSize });
}

/** The shapes of the note family's DDP rows. */
export interface NoteShape {
  readonly vocabSize: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly units: number;
  readonly layers: number;
  readonly headUnits: number;
  readonly stepUnits: number;
  readonly headSkip: boolean;
  readonly copy: boolean;
}

/** The note family's shapes, and `python3 -m musicgen_torch bench`'s flags for them (with the profile, when there is one). */
export function noteShapeArgs(vocabSize: number, profile: StepProfile | null): { shape: NoteShape; args: (string | number)[] } {
  const c = benchNoteConfig(vocabSize);
  const shape: NoteShape = {
    vocabSize,
    batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
    seqLen: DEFAULT_DATASET_CONFIG.seqLen,
    units: c.units,
    layers: c.layers,
    headUnits: c.headUnits ?? DEFAULT_HEAD_UNITS,
    stepUnits: c.stepUnits ?? c.units,
    headSkip: c.headSkip === true,
    copy: stepOptionsOf(c).copy,
  };
  const args = [
    ...['--family', 'note', '--vocab', vocabSize, '--batch-size', shape.batchSize, '--seq-len', shape.seqLen],
    ...['--units', shape.units, '--layers', shape.layers, '--embedding', c.embeddingDim],
    ...['--head-units', shape.headUnits, '--step-units', shape.stepUnits],
    ...(shape.headSkip ? [] : ['--no-head-skip']),
    ...(shape.copy ? [] : ['--no-copy']),
    ...(profile ? ['--step-lengths', profile.lengths.join(','), '--note-steps', profile.notes.join(',')] : []),
  ];
  return { shape, args };
}

/**
 * The step profile of the training pieces bench.ts wrote to `dataDir` (vocab.json, meta.json, ids.bin; remi), cut
 * as the bench's note model cuts them: every step but a piece's first (each is some window's next step).
 */
export function stepProfile(dataDir: string): StepProfile {
  const vocab = loadVocabulary(path.join(dataDir, 'vocab.json'));
  const meta = JSON.parse(fs.readFileSync(path.join(dataDir, 'meta.json'), 'utf8')) as {
    pieces: { name: string; length: number; val: boolean }[];
  };
  const buf = fs.readFileSync(path.join(dataDir, 'ids.bin'));
  const all = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)); // (aligned copy)
  const options = stepOptionsOf(benchNoteConfig(vocab.tokens.length));
  const V = vocab.tokens.length;
  const holdsNote = (id: number): boolean => (id < V ? vocab.tokens[id].kind === 'dur' : copyBack(vocab, id) > 0);
  const lengths = new Array<number>(STEP_SLOTS).fill(0);
  const notes = new Array<number>(STEP_SLOTS).fill(0);
  let off = 0;
  for (const p of meta.pieces) {
    const ids = all.subarray(off, off + p.length);
    off += p.length;
    if (p.val) continue;
    const s = toSteps(vocab, ids, options);
    for (let k = 1; k < s.count; k++) {
      const n = s.lengths[k];
      if (n < 1) continue;
      lengths[n - 1]++;
      if (Array.from(s.groups.subarray(k * STEP_SLOTS, k * STEP_SLOTS + n)).some(holdsNote)) notes[n - 1]++;
    }
  }
  const fmt = (x: number): string => x.toLocaleString('en-US');
  const steps = lengths.reduce((a, b) => a + b, 0);
  return {
    lengths,
    notes,
    source: `the bench's remi training pieces: ${fmt(steps)} steps, ${fmt(notes.reduce((a, b) => a + b, 0))} of them notes`,
  };
}

/** The note family's DDP measurements with 1 and 2 processes, or why there are none. */
export interface DdpNoteBench {
  readonly shape: NoteShape;
  /** The step profile passed to PyTorch (its source says which). */
  readonly profile: string;
  readonly rates: readonly DdpRate[];
  readonly skipped: string | null;
}

/** Our own kernels' figures from the same bench run, when measured. */
export interface OurNotes {
  /** The remi token model (the same size) in the training loop: its notes/s (tokens/s ÷ remi tokens per note) and threads. */
  readonly token: { readonly notesPerSec: number; readonly threads: number } | null;
  /** The note model in the training loop: its target ids/s and threads. */
  readonly note: { readonly idsPerSec: number; readonly threads: number } | null;
  /** The profile's notes per target id (our note kernel's ids/s × it = its notes/s as PyTorch counts them). */
  readonly notesPerId: number | null;
}

/** Rows for bench.ts's table: [label, value, note]. */
export function ddpNoteRows(d: DdpNoteBench, ours: OurNotes): string[][] {
  const fmt = (x: number, digits = 0): string =>
    x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const label = 'training, PyTorch DDP note family';
  if (d.skipped && d.rates.length === 0) return [[label, 'skipped', d.skipped]];
  const s = d.shape;
  const model = `${s.layers}×${s.units}, head ${s.headUnits}, step vector ${s.stepUnits}${s.headSkip ? ', headSkip' : ''}${s.copy ? ', copy ids' : ''}`;
  const ourNote = ours.note && ours.notesPerId !== null ? ours.note.idsPerSec * ours.notesPerId : null;
  const rows = d.rates.map((r) => {
    const notes = r.notesPerSec ?? 0;
    const against = [
      ours.token
        ? `${fmt(notes / ours.token.notesPerSec, 2)}× our remi token kernel's ${fmt(ours.token.notesPerSec)} notes/s (${ours.token.threads} thread${ours.token.threads > 1 ? 's' : ''})`
        : null,
      ourNote && ours.note
        ? `${fmt(notes / ourNote, 2)}× our note kernel's ${fmt(ourNote)} notes/s (${ours.note.threads} thread${ours.note.threads > 1 ? 's' : ''})`
        : null,
    ].filter((x): x is string => x !== null);
    return [
      `${label} (gloo, ${r.processes} process${r.processes > 1 ? 'es' : ''})`,
      `${fmt(notes)} notes/s`,
      `${fmt(r.tokensPerSec)} target ids/s; ${r.batches} × ${s.batchSize}×${s.seqLen} steps, ${model}, vocabulary ${fmt(s.vocabSize)}; ${fmt((r.seconds * 1000) / r.batches)} ms/batch${against.length ? `; ${against.join(', ')}` : ''}`,
    ];
  });
  rows.push([
    '  (note family, PyTorch)',
    '',
    `random steps with the step lengths of ${d.profile}; notes/s = steps trained whose next step holds a note (a dur or a copy id); our note kernel's notes/s here = its target ids/s × the profile's notes per id`,
  ]);
  if (d.skipped) rows.push([label, 'failed', d.skipped]);
  return rows;
}
