/**
 * The one data type for a piece of music that every stage passes around.
 *
 * Times are in beats (quarter notes), derived from MIDI ticks and PPQ, so tempo
 * changes never distort rhythm. All values are plain readonly data: no stage
 * mutates a Piece; functions that change one return a new one.
 */

/** One sounding note. */
export interface Note {
  /** MIDI pitch, 0–127 (60 = middle C). */
  readonly pitch: number;
  /** Onset in beats from the start of the piece. */
  readonly start: number;
  /** Length in beats (> 0). */
  readonly duration: number;
  /** MIDI velocity, 1–127. */
  readonly velocity: number;
  /** General-MIDI program (0–127) of the note's instrument; absent means the piece's `program`. */
  readonly program?: number;
  /** True for a drum note (General-MIDI channel 10); `pitch` is then a drum sound. */
  readonly drum?: boolean;
}

/** A tempo change at a beat position. */
export interface TempoChange {
  readonly beat: number;
  readonly bpm: number;
}

/** A time-signature change at a beat position. */
export interface TimeSignature {
  readonly beat: number;
  readonly numerator: number;
  readonly denominator: number;
}

/** A piece of music: notes sorted by (start, pitch) plus metadata. */
export interface Piece {
  /** Where it came from (file path relative to the loaded folder, or a chosen name). */
  readonly name: string;
  readonly notes: readonly Note[];
  /** Tempo map; the first entry applies from beat 0. Never empty. */
  readonly tempos: readonly TempoChange[];
  /** Time signatures; never empty (4/4 when the file has none). */
  readonly timeSignatures: readonly TimeSignature[];
  /** General-MIDI program (0–127) of the first instrument; notes without their own `program` play with it. */
  readonly program: number;
}

/** The instrument a note plays with: its own program, else the piece's; drums apart. */
export function instrumentOf(note: Note, piece: Pick<Piece, 'program'>): { readonly program: number; readonly drum: boolean } {
  return { program: note.program ?? piece.program, drum: note.drum === true };
}

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];

/** Scientific pitch name of a MIDI pitch, e.g. 60 → "C4", 61 → "C#4". */
export function pitchName(pitch: number): string {
  return `${NOTE_NAMES[((pitch % 12) + 12) % 12]}${Math.floor(pitch / 12) - 1}`;
}

/** Default tempo when a file has none (MIDI's own default). */
export const DEFAULT_BPM = 120;

/** Whether two tempo changes set the same tempo. */
export const sameTempo = (a: TempoChange, b: TempoChange): boolean => a.bpm === b.bpm;

/** Whether two time-signature changes set the same meter. */
export const sameMeter = (a: TimeSignature, b: TimeSignature): boolean => a.numerator === b.numerator && a.denominator === b.denominator;

/**
 * Tempo or meter changes as they are in force, in beat order (a new array):
 * of several at one beat the last wins, a change that repeats the one in
 * force is dropped, and one holds from beat 0. When the first change comes
 * later (or there is none), `opening(first)` gives the one in force before
 * it; if that is the same as the first, the first is moved to beat 0.
 */
export function changesInForce<T extends { readonly beat: number }>(
  changes: readonly T[],
  same: (a: T, b: T) => boolean,
  opening: (first: T | undefined) => T,
): T[] {
  const out: T[] = [];
  for (const c of [...changes].sort((a, b) => a.beat - b.beat)) {
    if (out.length > 0 && out[out.length - 1].beat === c.beat) out.pop();
    const before = out[out.length - 1];
    if (!before || !same(before, c)) out.push(c);
  }
  const first = out[0];
  if (first && first.beat === 0) return out;
  const open = opening(first);
  if (first && same(open, first)) out[0] = { ...first, beat: 0 };
  else out.unshift({ ...open, beat: 0 });
  return out;
}

/** One bar: where it starts, how long it lasts (both in beats), and the time signature in force. */
export interface Bar {
  readonly start: number;
  readonly beats: number;
  readonly meter: TimeSignature;
}

