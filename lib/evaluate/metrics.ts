/**
 * Musical statistics of a set of pieces, to compare generated music with its
 * training data. Every statistic is a plain number with a precise definition
 * below. Per-piece statistics are averaged over the pieces that have at least
 * one note and where the statistic is defined (each such piece weighs the
 * same); they are NaN when no piece has notes. Times are in beats; a note
 * sounds during [start, start + duration).
 */
import type { Note, Piece } from '../core/piece';
import type { Rng } from '../core/rng';
import { structureStats, type StructureStats } from './structure';

/** Statistics of a set of pieces (see each field). */
export interface MusicStats {
  /** Number of pieces. */
  readonly pieces: number;
  /** Pieces without any note (left out of all means). */
  readonly emptyPieces: number;
  /** Total number of notes. */
  readonly notes: number;
  /** Span of a piece, from its first onset to the end of its last note, in beats; mean. */
  readonly lengthBeats: number;
  /** Mean MIDI pitch of a piece's notes; mean over pieces. */
  readonly pitchMean: number;
  /** Highest minus lowest pitch of a piece, in semitones; mean over pieces. */
  readonly pitchRange: number;
  /**
   * Shannon entropy in bits of a piece's pitch-class histogram, counting each
   * note once (not weighted by duration): 0 = one pitch class, log2(12) ≈ 3.585
   * = all twelve equally often; mean over pieces.
   */
  readonly pitchClassEntropy: number;
  /**
   * Fraction of a piece's notes (by count) whose pitch class belongs to the
   * best-fitting of the 24 major and natural-minor diatonic scales (the maximum
   * over keys; a minor key has the notes of its relative major); mean over pieces.
   */
  readonly scaleConsistency: number;
  /**
   * Mean number of notes sounding at once while at least one sounds, weighted
   * by time: Σ durations ÷ length of the union of the notes' intervals (what
   * sampling on an ever finer grid converges to). 1 = strictly monophonic;
   * mean over pieces.
   */
  readonly polyphony: number;
  /** Notes per beat over the piece's span (first onset to last note end); mean over pieces. */
  readonly noteDensity: number;
  /** Distinct onset times per beat over the span; mean over pieces. */
  readonly onsetDensity: number;
  /** Mean note duration in beats; mean over pieces. */
  readonly durationMean: number;
  /**
   * Fraction of the whole beats [b, b+1) (integer b, from the beat holding the
   * first onset to the one holding the end of the last note) that no note
   * overlaps for a positive time; mean over pieces.
   */
  readonly emptyBeatRate: number;
  /**
   * Longest run of one repeated note in the melody, where the melody is the
   * highest pitch starting at each distinct onset time, in onset order, and a
   * run is a stretch of consecutive onsets with the same top pitch (1 = no
   * repetition). Maximum over pieces.
   */
  readonly repeatRunMax: number;
  /** The same longest run, mean over pieces. */
  readonly repeatRunMean: number;
  /**
   * Standard deviation of the MIDI velocities (1–127) of a piece's notes
   * (population form: divided by the number of notes; 0 when all are equally
   * loud), mean over pieces — how much the dynamics vary within a piece.
   */
  readonly velocitySpread: number;
  /**
   * Fraction of a piece's distinct onset times (notes starting together count
   * once, as in onsetDensity) within {@link ON_BEAT_TOLERANCE} beats of a
   * whole beat (a quarter note, whatever the meter, counted from the piece's
   * start); mean over pieces. On remi's grid of 12 steps a beat that is
   * exactly the onsets at steps 0, 12, 24, …
   */
  readonly onBeatShare: number;
  /** Meter changes per 100 bars of a piece ({@link StructureStats}, ./structure); mean over pieces. */
  readonly meterChangesPer100Bars: number;
  /**
   * Share of a piece's bars where a note starts whose set of (onset step in
   * the bar, pitch class) pairs equals that of one of the 8 bars before
   * ({@link StructureStats}); mean over pieces.
   */
  readonly barRepetition: number;
  /**
   * Groove consistency (Wu & Yang 2020): 1 − the mean normalised Hamming
   * distance between the onset patterns of adjacent bars
   * ({@link StructureStats}); mean over pieces of two bars or more.
   */
  readonly grooveConsistency: number;
  /**
   * Distinct programs per 1,000 notes: a piece's distinct instruments
   * (General-MIDI programs, the drums as one) × 1000 ÷ its notes
   * ({@link StructureStats}); mean over pieces.
   */
  readonly programsPer1000Notes: number;
}

/** Onsets closer than this (beats) count as simultaneous. */
const ONSET_TOLERANCE = 1e-6;

