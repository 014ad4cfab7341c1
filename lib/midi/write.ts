/**
 * Writing a Piece as a Standard MIDI File, with @tonejs/midi (the only module
 * that touches it). Files are written atomically.
 */
import { Midi } from '@tonejs/midi';
import { writeFileAtomic } from '../core/files';
import type { Piece } from '../core/piece';

/** Options for writing a Piece as MIDI. */
export interface MidiWriteOptions {
  /** General-MIDI program; default the piece's own. */
  readonly program?: number;
  /** Ticks per quarter note; default 480. */
  readonly ppq?: number;
  /** Track name written into the file. */
  readonly trackName?: string;
}

/** Encodes a Piece as a single-track Standard MIDI File (deterministic bytes). */
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
  const track = midi.addTrack();
  track.name = options.trackName ?? piece.name;
  track.channel = 0;
  track.instrument.number = options.program ?? piece.program;
  for (const n of piece.notes) {
    const ticks = Math.round(n.start * ppq);
    const durationTicks = Math.max(1, Math.round(n.duration * ppq));
    track.addNote({ midi: n.pitch, ticks, durationTicks, velocity: n.velocity / 127 });
  }
  return midi.toArray();
}

/** Writes a Piece to a MIDI file atomically (temp file + rename). */
export function writeMidiFile(file: string, piece: Piece, options: MidiWriteOptions = {}): void {
  writeFileAtomic(file, pieceToMidiBytes(piece, options));
}
