/**
 * A strict, single-pass Standard MIDI File decoder for reading (writing is
 * ./smf-encode, through ./write). It walks every byte with bounds checks, so a
 * damaged file gives a one-line {@link MidiFileError} instead of a hang, an
 * out-of-bounds read or a thrown string, and pairs note-ons with note-offs in
 * linear time (200k notes parse in well under a second). This file walks the
 * header and the chunks; ./smf-track decodes the events of each track chunk
 * (its comment lists the decisions inside a track).
 *
 * Decisions, per kind of input:
 * - A RIFF RMID file is unwrapped (./riff) and the MIDI file in its data
 *   chunk is read as below; messages about it say so.
 * - Time division must be ticks per quarter note: SMPTE division is rejected.
 * - Formats 0 and 1 are read (format 0 with several tracks is read like 1);
 *   format 2 (independent sequences) and unknown formats are rejected.
 * - The header chunk may be longer than 6 bytes (extra bytes are skipped, as
 *   the standard asks); shorter is rejected. Chunks that are not MTrk but have
 *   a printable 4-character id (e.g. "XFIH") are skipped; anything else where a
 *   chunk should start is rejected as corrupt.
 * - A chunk that claims more bytes than the file holds, or fewer track chunks
 *   than the header declares, is reported as truncated (nothing is loaded).
 * - Where the file's structure disagrees with itself, nothing is dropped
 *   silently. After the declared tracks, zero padding and well-formed chunks
 *   may follow (more MTrk chunks than the header declares are all read, with a
 *   warning). Other bytes there (newlines, text, junk) are ignored with a
 *   warning, but only when every track ended with its End of Track event and
 *   those bytes hold no track chunk id ("MTrk") and no End of Track event:
 *   otherwise they may be the events of a track whose chunk length was
 *   written too short (or as 0), or a damaged track chunk, and the file is
 *   corrupt. A track chunk without End of Track is read to its end, with a
 *   warning.
 */
import { unwrapRiff } from './riff';
import {
  decodeTrack,
  hex,
  isZero,
  MidiFileError,
  type SmfNote,
  type SmfPedal,
  type SmfTempo,
  type SmfTimeSignature,
  type TrackContext,
} from './smf-track';

export { MidiFileError } from './smf-track';
export type { SmfNote, SmfTempo, SmfTimeSignature } from './smf-track';

/** The usable content of a Standard MIDI File. */
export interface SmfContent {
  readonly format: number;
  /** Ticks per quarter note (> 0). */
  readonly ppq: number;
  /** Number of track chunks read. */
  readonly trackCount: number;
  /** All notes, in note-on order (track by track). */
  readonly notes: readonly SmfNote[];
  /** Tempo events of all tracks, in file order. */
  readonly tempos: readonly SmfTempo[];
  /** Time-signature events of all tracks, in file order. */
  readonly timeSignatures: readonly SmfTimeSignature[];
  /** Sustain-pedal events of all tracks, in file order. */
  readonly pedals: readonly SmfPedal[];
  /** Where the file disagrees with itself but was read anyway, one line each (e.g. more track chunks than declared). */
  readonly warnings: readonly string[];
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
}

function isPrintableId(b: Uint8Array, p: number): boolean {
  if (p + 4 > b.length) return false;
  for (let i = p; i < p + 4; i++) if (b[i] < 0x20 || b[i] > 0x7e) return false;
  return true;
}

/**
 * Decodes MIDI bytes (a Standard MIDI File, or one in a RIFF RMID file).
 * Throws {@link MidiFileError} with a one-line reason when the bytes are not a
 * usable Standard MIDI File (see the module comment), or when it holds more
 * than `maxNotes` note-ons (this bounds memory: about 200 bytes per note
 * while loading).
 */
export function decodeSmf(bytes: Uint8Array, maxNotes = Infinity): SmfContent {
  const riff = unwrapRiff(bytes);
  if (!riff) return decodeChunks(bytes, maxNotes);
  // Byte positions in messages count from the start of the data chunk.
  const where = `in the RIFF data chunk (from byte ${riff.offset})`;
  try {
    const smf = decodeChunks(riff.smf, maxNotes);
    return { ...smf, warnings: smf.warnings.map((w) => `${where}: ${w}`) };
  } catch (e) {
    throw e instanceof MidiFileError ? new MidiFileError(`${where}: ${e.message}`) : e;
  }
}