/**
 * How far (beats) an onset may be from a whole beat and count as on it: half
 * a step of remi's grid of 12 per beat (1/24 beat, 21 ms at 120 bpm), so
 * quantized music counts only onsets exactly on the beat, and unquantized
 * MIDI those played within that much of it.
 */
const ON_BEAT_TOLERANCE = 1 / 24;

/** Major-scale pitch classes relative to the tonic. */
const MAJOR = [0, 2, 4, 5, 7, 9, 11];

/** Computes the statistics of a set of pieces (inputs are not modified). */
export function musicStats(pieces: readonly Piece[]): MusicStats {
  const per: (PieceStats & StructureStats)[] = [];
  let notes = 0;
  for (const p of pieces) {
    notes += p.notes.length;
    if (p.notes.length > 0) per.push({ ...pieceStats(p.notes), ...structureStats(p) });
  }
  const mean = (f: (s: PieceStats & StructureStats) => number): number => {
    const xs = per.map(f).filter((x) => !Number.isNaN(x));
    return xs.length > 0 ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN;
  };
  return {
    pieces: pieces.length,
    emptyPieces: pieces.length - per.length,
    notes,
    lengthBeats: mean((s) => s.span),
    pitchMean: mean((s) => s.pitchMean),
    pitchRange: mean((s) => s.pitchRange),
    pitchClassEntropy: mean((s) => s.pcEntropy),
    scaleConsistency: mean((s) => s.scale),
    polyphony: mean((s) => s.polyphony),
    noteDensity: mean((s) => s.noteDensity),
    onsetDensity: mean((s) => s.onsetDensity),
    durationMean: mean((s) => s.durationMean),
    emptyBeatRate: mean((s) => s.emptyBeatRate),
    repeatRunMax: per.length > 0 ? Math.max(...per.map((s) => s.repeatRun)) : NaN,
    repeatRunMean: mean((s) => s.repeatRun),
    velocitySpread: mean((s) => s.velocitySpread),
    onBeatShare: mean((s) => s.onBeatShare),
    meterChangesPer100Bars: mean((s) => s.meterChangesPer100Bars),
    barRepetition: mean((s) => s.barRepetition),
    grooveConsistency: mean((s) => s.grooveConsistency),
    programsPer1000Notes: mean((s) => s.programsPer1000Notes),
  };
}

/** The order {@link noteExcerpts} reads notes in: by onset, then pitch. */
export const onsetOrder = (a: Note, b: Note): number => a.start - b.start || a.pitch - b.pitch;

/**
 * One excerpt of `count` consecutive notes (in onset order) from each piece, at
 * an offset drawn from `rng`; a piece with fewer notes is kept whole. Statistics
 * such as velocity spread and pitch range grow with a piece's length, so music
 * of `count` notes is compared with excerpts of the data this long, not with
 * whole pieces. Inputs are not modified.
 */
