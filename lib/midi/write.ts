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
 * - With more than 15 melodic instruments, channels are shared (instrument
 *   16 goes back to channel 0, and so on). A player keeps one program per
 *   channel, so before a note whose channel last had another program, its
 *   track sends its own program again ({@link programChangesBefore}): every
 *   note sounds with its instrument, in players that merge tracks in track
 *   order at one tick (as FluidSynth, mido and @tonejs/midi do), and readers
 *   that keep programs per track read the same. (Two instruments sounding
 *   one pitch at once on a shared channel remain indistinct to a player.)
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
    ...piece.tempos.map((t): SmfOutEvent => ({
      kind: 'tempo',
      tick: tick(t.beat),
      microsPerBeat: Math.min(0xffffff, Math.max(1, Math.floor(60_000_000 / t.bpm))),
    })),
    ...piece.timeSignatures.map((t): SmfOutEvent => ({
      kind: 'timeSignature',
      tick: tick(t.beat),
      numerator: t.numerator,
      denominator: t.denominator,
    })),
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
  const parts = [...groups.values()].map((g) => {
    let channel = DRUM_CHANNEL;
    if (!g.drum) {
      if (next === DRUM_CHANNEL) next++;
      channel = next % 16;
      next = (next + 1) % 16;
    }
    return { ...g, channel, starts: g.notes.map((n) => tick(n.start)) };
  });
  const changes = programChangesBefore(parts);
  parts.forEach((g, k) => {
    const { channel, program } = g;
    const text = groups.size === 1 ? (options.trackName ?? piece.name) : g.drum ? 'drums' : `program ${program}`;
    const events: SmfOutEvent[] = [
      { kind: 'trackName', tick: 0, text },
      { kind: 'program', tick: 0, channel, program },
    ];
    // Notes are sorted by onset, and a note ends after it starts: at any tick the note-offs (of earlier notes) come first.
    const ons: SmfOutEvent[] = [];
    const offs: SmfOutEvent[] = [];
    g.notes.forEach((n, i) => {
      const start = g.starts[i];
      const velocity = Math.min(127, Math.max(1, Math.floor(n.velocity)));
      if (changes[k].has(i)) ons.push({ kind: 'program', tick: start, channel, program });
      ons.push({ kind: 'noteOn', tick: start, channel, pitch: n.pitch, velocity });
      offs.push({ kind: 'noteOff', tick: start + Math.max(1, tick(n.duration)), channel, pitch: n.pitch, velocity: 0 });
    });
    tracks.push([...events, ...offs, ...ons]);
  });
  return encodeSmf(ppq, tracks);
}

/** One track's instrument as {@link programChangesBefore} sees it: its channel, program and note onsets (ticks, in onset order). */
interface ChannelPart {
  readonly channel: number;
  readonly program: number;
  readonly drum: boolean;
  readonly starts: readonly number[];
}

/**
 * For each part (track, in file order), the indices of its notes that need a
 * program change right before them: those whose channel, as a player meets
 * the events (by tick, then track by track; each track's own program change
 * at tick 0 first), last had another program. Empty sets unless melodic parts
 * share a channel.
 */
function programChangesBefore(parts: readonly ChannelPart[]): Set<number>[] {
  const changes = parts.map(() => new Set<number>());
  const byChannel = new Map<number, number[]>();
  parts.forEach((p, k) => {
    if (!p.drum) byChannel.set(p.channel, [...(byChannel.get(p.channel) ?? []), k]);
  });
  for (const shared of byChannel.values()) {
    if (shared.length < 2) continue;
    // [tick, part, note index (-1: the part's program change at tick 0)], in the order a player meets them.
    const events: [number, number, number][] = shared.flatMap((k) => [
      [0, k, -1] as [number, number, number],
      ...parts[k].starts.map((t, i): [number, number, number] => [t, k, i]),
    ]);
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    let current = -1;
    for (const [, k, i] of events) {
      if (i >= 0 && parts[k].program !== current) changes[k].add(i);
      current = parts[k].program;
    }
  }
  return changes;
}

/** Writes a Piece to a MIDI file atomically (temp file + rename). */
export function writeMidiFile(file: FilePath, piece: Piece, options: MidiWriteOptions = {}): void {
  writeFileAtomic(file, pieceToMidiBytes(piece, options));
}
