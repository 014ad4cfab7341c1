/**
 * MIDI input and output. Files are converted once into our own readonly
 * {@link Piece} type. Reading uses the strict decoder in ./midi-smf (linear
 * time, clear errors for damaged files); writing is in ./write.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode } from '../core/errors';
import { listFiles, showPath, type FilePath, type UnusableEntry } from '../core/files';
import { decodeSmf, MidiFileError, type SmfNote, type SmfTempo, type SmfTimeSignature } from './smf';
import { DRUM_CHANNEL, sustainedEnds } from './sustain';
import {
  changesInForce,
  DEFAULT_BPM,
  makePiece,
  sameMeter,
  sameTempo,
  type Note,
  type Piece,
  type TempoChange,
  type TimeSignature,
} from '../core/piece';

/** Options for reading MIDI files. */
export interface MidiReadOptions {
  /** Track indices to keep (0-based track chunks, as in the file). Default: all tracks. */
  readonly tracks?: readonly number[];
  /** General-MIDI programs to keep (0–127; a note's program is its channel's latest program change in its track, else 0). Default: all. */
  readonly programs?: readonly number[];
  /** Keep drum notes (channel 10) too, marked `drum`. Default false. */
  readonly includeDrums?: boolean;
  /**
   * Lengthen notes held by the sustain pedal (controller 64) until the pedal
   * is released, as a piano would sound them (never past the next note of the
   * same pitch and channel). Default true.
   */
  readonly sustain?: boolean;
  /** Files larger than this are skipped (bytes). Default 16 MiB. */
  readonly maxBytes?: number;
  /**
   * Files with more note-ons than this are skipped. Default 250,000 (the
   * largest file of the shared corpora has 17,225): reading and tokenizing
   * take about 1 KB of memory and 15 µs per note, so this bounds one file to
   * ~250 MB and a few seconds (tokens are at most a small multiple of notes).
   */
  readonly maxNotes?: number;
  /**
   * Files whose notes reach past this beat are skipped (a damaged delta time
   * can put a note years into the piece). Default 100,000 beats, about 14
   * hours at 120 bpm; the longest file of the shared corpora ends at beat 1,931.
   */
  readonly maxBeats?: number;
  /** Called with a one-line message for each thing that was read differently from what the file says or dropped (zero-length notes, say). */
  readonly onWarning?: (message: string) => void;
}

/** Defaults for {@link MidiReadOptions}. */
const DEFAULT_MIDI_READ_OPTIONS: Required<Omit<MidiReadOptions, 'tracks' | 'programs' | 'onWarning'>> = {
  includeDrums: false,
  sustain: true,
  maxBytes: 16 * 1024 * 1024,
  maxNotes: 250_000,
  maxBeats: 100_000,
};

/**
 * At most this many tempo and time-signature changes per kept note (plus
 * {@link CHANGES_FREE}) are loaded: every change can cost tokens of its own.
 * Real files have up to about 1.5 per note (rubato piano recordings).
 */
const CHANGES_PER_NOTE = 4;
const CHANGES_FREE = 256;

/** A file that could not be used, with a one-line reason. */
export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

/** A file that was loaded, and something in it that was dropped or read differently from what the file says. */
export interface FileWarning {
  readonly file: string;
  readonly warning: string;
}

/** What loading a folder produced. */
export interface LoadReport {
  /** Number of MIDI files found. */
  readonly files: number;
  /** Files passed over because their names do not end in a MIDI extension ({@link MIDI_EXTENSIONS}). */
  readonly passedOver: number;
  /** Pieces loaded, in file order. */
  readonly pieces: readonly Piece[];
  /** Files skipped, each with a reason. */
  readonly skipped: readonly SkippedFile[];
  /** Loaded files with something dropped or read differently (one line each). */
  readonly warnings: readonly FileWarning[];
}

/**
 * MIDI file extensions recognised when walking a folder: karaoke files (.kar)
 * are Standard MIDI Files with lyrics, and .rmi files RIFF-wrapped ones
 * (unwrapped by ./riff, as is a RIFF file under any name).
 */
export const MIDI_EXTENSIONS: readonly string[] = ['.mid', '.midi', '.kar', '.rmi'];

