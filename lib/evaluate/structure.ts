/**
 * Structure of a piece, bar by bar: how often its meter changes, how often a
 * bar comes back, and how steady its rhythm stays from one bar to the next;
 * and how small a band it keeps (distinct instruments per 1,000 notes).
 * The statistics of ./metrics see only note-level mixtures (pitch classes,
 * density, on-beat share), so well-mixed random notes score like music there;
 * these see whether the music holds together.
 *
 * Bars come from the piece's time signatures ({@link bars} in core/piece; 4/4
 * until the first one). A note belongs to the bar its onset falls in, after
 * the onset is rounded to a grid of {@link STRUCTURE_STEPS_PER_BEAT} steps per
 * beat: remi's grid (sixteenths and eighth-note triplets), into which the
 * 4-step grid of the timed and classic schemes fits exactly, so music decoded
 * from tokens is measured without rounding, and unquantized MIDI is rounded to
 * the nearest twelfth of a beat. A bar's length in steps is its length in
 * beats on that grid (48 for 4/4, 36 for 6/8).
 *
 * Only the bars from the one holding the piece's first onset to the one
 * holding its last are measured (the span), so an excerpt from the middle of
 * a piece, or the new part of a generated one, is measured on its own bars.
 */
import { bars, changesInForce, instrumentOf, sameMeter, type Piece, type TimeSignature } from '../core/piece';

/** Grid steps per beat on which onsets are placed in their bar (see the module comment). */
const STRUCTURE_STEPS_PER_BEAT = 12;

/** How many bars back a bar may find its twin and count as repeated. */
export const REPEAT_LOOKBACK = 8;

/** What a bar holds, on the grid. */
export interface BarContent {
  /** The time signature in force. */
  readonly meter: TimeSignature;
  /** Length in grid steps (a bar cut short by a meter change is shorter than its meter). */
  readonly steps: number;
  /** The distinct onset steps within the bar (0 = its downbeat), ascending. */
  readonly onsets: readonly number[];
  /**
   * The set of (onset step in the bar, pitch class) pairs, as a canonical
   * string: two bars hold the same set exactly when these are equal. Empty
   * for a bar where no note starts.
   */
  readonly key: string;
}

/** The structure statistics of one piece (see each field). */
export interface StructureStats {
  /** Bars in the span (0 for a piece without notes). */
  readonly bars: number;
  /**
   * Meter changes per 100 bars: 100 × the number of bars of the span whose
   * meter differs from the bar before them, ÷ the bars of the span. NaN
   * without notes.
   */
  readonly meterChangesPer100Bars: number;
  /**
   * The share of the span's non-empty bars (those where a note starts) whose
   * set of (onset step, pitch class) pairs equals that of one of the
   * {@link REPEAT_LOOKBACK} bars before them within the span. An empty bar is
   * neither counted nor a repeat (silence coming back is not a figure coming
   * back), and the first non-empty bar can never repeat: a piece that plays one
   * bar n times scores (n − 1) / n. NaN without notes.
   */
  readonly barRepetition: number;
  /**
   * Groove consistency (Wu & Yang 2020, "The Jazz Transformer on the front
   * line"): 1 − the mean, over the span's pairs of adjacent bars, of the
   * Hamming distance between their onset patterns (which grid steps of the
   * bar hold an onset) divided by the grid size, the longer bar's steps when
   * the two differ. Empty bars take part (an all-zero pattern). 1 = every
   * bar has the same rhythm. NaN for a span of fewer than two bars.
   */
  readonly grooveConsistency: number;
  /**
   * Distinct programs per 1,000 notes: the number of distinct instruments
   * the piece's notes play with (a melodic note's General-MIDI program, its
   * own or else the piece's; all drum notes together count as one
   * instrument) × 1000 ÷ its notes. A song keeps a band of a few instruments
   * (MidiTok's multitrack test songs: 5–11 in 2,700–8,300 notes, 1–4 per
   * 1,000 notes); a model that brings in a new instrument every 19 notes
   * scores about 50. It falls as a piece with a fixed band grows, so
   * compare it on pieces and excerpts of one length. NaN without notes.
   */
  readonly programsPer1000Notes: number;
}

