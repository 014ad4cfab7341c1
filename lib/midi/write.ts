/**
 * Writing a Piece as a Standard MIDI File (encoded by ./smf-encode, in time
 * linear in the notes). Files are written atomically.
 */
import { writeFileAtomic, type FilePath } from '../core/files';
import { instrumentOf, type Note, type Piece } from '../core/piece';
import { encodeSmf, type SmfOutEvent } from './smf-encode';
import { DRUM_CHANNEL } from './sustain';

/** Options for writing a Piece as MIDI. */
export interface MidiWriteOptions {
  /** Play every non-drum note with this General-MIDI program (default: each note's own). */
  readonly program?: number;
  /** Ticks per quarter note (1–32767); default 480. */
  readonly ppq?: number;
  /** Track name written into a single-track file (default the piece's name). */
  readonly trackName?: string;
}

/**
 * Encodes a Piece as a Standard MIDI File (deterministic bytes), format 1:
 * - track 0: the piece's name, its tempo changes (whole µs per beat) and time
 *   signatures;
 * - then one track per instrument, in order of first appearance, each named
 *   (the piece's name when there is one instrument, else "program N" or
 *   "drums"), with a program change and its notes, on its own channel
 *   (0, 1, … skipping 9, wrapping after 16); drum notes on channel 10.
 *
 * Times are rounded to whole ticks, durations to at least one tick; at one
 * tick, note-offs come before note-ons (notes are written in onset order).
 */
export function pieceToMidiBytes(piece: Piece, options: MidiWriteOptions = {}): Uint8Array {
  const ppq = options.ppq ?? 480;
  const tick = (beat: number): number => Math.round(beat * ppq);
  const conductor: SmfOutEvent[] = [
    { kind: 'trackName', tick: 0, text: piece.name },
    // Tempos are clamped to what 3 bytes of µs per beat hold (3.6 bpm and up).
    ...piece.tempos.map((t): SmfOutEvent => ({ kind: 'tempo', tick: tick(t.beat), microsPerBeat: Math.min(0xffffff, Math.max(1, Math.floor(60_000_000 / t.bpm))) })),
    ...piece.timeSignatures.map((t): SmfOutEvent => ({ kind: 'timeSignature', tick: tick(t.beat), numerator: t.numerator, denominator: t.denominator })),
  ];
  const groups = new Map<string, { program: number; drum: boolean; notes: Note[] }>();
  for (const n of piece.notes) {
    const inst = instrumentOf(n, piece);
    const program = inst.drum ? 0 : (options.program ?? inst.program);
    const key = inst.drum ? 'drum' : `p${program}`;
    const g = groups.get(key) ?? { program, drum: inst.drum, notes: [] };
    g.notes.push(n);
    groups.set(key, g);
  }
  if (groups.size === 0) groups.set('empty', { program: options.program ?? piece.program, drum: false, notes: [] });
  const tracks: SmfOutEvent[][] = [conductor];
  let next = 0;
  for (const g of groups.values()) {
    let channel = DRUM_CHANNEL;
    if (!g.drum) {
      if (next === DRUM_CHANNEL) next++;
      channel = next % 16;
      next = (next + 1) % 16;
    }
    const text = groups.size === 1 ? (options.trackName ?? piece.name) : g.drum ? 'drums' : `program ${g.program}`;
    const events: SmfOutEvent[] = [{ kind: 'trackName', tick: 0, text }, { kind: 'program', tick: 0, channel, program: g.program }];
    // Notes are sorted by onset, and a note ends after it starts: at any tick the note-offs (of earlier notes) come first.
    const ons: SmfOutEvent[] = [];
    const offs: SmfOutEvent[] = [];
    for (const n of g.notes) {
      const start = tick(n.start);
      const velocity = Math.min(127, Math.max(1, Math.floor(n.velocity)));
      ons.push({ kind: 'noteOn', tick: start, channel, pitch: n.pitch, velocity });
      offs.push({ kind: 'noteOff', tick: start + Math.max(1, tick(n.duration)), channel, pitch: n.pitch, velocity: 0 });
    }
    tracks.push([...events, ...offs, ...ons]);
  }
  return encodeSmf(ppq, tracks);
}

/** Writes a Piece to a MIDI file atomically (temp file + rename). */
export function writeMidiFile(file: FilePath, piece: Piece, options: MidiWriteOptions = {}): void {
  writeFileAtomic(file, pieceToMidiBytes(piece, options));
}