export function noteExcerpts(pieces: readonly Piece[], count: number, rng: Rng): Piece[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be an integer ≥ 1 (got ${count})`);
  return pieces.map((p) => {
    if (p.notes.length <= count) return p;
    const notes = [...p.notes].sort(onsetOrder);
    const from = Math.floor(rng.next() * (notes.length - count + 1));
    return { ...p, notes: notes.slice(from, from + count) };
  });
}

interface PieceStats {
  readonly span: number;
  readonly pitchMean: number;
  readonly pitchRange: number;
  readonly pcEntropy: number;
  readonly scale: number;
  readonly polyphony: number;
  readonly noteDensity: number;
  readonly onsetDensity: number;
  readonly durationMean: number;
  readonly emptyBeatRate: number;
  readonly repeatRun: number;
  readonly velocitySpread: number;
  readonly onBeatShare: number;
}

/** Statistics of one non-empty list of notes. */
function pieceStats(notes: readonly Note[]): PieceStats {
  const n = notes.length;
  let lo = Infinity;
  let hi = -Infinity;
  let pitchSum = 0;
  let durSum = 0;
  let velSum = 0;
  let velSquares = 0;
  let first = Infinity;
  let end = -Infinity;
  const pcs = new Array<number>(12).fill(0);
  for (const x of notes) {
    lo = Math.min(lo, x.pitch);
    hi = Math.max(hi, x.pitch);
    pitchSum += x.pitch;
    durSum += x.duration;
    velSum += x.velocity;
    velSquares += x.velocity * x.velocity;
    first = Math.min(first, x.start);
    end = Math.max(end, x.start + x.duration);
    pcs[((x.pitch % 12) + 12) % 12]++;
  }
  let entropy = 0;
  for (const c of pcs) if (c > 0) entropy -= (c / n) * Math.log2(c / n);
  let scale = 0;
  for (let tonic = 0; tonic < 12; tonic++) {
    scale = Math.max(scale, MAJOR.reduce((a, d) => a + pcs[(tonic + d) % 12], 0) / n);
  }
  const union = unionIntervals(notes);
  const covered = union.reduce((a, [s, e]) => a + (e - s), 0);
  const span = end - first;
  const groups = onsetGroups(notes);
  const melody = groups.map((g) => g.top);
  const onBeat = groups.filter((g) => Math.abs(g.start - Math.round(g.start)) <= ON_BEAT_TOLERANCE + 1e-9).length;
  const velMean = velSum / n;
  return {
    span,
    pitchMean: pitchSum / n,
    pitchRange: hi - lo,
    pcEntropy: entropy,
    scale,
    polyphony: covered > 0 ? durSum / covered : 1,
    noteDensity: span > 0 ? n / span : 0,
    onsetDensity: span > 0 ? melody.length / span : 0,
    durationMean: durSum / n,
    emptyBeatRate: emptyBeatRate(union, first, end),
    repeatRun: longestRun(melody),
    velocitySpread: Math.sqrt(Math.max(0, velSquares / n - velMean * velMean)),
    onBeatShare: onBeat / groups.length,
  };
}

/** The union of the notes' sounding intervals, as sorted disjoint [start, end) pairs. */
function unionIntervals(notes: readonly Note[]): [number, number][] {
  const iv = notes.filter((x) => x.duration > 0).map((x): [number, number] => [x.start, x.start + x.duration]);
  iv.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of iv) {
    const lastIv = out[out.length - 1];
    if (lastIv && s <= lastIv[1]) lastIv[1] = Math.max(lastIv[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Fraction of whole beats between `first` and `end` that no interval overlaps. */
function emptyBeatRate(union: readonly (readonly [number, number])[], first: number, end: number): number {
  const eps = 1e-9;
  const b0 = Math.floor(first + eps);
  const b1 = Math.max(b0 + 1, Math.ceil(end - eps)); // exclusive
  const hit = new Uint8Array(b1 - b0);
  for (const [s, e] of union) {
    const lo = Math.max(b0, Math.floor(s + eps));
    const hi = Math.min(b1, Math.ceil(e - eps));
    for (let b = lo; b < hi; b++) hit[b - b0] = 1;
  }
  let empty = 0;
  for (const h of hit) if (h === 0) empty++;
  return empty / hit.length;
}

/** Highest pitch starting at each distinct onset, in onset order (notes within ONSET_TOLERANCE of an onset group's first start join it). */
export function topLine(notes: readonly Note[]): number[] {
  return onsetGroups(notes).map((g) => g.top);
}

/** Notes grouped by onset: a note within ONSET_TOLERANCE of a group's first start joins it. Each group's start and highest pitch. */
function onsetGroups(notes: readonly Note[]): { start: number; top: number }[] {
  const sorted = [...notes].sort((a, b) => a.start - b.start);
  const out: { start: number; top: number }[] = [];
  for (const x of sorted) {
    const g = out[out.length - 1];
    if (!g || x.start - g.start > ONSET_TOLERANCE) out.push({ start: x.start, top: x.pitch });
    else g.top = Math.max(g.top, x.pitch);
  }
  return out;
}

/** Longest stretch of equal consecutive values (0 for an empty list). */
export function longestRun(values: readonly number[]): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < values.length; i++) {
    run = i > 0 && values[i] === values[i - 1] ? run + 1 : 1;
    best = Math.max(best, run);
  }
  return best;
}

/** One row of {@link compareStats}. */
export interface StatComparison {
  readonly generated: number;
  readonly data: number;
  /** generated − data. */
  readonly difference: number;
  /** (generated − data) / |data|; 0 when both are 0; null when only data is 0 (or either is NaN). */
  readonly relative: number | null;
}

/** Field-by-field comparison of generated music with the data. */
export function compareStats(generated: MusicStats, data: MusicStats): Record<keyof MusicStats, StatComparison> {
  const out = {} as Record<keyof MusicStats, StatComparison>;
  for (const key of Object.keys(data) as (keyof MusicStats)[]) {
    const g = generated[key];
    const d = data[key];
    const relative = Number.isNaN(g) || Number.isNaN(d) ? null : d !== 0 ? (g - d) / Math.abs(d) : g === 0 ? 0 : null;
    out[key] = { generated: g, data: d, difference: g - d, relative };
  }
  return out;
}