/** Decodes a Standard MIDI File: the header, then the chunks. */
function decodeChunks(bytes: Uint8Array, maxNotes: number): SmfContent {
  if (bytes.length === 0) throw new MidiFileError('empty file (0 bytes)');
  if (bytes.length < 4 || String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]) !== 'MThd') {
    throw new MidiFileError('not a MIDI file (no MThd header)');
  }
  if (bytes.length < 8) throw new MidiFileError('truncated: the file ends inside the MThd header');
  const headLen = u32(bytes, 4);
  if (headLen < 6) throw new MidiFileError(`bad header: MThd length is ${headLen}, expected 6`);
  if (bytes.length < 8 + headLen) {
    throw new MidiFileError(`truncated: MThd declares ${headLen} bytes but only ${bytes.length - 8} remain`);
  }
  const format = (bytes[8] << 8) | bytes[9];
  const declared = (bytes[10] << 8) | bytes[11];
  const division = (bytes[12] << 8) | bytes[13];
  if (division & 0x8000) {
    const fps = 0x100 - (division >> 8);
    throw new MidiFileError(`SMPTE time division is not supported (${fps} fps, ${division & 0xff} ticks per frame)`);
  }
  if (division === 0) throw new MidiFileError('bad header: time division is 0 ticks per quarter note');
  if (format === 2) throw new MidiFileError('MIDI format 2 (independent sequences) is not supported');
  if (format > 2) throw new MidiFileError(`unknown MIDI format ${format}`);
  if (declared === 0) throw new MidiFileError('no tracks (the header declares 0)');

  const ctx: Omit<TrackContext, 'track'> = { trackCount: declared, maxNotes, notes: [], tempos: [], timeSignatures: [], pedals: [] };
  const warnings: string[] = [];
  // Tracks whose chunk ends without End of Track: how many, and the first (0-based).
  let unended = 0;
  let firstUnended = 0;
  const read = (start: number, end: number, c: TrackContext): void => {
    if (decodeTrack(bytes, start, end, c)) return;
    if (unended++ === 0) firstUnended = c.track;
  };
  let pos = 8 + headLen;
  let track = 0;
  while (track < declared) {
    if (pos >= bytes.length) {
      throw new MidiFileError(`truncated: header declares ${declared} tracks but the file ends after ${track}`);
    }
    if (pos + 8 > bytes.length) throw new MidiFileError(`truncated: the file ends inside a chunk header at byte ${pos}`);
    const len = u32(bytes, pos + 4);
    const isTrack = isTrackId(bytes, pos);
    if (!isTrack && track === 0 && headLen !== 6 && String.fromCharCode(...bytes.subarray(14, 18)) === 'MTrk') {
      throw new MidiFileError(`bad header: MThd length is ${headLen} but a track chunk (MTrk) starts after 6 bytes`);
    }
    if (!isTrack && !isPrintableId(bytes, pos)) {
      const found = Array.from(bytes.subarray(pos, pos + 4), hex).join(' ');
      throw new MidiFileError(`corrupt: expected a track chunk (MTrk) at byte ${pos}, found ${found}`);
    }
    const remain = bytes.length - pos - 8;
    if (len > remain) {
      const what = isTrack ? `track ${track + 1} of ${declared}` : `chunk "${String.fromCharCode(...bytes.subarray(pos, pos + 4))}"`;
      throw new MidiFileError(`truncated: ${what} declares ${len} bytes but only ${remain} remain`);
    }
    if (isTrack) read(pos + 8, pos + 8 + len, { ...ctx, track: track++ });
    pos += 8 + len;
  }
  // After the declared tracks: zero padding, whole chunks (extra track chunks are read too, up to what a header can declare), or bytes that are no chunk.
  let extra = 0;
  let ignored = '';
  while (pos < bytes.length && !isZero(bytes, pos)) {
    const len = pos + 8 <= bytes.length ? u32(bytes, pos + 4) : Infinity;
    if ((!isTrackId(bytes, pos) && !isPrintableId(bytes, pos)) || len > bytes.length - pos - 8) {
      if (isTrackId(bytes, pos) || unended > 0 || mayHoldTrack(bytes, pos)) {
        throw new MidiFileError(
          `corrupt: ${bytes.length - pos} bytes after the last of the ${declared} declared tracks (byte ${pos}) are not a chunk (a wrong chunk length?)`,
        );
      }
      ignored = `ignored ${plural(bytes.length - pos, 'byte')} after the last track chunk (from byte ${pos}): not a MIDI chunk`;
      break;
    }
    if (isTrackId(bytes, pos)) {
      if (track >= 0xffff) throw new MidiFileError(`corrupt: more than ${0xffff} track chunks`);
      extra++;
      read(pos + 8, pos + 8 + len, { ...ctx, track, trackCount: declared + extra });
      track++;
    }
    pos += 8 + len;
  }
  if (extra > 0) warnings.push(`the header declares ${plural(declared, 'track')} but the file holds ${track}: all were read`);
  if (unended === 1) warnings.push(`track ${firstUnended + 1} of ${track} has no End of Track event: read to the end of its chunk`);
  if (unended > 1) warnings.push(`${unended} of ${track} tracks have no End of Track event: each read to the end of its chunk`);
  if (ignored) warnings.push(ignored);
  const { notes, tempos, timeSignatures, pedals } = ctx;
  return { format, ppq: division, trackCount: track, notes, tempos, timeSignatures, pedals, warnings };
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Whether the bytes from `p` on may be (part of) a track rather than harmless
 * trailing bytes: they hold a track chunk id or an End of Track event, or
 * they are the start of a track chunk id cut off by the end of the file.
 */
function mayHoldTrack(b: Uint8Array, p: number): boolean {
  const rest = Buffer.from(b.buffer, b.byteOffset + p, b.length - p);
  return rest.includes(TRACK_ID) || rest.includes(END_OF_TRACK) || (rest.length < 4 && TRACK_ID.subarray(0, rest.length).equals(rest));
}

const TRACK_ID = Buffer.from('MTrk', 'latin1');
const END_OF_TRACK = Buffer.from([0xff, 0x2f, 0x00]);

const isTrackId = (b: Uint8Array, p: number): boolean =>
  p + 4 <= b.length && b[p] === 0x4d && b[p + 1] === 0x54 && b[p + 2] === 0x72 && b[p + 3] === 0x6b;