/** The meter before a piece's first time signature, as in a MIDI file. */
const FOUR_FOUR: TimeSignature = { beat: 0, numerator: 4, denominator: 4 };

/** The bars of a piece's span with what each holds (see {@link BarContent}); none for a piece without notes. The piece is not modified. */
export function barContents(piece: Piece): BarContent[] {
  if (piece.notes.length === 0) return [];
  const grid = (beat: number): number => Math.round(beat * STRUCTURE_STEPS_PER_BEAT);
  const notes = piece.notes.map((n) => ({ step: grid(n.start), pitchClass: ((n.pitch % 12) + 12) % 12 })).sort((a, b) => a.step - b.step);
  // Every bar that starts at or before the last onset's step (half a step of margin against rounding).
  const signatures = changesInForce(piece.timeSignatures, sameMeter, () => FOUR_FOUR);
  const all = bars(signatures, (notes[notes.length - 1].step + 0.5) / STRUCTURE_STEPS_PER_BEAT);
  const starts = all.map((b) => grid(b.start));
  // The onsets and the bars walked together: each onset goes to the last bar starting at or before it.
  const held = new Map<number, { readonly onsets: Set<number>; readonly keys: Set<number> }>();
  let bar = 0;
  for (const { step, pitchClass } of notes) {
    while (bar + 1 < starts.length && starts[bar + 1] <= step) bar++;
    const h = held.get(bar) ?? { onsets: new Set<number>(), keys: new Set<number>() };
    held.set(bar, h);
    h.onsets.add(step - starts[bar]);
    h.keys.add((step - starts[bar]) * 12 + pitchClass);
  }
  const from = Math.min(...held.keys());
  const ascending = (s: ReadonlySet<number> | undefined): number[] => [...(s ?? [])].sort((x, y) => x - y);
  return all.slice(from, bar + 1).map((b, i) => ({
    meter: b.meter,
    steps: grid(b.start + b.beats) - starts[from + i],
    onsets: ascending(held.get(from + i)?.onsets),
    key: ascending(held.get(from + i)?.keys).join(','),
  }));
}

/** The structure statistics of one piece (see {@link StructureStats}); the piece is not modified. */
export function structureStats(piece: Piece): StructureStats {
  const span = barContents(piece);
  if (span.length === 0)
    return { bars: 0, meterChangesPer100Bars: NaN, barRepetition: NaN, grooveConsistency: NaN, programsPer1000Notes: NaN };
  let changes = 0;
  let filled = 0;
  let repeats = 0;
  let similarity = 0;
  span.forEach((bar, i) => {
    const before = span[i - 1];
    if (before) {
      if (!sameMeter(before.meter, bar.meter)) changes++;
      similarity += 1 - hamming(before.onsets, bar.onsets) / Math.max(1, before.steps, bar.steps);
    }
    if (bar.key === '') return;
    filled++;
    if (span.slice(Math.max(0, i - REPEAT_LOOKBACK), i).some((b) => b.key === bar.key)) repeats++;
  });
  return {
    bars: span.length,
    meterChangesPer100Bars: (100 * changes) / span.length,
    barRepetition: repeats / filled, // the bar of the first onset is never empty
    grooveConsistency: span.length > 1 ? similarity / (span.length - 1) : NaN,
    programsPer1000Notes: programsPer1000Notes(piece),
  };
}

/** Distinct instruments per 1,000 notes of a piece (see {@link StructureStats}); NaN without notes. The piece is not modified. */
export function programsPer1000Notes(piece: Piece): number {
  if (piece.notes.length === 0) return NaN;
  const band = new Set<number>();
  for (const n of piece.notes) {
    const { program, drum } = instrumentOf(n, piece);
    band.add(drum ? -1 : program);
  }
  return (1000 * band.size) / piece.notes.length;
}

/** How many elements one of two ascending lists of distinct numbers has and the other lacks. */
function hamming(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      shared++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return a.length + b.length - 2 * shared;
}