/**
 * Parses MIDI bytes into a Piece. Throws {@link MidiFileError} with a one-line
 * reason when the data is not usable MIDI or holds no usable notes.
 *
 * What is loaded (structural decisions are listed in lib/midi/smf.ts):
 * - Notes of the selected tracks (file track-chunk indices, 0-based), programs
 *   and channels; drum notes (channel 10) only with `includeDrums`.
 * - Times are ticks / ppq, in beats, so tempo changes never move notes.
 * - Zero-length notes are dropped. Notes with no note-off are ended at the
 *   next note-on of that pitch or at the track end. Both are reported to
 *   `onWarning`, as are drum notes left out and the structural mismatches
 *   the decoder read anyway.
 * - Cost is bounded: a file with more than `maxNotes` notes, notes past
 *   `maxBeats`, or more than 4 tempo and time-signature changes per note
 *   (+ 256) is skipped; tempo and meter events past `maxBeats` are ignored.
 * - Every note keeps its program (and drum notes are marked `drum`), so
 *   multi-instrument music keeps its instruments.
 * - With `sustain` (default), a note released while the sustain pedal of its
 *   channel is down lasts until the pedal comes up, but never past the next
 *   onset of the same pitch on that channel.
 * - Tempos are clamped to 1–1000 bpm (beats are unaffected); a tempo or time
 *   signature at beat 0 is added when missing (120 bpm, 4/4).
 * - `program` is the program of the first kept note in file order (0 for drums).
 *
 * Skip reasons for files that parse but hold nothing usable: "no notes (no
 * note-on events in any track)", "only drum notes (channel 10), which are
 * excluded by default", "no notes in the selected tracks/programs (…)",
 * "all N notes have zero length (…)".
 */
export function parseMidi(bytes: Uint8Array, name: string, options: MidiReadOptions = {}): Piece {
  const opts = { ...DEFAULT_MIDI_READ_OPTIONS, ...options };
  const smf = decodeSmf(bytes, opts.maxNotes);
  const ppq = smf.ppq;
  const notes: Note[] = [];
  const ends = opts.sustain ? sustainedEnds(smf.notes, smf.pedals) : null;
  let program: number | undefined;
  let drums = 0;
  let unselected = 0;
  let zero = 0;
  let zeroUnended = 0;
  let unended = 0;
  let lastEnd = 0;
  for (const n of smf.notes) {
    const drum = n.channel === DRUM_CHANNEL;
    if (drum && !opts.includeDrums) {
      drums++;
      continue;
    }
    if ((opts.tracks && !opts.tracks.includes(n.track)) || (opts.programs && !opts.programs.includes(n.program))) {
      unselected++;
      continue;
    }
    if (n.durationTicks <= 0) {
      zero++;
      if (n.unended) zeroUnended++;
      continue;
    }
    if (n.unended) unended++;
    const endTick = ends?.get(n) ?? n.startTick + n.durationTicks;
    lastEnd = Math.max(lastEnd, endTick / ppq);
    const note: Note = {
      pitch: n.pitch,
      start: n.startTick / ppq,
      duration: (endTick - n.startTick) / ppq,
      velocity: n.velocity,
      program: drum ? 0 : n.program,
    };
    notes.push(drum ? { ...note, drum: true } : note);
    if (program === undefined) program = drum ? 0 : n.program;
  }
  if (notes.length === 0) throw new MidiFileError(emptyReason(smf.notes, opts.includeDrums, { drums, unselected, zero, zeroUnended }));
  if (lastEnd > opts.maxBeats) {
    throw new MidiFileError(
      `too long: notes reach beat ${Math.round(lastEnd)}, past the limit of ${opts.maxBeats} beats (a damaged delta time?)`,
    );
  }
  // Tempo and meter changes past the limit come after every note: they change nothing loaded.
  const inRange = (e: { readonly tick: number }): boolean => e.tick / ppq <= opts.maxBeats;
  const tempos = readTempos(smf.tempos.filter(inRange), ppq);
  const timeSignatures = readTimeSignatures(smf.timeSignatures.filter(inRange), ppq);
  const plural = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
  const changes = tempos.length + timeSignatures.length - 2;
  if (changes > CHANGES_PER_NOTE * notes.length + CHANGES_FREE) {
    throw new MidiFileError(
      `too many tempo and time-signature changes (${changes} for ${plural(notes.length, 'note')}; at most ${CHANGES_PER_NOTE} per note + ${CHANGES_FREE})`,
    );
  }
  const warnings = [...smf.warnings];
  if (drums > 0) warnings.push(`${plural(drums, 'drum note')} (channel 10) left out, as drums are by default`);
  if (zero > 0) warnings.push(`${plural(zero, 'zero-length note')} left out (note-on and note-off at the same tick)`);
  if (unended > 0) warnings.push(`${plural(unended, 'note')} without a note-off, ended at the next note-on of the pitch or the track end`);
  if (opts.onWarning) for (const w of warnings) opts.onWarning(w);
  return makePiece(name, notes, { tempos, timeSignatures, program: program ?? 0 });
}