/**
 * The bars that start before `end` (beats), in order. Each time signature
 * starts a bar at its beat and repeats bars of its length (numerator × 4 ÷
 * denominator beats) until the next signature, which cuts short a bar it
 * falls inside. Signatures of no length are skipped; nothing comes before the
 * first signature (see {@link changesInForce} for one at beat 0).
 */
export function bars(signatures: readonly TimeSignature[], end: number): Bar[] {
  const sigs = [...signatures].sort((a, b) => a.beat - b.beat);
  const out: Bar[] = [];
  for (let i = 0; i < sigs.length; i++) {
    const meter = sigs[i];
    const next = i + 1 < sigs.length ? sigs[i + 1].beat : Infinity;
    const until = Math.min(end, next);
    const len = (meter.numerator * 4) / meter.denominator;
    if (!(len > 0)) continue;
    for (let b = meter.beat; b < until - 1e-9; b += len) out.push({ start: b, beats: Math.min(len, next - b), meter });
  }
  return out;
}

/** Sort notes by start, then pitch, then duration (a new array). */
function sortNotes(notes: readonly Note[]): Note[] {
  return [...notes].sort(
    (a, b) => a.start - b.start || a.pitch - b.pitch || a.duration - b.duration || (a.program ?? -1) - (b.program ?? -1),
  );
}

/** Creates a Piece with sorted notes and sensible metadata defaults. */
export function makePiece(
  name: string,
  notes: readonly Note[],
  meta: Partial<Pick<Piece, 'tempos' | 'timeSignatures' | 'program'>> = {},
): Piece {
  return {
    name,
    notes: sortNotes(notes),
    tempos: meta.tempos && meta.tempos.length > 0 ? meta.tempos : [{ beat: 0, bpm: DEFAULT_BPM }],
    timeSignatures:
      meta.timeSignatures && meta.timeSignatures.length > 0 ? meta.timeSignatures : [{ beat: 0, numerator: 4, denominator: 4 }],
    program: meta.program ?? 0,
  };
}

/**
 * Notes as a MIDI file can hold them: of two notes of one instrument and
 * pitch that overlap, the earlier one ends where the later one starts, and of
 * two that start together only the longer is kept. Returns sorted notes.
 */
export function withoutOverlaps(notes: readonly Note[]): Note[] {
  const key = (n: Note): string => `${n.drum ? 'd' : (n.program ?? -1)}/${n.pitch}`;
  const groups = new Map<string, Note[]>();
  for (const n of sortNotes(notes)) {
    const g = groups.get(key(n));
    if (g) g.push(n);
    else groups.set(key(n), [n]);
  }
  const out: Note[] = [];
  for (const g of groups.values()) {
    // g is sorted by start, then duration: the last note of each run with one start is the longest.
    for (let i = 0; i < g.length; i++) {
      if (i + 1 < g.length && g[i + 1].start === g[i].start) continue;
      const n = g[i];
      const end = i + 1 < g.length ? Math.min(n.start + n.duration, g[i + 1].start) : n.start + n.duration;
      out.push(end === n.start + n.duration ? n : { ...n, duration: end - n.start });
    }
  }
  return sortNotes(out);
}

/** End of the last sounding note, in beats (0 for an empty piece). */
export function pieceLengthBeats(piece: Piece): number {
  let end = 0;
  for (const n of piece.notes) end = Math.max(end, n.start + n.duration);
  return end;
}

/** Length in seconds, following the tempo map. */
export function pieceLengthSeconds(piece: Piece): number {
  return beatsToSeconds(piece.tempos, pieceLengthBeats(piece));
}

/** Converts a beat position to seconds under a tempo map. */
function beatsToSeconds(tempos: readonly TempoChange[], beat: number): number {
  const map = tempos.length > 0 ? tempos : [{ beat: 0, bpm: DEFAULT_BPM }];
  let seconds = 0;
  let prevBeat = 0;
  let bpm = map[0].bpm;
  for (const t of map) {
    if (t.beat >= beat) break;
    seconds += ((t.beat - prevBeat) * 60) / bpm;
    prevBeat = t.beat;
    bpm = t.bpm;
  }
  return seconds + ((beat - prevBeat) * 60) / bpm;
}
