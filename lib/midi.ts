/**
 * MIDI input and output. The only module that touches @tonejs/midi: files are
 * converted once into our own readonly {@link Piece} type.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Midi } from '@tonejs/midi';
import { errCode, listFiles, writeFileAtomic } from './fsutil';
import { DEFAULT_BPM, makePiece, type Note, type Piece, type TempoChange, type TimeSignature } from './music';

/** Options for reading MIDI files. */
export interface MidiReadOptions {
  /** Track indices to keep (0-based, as in the file). Default: all non-drum tracks with notes. */
  readonly tracks?: readonly number[];
  /** General-MIDI programs to keep (0–127). Default: all. */
  readonly programs?: readonly number[];
  /** Keep drum tracks (channel 10) too. Default false. */
  readonly includeDrums?: boolean;
  /** Files larger than this are skipped (bytes). Default 16 MiB. */
  readonly maxBytes?: number;
}

export const DEFAULT_MIDI_READ_OPTIONS: Required<Omit<MidiReadOptions, 'tracks' | 'programs'>> = {
  includeDrums: false,
  maxBytes: 16 * 1024 * 1024,
};

/** A file that could not be used, with a one-line reason. */
export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

/** What loading a folder produced. */
export interface LoadReport {
  /** Number of MIDI files found. */
  readonly files: number;
  /** Pieces loaded, in file order. */
  readonly pieces: readonly Piece[];
  /** Files skipped, each with a reason. */
  readonly skipped: readonly SkippedFile[];
}

/** MIDI file extensions recognised when walking a folder. */
export const MIDI_EXTENSIONS: readonly string[] = ['.mid', '.midi'];

/** Raised when one file cannot be turned into a Piece; the message is the one-line reason. */
export class MidiFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MidiFileError';
  }
}

/**
 * Parses MIDI bytes into a Piece. Throws {@link MidiFileError} with a one-line
 * reason when the data is not usable MIDI or holds no usable notes.
 */
export function parseMidi(bytes: Uint8Array, name: string, options: MidiReadOptions = {}): Piece {
  const opts = { ...DEFAULT_MIDI_READ_OPTIONS, ...options };
  if (bytes.length === 0) throw new MidiFileError('empty file');
  if (bytes.length < 14 || String.fromCharCode(...bytes.subarray(0, 4)) !== 'MThd') {
    throw new MidiFileError('not a MIDI file (no MThd header)');
  }
  let midi: Midi;
  try {
    midi = new Midi(bytes);
  } catch (e) {
    throw new MidiFileError(`cannot parse MIDI: ${oneLine(e)}`);
  }
  const ppq = midi.header.ppq;
  if (!Number.isFinite(ppq) || ppq <= 0) {
    throw new MidiFileError('SMPTE time division is not supported (no ticks per quarter note)');
  }
  const notes: Note[] = [];
  let program: number | undefined;
  midi.tracks.forEach((track, index) => {
    if (opts.tracks && !opts.tracks.includes(index)) return;
    if (track.instrument.percussion && !opts.includeDrums) return;
    if (opts.programs && !opts.programs.includes(track.instrument.number)) return;
    for (const n of track.notes) {
      const start = n.ticks / ppq;
      const duration = n.durationTicks / ppq;
      if (!Number.isFinite(start) || !Number.isFinite(duration) || duration <= 0) continue;
      if (n.midi < 0 || n.midi > 127) continue;
      notes.push({
        pitch: n.midi,
        start,
        duration,
        velocity: Math.min(127, Math.max(1, Math.round(n.velocity * 127))),
      });
      if (program === undefined) program = track.instrument.percussion ? 0 : track.instrument.number;
    }
  });
  if (notes.length === 0) {
    const anyNotes = midi.tracks.some((t) => t.notes.length > 0);
    const onlyDrums = anyNotes && midi.tracks.every((t) => t.notes.length === 0 || t.instrument.percussion);
    throw new MidiFileError(
      onlyDrums && !opts.includeDrums
        ? 'no usable notes (drum tracks only)'
        : anyNotes
          ? 'no usable notes in the selected tracks'
          : 'no notes',
    );
  }
  return makePiece(name, notes, {
    tempos: readTempos(midi, ppq),
    timeSignatures: readTimeSignatures(midi, ppq),
    program: program ?? 0,
  });
}

function readTempos(midi: Midi, ppq: number): TempoChange[] {
  const out: TempoChange[] = [];
  const sorted = [...midi.header.tempos].sort((a, b) => a.ticks - b.ticks);
  for (const t of sorted) {
    if (!Number.isFinite(t.bpm) || t.bpm <= 0) continue;
    const beat = t.ticks / ppq;
    const bpm = Math.min(1000, Math.max(1, t.bpm));
    if (out.length > 0 && out[out.length - 1].beat === beat) out[out.length - 1] = { beat, bpm };
    else if (out.length === 0 || out[out.length - 1].bpm !== bpm) out.push({ beat, bpm });
  }
  if (out.length === 0 || out[0].beat > 0) out.unshift({ beat: 0, bpm: out[0]?.bpm ?? DEFAULT_BPM });
  return out;
}

function readTimeSignatures(midi: Midi, ppq: number): TimeSignature[] {
  const out: TimeSignature[] = [];
  const sorted = [...midi.header.timeSignatures].sort((a, b) => a.ticks - b.ticks);
  for (const ts of sorted) {
    const [numerator, denominator] = ts.timeSignature;
    if (!(numerator > 0) || !(denominator > 0)) continue;
    const beat = ts.ticks / ppq;
    const last = out[out.length - 1];
    if (last && last.beat === beat) out[out.length - 1] = { beat, numerator, denominator };
    else if (!last || last.numerator !== numerator || last.denominator !== denominator) {
      out.push({ beat, numerator, denominator });
    }
  }
  if (out.length === 0 || out[0].beat > 0) out.unshift({ beat: 0, numerator: 4, denominator: 4 });
  return out;
}

/** Reads one MIDI file. Throws {@link MidiFileError} naming the reason. */
export function readMidiFile(file: string, options: MidiReadOptions = {}, name = file): Piece {
  const maxBytes = options.maxBytes ?? DEFAULT_MIDI_READ_OPTIONS.maxBytes;
  let bytes: Uint8Array;
  try {
    const size = fs.statSync(file).size;
    if (size > maxBytes) throw new MidiFileError(`file too large (${size} bytes > ${maxBytes})`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof MidiFileError) throw e;
    throw new MidiFileError(`cannot read file: ${errCode(e)}`);
  }
  return parseMidi(bytes, name, options);
}

/**
 * Loads every .mid/.midi file under a folder (recursively), or a single file.
 * A file that cannot be used is skipped with a one-line reason; the rest load.
 * `onFile` is called after each file (for progress).
 */
export function loadMidiFolder(
  root: string,
  options: MidiReadOptions = {},
  onFile?: (done: number, total: number, file: string) => void,
): LoadReport {
  const files = listFiles(root, MIDI_EXTENSIONS);
  const base = fs.statSync(root).isDirectory() ? root : path.dirname(root);
  const pieces: Piece[] = [];
  const skipped: SkippedFile[] = [];
  files.forEach((file, i) => {
    const rel = path.relative(base, file) || path.basename(file);
    try {
      pieces.push(readMidiFile(file, options, rel));
    } catch (e) {
      skipped.push({ file: rel, reason: oneLine(e) });
    }
    onFile?.(i + 1, files.length, rel);
  });
  return { files: files.length, pieces, skipped };
}

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

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim() || 'unknown error';
}
