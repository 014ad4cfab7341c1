/**
 * Writing a Piece as a Standard MIDI File, with @tonejs/midi (the only module
 * that touches it). Files are written atomically.
 */
import { Midi } from '@tonejs/midi';
import { writeFileAtomic, type FilePath } from '../core/files';
import { instrumentOf, type Note, type Piece } from '../core/piece';

/** Options for writing a Piece as MIDI. */
export interface MidiWriteOptions {
  /** Play every non-drum note with this General-MIDI program (default: each note's own). */
  readonly program?: number;
  /** Ticks per quarter note; default 480. */
  readonly ppq?: number;
  /** Track name written into a single-track file (default the piece's name). */
  readonly trackName?: string;
}

/** The General-MIDI drum channel (channel 10, 0-based 9). */
const DRUM_CHANNEL = 9;

/**
 * Encodes a Piece as a Standard MIDI File (deterministic bytes): one track per
 * instrument, in order of first appearance, each on its own channel; drum
 * notes on channel 10.
 */
export function pieceToMidiBytes(piece: Piece, options: MidiWriteOptions = {}): Uint8Array {
  const midi = new Midi();
  const ppq = options.ppq ?? 480;
  // @tonejs/midi keeps ppq in the parsed header data; a fresh file uses 480.
  if (midi.header.ppq !== ppq) throw new Error(`only ppq 480 is supported when writing (got ${ppq})`);
  midi.header.name = piece.name;
  midi.header.tempos = piece.tempos.map((t) => ({ ticks: Math.round(t.beat * ppq), bpm: t.bpm }));
  midi.header.timeSignatures = piece.timeSignatures.map((t) => ({
    ticks: Math.round(t.beat * ppq),
    timeSignature: [t.numerator, t.denominator],
  }));
  midi.header.update();
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
  let channel = 0;
  for (const g of groups.values()) {
    const track = midi.addTrack();
    track.name = groups.size === 1 ? (options.trackName ?? piece.name) : g.drum ? 'drums' : `program ${g.program}`;
    if (g.drum) track.channel = DRUM_CHANNEL;
    else {
      if (channel === DRUM_CHANNEL) channel++;
      track.channel = channel % 16;
      channel = (channel + 1) % 16;
    }
    track.instrument.number = g.program;
    for (const n of g.notes) {
      const ticks = Math.round(n.start * ppq);
      const durationTicks = Math.max(1, Math.round(n.duration * ppq));
      track.addNote({ midi: n.pitch, ticks, durationTicks, velocity: n.velocity / 127 });
    }
  }
  return midi.toArray();
}

/** Writes a Piece to a MIDI file atomically (temp file + rename). */
export function writeMidiFile(file: FilePath, piece: Piece, options: MidiWriteOptions = {}): void {
  writeFileAtomic(file, pieceToMidiBytes(piece, options));
}