interface DropCounts {
  readonly drums: number;
  readonly unselected: number;
  readonly zero: number;
  readonly zeroUnended: number;
}

/** The one-line reason why no note was kept. */
function emptyReason(all: readonly SmfNote[], includeDrums: boolean, counts: DropCounts): string {
  const { drums, unselected, zero, zeroUnended } = counts;
  if (all.length === 0) return 'no notes (no note-on events in any track)';
  if (drums === all.length) return 'only drum notes (channel 10), which are excluded by default';
  if (unselected > 0) {
    const list = (values: Iterable<number>): string => [...new Set(values)].sort((a, b) => a - b).join(', ');
    const pool = includeDrums ? all : all.filter((n) => n.channel !== DRUM_CHANNEL);
    return (
      `no notes in the selected tracks/programs (notes are in tracks ${list(pool.map((n) => n.track))}` +
      ` with programs ${list(pool.map((n) => n.program))})`
    );
  }
  const unended = zeroUnended > 0 ? `, ${zeroUnended} of them without a note-off` : '';
  return `all ${zero} notes have zero length${unended}`;
}

function readTempos(events: readonly SmfTempo[], ppq: number): TempoChange[] {
  const tempos = events.map((t) => ({ beat: t.tick / ppq, bpm: Math.min(1000, Math.max(1, 60_000_000 / t.microsPerBeat)) }));
  return changesInForce(tempos, sameTempo, (first) => ({ beat: 0, bpm: first?.bpm ?? DEFAULT_BPM }));
}

/** Before a file's first time signature, MIDI's default 4/4 holds. */
function readTimeSignatures(events: readonly SmfTimeSignature[], ppq: number): TimeSignature[] {
  const meters = events.map(({ tick, numerator, denominator }) => ({ beat: tick / ppq, numerator, denominator }));
  return changesInForce(meters, sameMeter, () => ({ beat: 0, numerator: 4, denominator: 4 }));
}

/** Reads one MIDI file. Throws {@link MidiFileError} naming the reason. */
export function readMidiFile(file: FilePath, options: MidiReadOptions = {}, name = showPath(file)): Piece {
  const maxBytes = options.maxBytes ?? DEFAULT_MIDI_READ_OPTIONS.maxBytes;
  let bytes: Uint8Array;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new MidiFileError(stat.isDirectory() ? 'is a folder' : 'not a regular file');
    if (stat.size > maxBytes) throw new MidiFileError(`file too large (${stat.size} bytes > ${maxBytes})`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof MidiFileError) throw e;
    throw new MidiFileError(`cannot read file: ${errCode(e)}`);
  }
  return parseMidi(bytes, name, options);
}

/**
 * Loads every MIDI file ({@link MIDI_EXTENSIONS}) under a folder
 * (recursively), or a single file, and counts the files passed over.
 * A file that cannot be used is skipped with a one-line reason (so is a
 * broken symbolic link or an unreadable folder); the rest load, each with
 * its warnings. `onFile` is called after each file (for progress).
 */
export function loadMidiFolder(
  root: FilePath,
  options: MidiReadOptions = {},
  onFile?: (done: number, total: number, file: string) => void,
): LoadReport {
  const unusable: UnusableEntry[] = [];
  const passedOver: FilePath[] = [];
  const files = listFiles(root, MIDI_EXTENSIONS, unusable, passedOver);
  const base = showPath(fs.statSync(root).isDirectory() ? root : path.dirname(showPath(root)));
  const nameOf = (file: FilePath): string => path.relative(base, showPath(file)) || path.basename(showPath(file));
  const pieces: Piece[] = [];
  const skipped: SkippedFile[] = unusable.map((u) => ({ file: nameOf(u.path), reason: u.reason }));
  const warnings: FileWarning[] = [];
  files.forEach((file, i) => {
    const rel = nameOf(file);
    try {
      const onWarning = (warning: string): void => {
        warnings.push({ file: rel, warning });
        options.onWarning?.(warning);
      };
      pieces.push(readMidiFile(file, { ...options, onWarning }, rel));
    } catch (e) {
      skipped.push({ file: rel, reason: oneLine(e) });
    }
    onFile?.(i + 1, files.length, rel);
  });
  return { files: files.length + unusable.length, passedOver: passedOver.length, pieces, skipped, warnings };
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim() || 'unknown error';
}
