/**
 * A strict, single-pass Standard MIDI File decoder for reading (writing is
 * ./smf-encode, through ./write). It walks every byte with bounds checks, so a
 * damaged file gives a one-line {@link MidiFileError} instead of a hang, an
 * out-of-bounds read or a thrown string, and pairs note-ons with note-offs in
 * linear time (200k notes parse in well under a second).
 *
 * Decisions, per kind of input:
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
 *   silently: after the declared tracks, zero padding and well-formed chunks
 *   may follow (more MTrk chunks than the header declares are all read, with a
 *   warning); anything else (e.g. the events of a track whose chunk length
 *   was written too short, or as 0) makes the file corrupt. Inside a track,
 *   only zero padding may follow End of Track.
 * - Inside a track: an event cut off by the chunk end, a variable-length
 *   number over 4 bytes, running status with no earlier status byte, a status
 *   byte 0xF1–0xFE or a data byte ≥ 0x80 make the file corrupt. Running status
 *   carries across meta and sysex events (lenient, like most readers). A track
 *   may end without End of Track. Malformed meta events we do not use, or
 *   tempo/time-signature events of the wrong length, are ignored.
 * - Note pairing (per track, channel and pitch): a note-off (0x8n, or 0x9n with
 *   velocity 0) ends the oldest sounding note-on of that pitch (first in, first
 *   out — the same pairing as @tonejs/midi for well-formed files, so
 *   overlapping notes of one pitch become two notes in onset order); a note-off
 *   with nothing sounding is ignored. A note-on that never gets a note-off is
 *   ended at the next note-on of the same pitch, else at the track's end (End
 *   of Track or last event). Notes may come out with zero length; the caller
 *   decides what to do with them.
 * - Programs are tracked per channel within each track (a program change
 *   affects later notes of that channel in the same track), as @tonejs/midi does.
 * - Sustain-pedal events (controller 64) are returned per channel; the reader
 *   decides whether they lengthen notes. Memory is bounded: more than 100,000
 *   tempo, time-signature and pedal events (+ 4 per note-on) make the file fail.
 */

/** Raised when a file cannot be turned into a Piece; the message is the one-line reason. */
export class MidiFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MidiFileError';
  }
}

/** One decoded note, in ticks. */
export interface SmfNote {
  /** Index of its track chunk in the file (0-based). */
  readonly track: number;
  /** MIDI channel 0–15 (9 is the General-MIDI drum channel). */
  readonly channel: number;
  /** Program of the channel (in this track) when the note started; 0 when none was set. */
  readonly program: number;
  readonly pitch: number;
  /** Velocity of the note-on, 1–127. */
  readonly velocity: number;
  /** Onset in ticks. */
  readonly startTick: number;
  /** Length in ticks (may be 0). */
  readonly durationTicks: number;
  /** True when the note had no note-off and was ended by the rule above. */
  readonly unended: boolean;
}

/** A tempo event. */
export interface SmfTempo {
  readonly tick: number;
  readonly microsPerBeat: number;
}

/** A time-signature event. */
export interface SmfTimeSignature {
  readonly tick: number;
  readonly numerator: number;
  readonly denominator: number;
}

/** A sustain-pedal (controller 64) event: the pedal goes down (value ≥ 64) or up. */
export interface SmfPedal {
  readonly tick: number;
  readonly channel: number;
  readonly down: boolean;
}

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

/** A note while its track is decoded; `next` is the tick of the next note-on of the same channel and pitch, or -1. */
type MutableNote = { -readonly [K in keyof SmfNote]: SmfNote[K] } & { next: number };

const hex = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
}

function isPrintableId(b: Uint8Array, p: number): boolean {
  if (p + 4 > b.length) return false;
  for (let i = p; i < p + 4; i++) if (b[i] < 0x20 || b[i] > 0x7e) return false;
  return true;
}

/**
 * Decodes MIDI bytes. Throws {@link MidiFileError} with a one-line reason when
 * the bytes are not a usable Standard MIDI File (see the module comment), or
 * when it holds more than `maxNotes` note-ons (this bounds memory: about 200
 * bytes per note while loading).
 */
export function decodeSmf(bytes: Uint8Array, maxNotes = Infinity): SmfContent {
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

  const ctx = { trackCount: declared, maxNotes, notes: [] as MutableNote[], tempos: [] as SmfTempo[], timeSignatures: [] as SmfTimeSignature[], pedals: [] as SmfPedal[] };
  const warnings: string[] = [];
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
    if (isTrack) decodeTrack(bytes, pos + 8, pos + 8 + len, { ...ctx, track: track++ });
    pos += 8 + len;
  }
  // After the declared tracks: zero padding, or whole chunks (extra track chunks are read too, up to what a header can declare).
  let extra = 0;
  while (pos < bytes.length && !isZero(bytes, pos)) {
    const len = pos + 8 <= bytes.length ? u32(bytes, pos + 4) : Infinity;
    if ((!isTrackId(bytes, pos) && !isPrintableId(bytes, pos)) || len > bytes.length - pos - 8) {
      throw new MidiFileError(
        `corrupt: ${bytes.length - pos} bytes after the last of the ${declared} declared tracks (byte ${pos}) are not a chunk (a wrong chunk length?)`,
      );
    }
    if (isTrackId(bytes, pos)) {
      if (track >= 0xffff) throw new MidiFileError(`corrupt: more than ${0xffff} track chunks`);
      extra++;
      decodeTrack(bytes, pos + 8, pos + 8 + len, { ...ctx, track, trackCount: declared + extra });
      track++;
    }
    pos += 8 + len;
  }
  if (extra > 0) warnings.push(`the header declares ${declared} track${declared === 1 ? '' : 's'} but the file holds ${track}: all were read`);
  const { notes, tempos, timeSignatures, pedals } = ctx;
  return { format, ppq: division, trackCount: track, notes, tempos, timeSignatures, pedals, warnings };
}

const isTrackId = (b: Uint8Array, p: number): boolean => p + 4 <= b.length && b[p] === 0x4d && b[p + 1] === 0x54 && b[p + 2] === 0x72 && b[p + 3] === 0x6b;

/** Whether every byte from `p` to the end of `b` (or to `end`) is zero. */
function isZero(b: Uint8Array, p: number, end = b.length): boolean {
  for (let i = p; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

interface TrackContext {
  readonly track: number;
  readonly trackCount: number;
  readonly maxNotes: number;
  readonly notes: MutableNote[];
  readonly tempos: SmfTempo[];
  readonly timeSignatures: SmfTimeSignature[];
  readonly pedals: SmfPedal[];
}

/** Tempo, time-signature and pedal events kept, at most: this many plus 4 per note-on (real files: up to ~2 per note). */
const FREE_CONTROLS = 100_000;

function checkControls(ctx: TrackContext): void {
  const n = ctx.tempos.length + ctx.timeSignatures.length + ctx.pedals.length;
  if (n > FREE_CONTROLS + 4 * ctx.notes.length) {
    throw new MidiFileError(`too many tempo, time-signature and sustain-pedal events (more than ${FREE_CONTROLS} + 4 per note)`);
  }
}

function decodeTrack(b: Uint8Array, start: number, end: number, ctx: TrackContext): void {
  const { track, trackCount, maxNotes, notes, tempos, timeSignatures, pedals } = ctx;
  const fail = (what: string, at: number): never => {
    throw new MidiFileError(`corrupt track ${track + 1} of ${trackCount}: ${what} at byte ${at}`);
  };
  let p = start;
  const vlq = (): number => {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      if (p >= end) fail('event cut off by the end of the track chunk', p);
      const c = b[p++];
      v = v * 128 + (c & 0x7f);
      if (!(c & 0x80)) return v;
    }
    return fail('variable-length number longer than 4 bytes', p - 4);
  };
  const programs = new Uint8Array(16);
  // Sounding notes per channel*128+pitch as FIFO queues (array + head index).
  const queues: (MutableNote[] | undefined)[] = [];
  const heads = new Int32Array(16 * 128);
  const lastOn: (MutableNote | undefined)[] = [];
  let tick = 0;
  let running = -1;
  while (p < end) {
    tick += vlq();
    if (p >= end) fail('event cut off by the end of the track chunk', p);
    const at = p;
    const status = b[p];
    if (status === 0xff) {
      if (p + 1 >= end) fail('event cut off by the end of the track chunk', at);
      const type = b[p + 1];
      p += 2;
      const len = vlq();
      if (p + len > end) fail('event cut off by the end of the track chunk', at);
      if (type === 0x2f) {
        // End of Track: only zero padding may follow it in the chunk.
        if (!isZero(b, p + len, end)) {
          throw new MidiFileError(`corrupt track ${track + 1} of ${trackCount}: ${end - p - len} bytes follow End of Track at byte ${p + len} (a wrong chunk length?)`);
        }
        break;
      }
      if (type === 0x51 && len === 3) {
        const us = (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
        if (us > 0) {
          tempos.push({ tick, microsPerBeat: us });
          checkControls(ctx);
        }
      } else if (type === 0x58 && len >= 2 && b[p] > 0 && b[p + 1] <= 6) {
        timeSignatures.push({ tick, numerator: b[p], denominator: 2 ** b[p + 1] });
        checkControls(ctx);
      }
      p += len;
      continue;
    }
    if (status === 0xf0 || status === 0xf7) {
      p++;
      const len = vlq();
      if (p + len > end) fail('event cut off by the end of the track chunk', at);
      p += len;
      continue;
    }
    if (status > 0xf0) fail(`invalid status byte ${hex(status)}`, at);
    let s = running;
    if (status & 0x80) {
      s = status;
      running = status;
      p++;
    } else if (s < 0) {
      fail('running status with no previous status byte', at);
    }
    const kind = s >> 4;
    const size = kind === 0xc || kind === 0xd ? 1 : 2;
    if (p + size > end) fail('event cut off by the end of the track chunk', at);
    for (let i = 0; i < size; i++) if (b[p + i] & 0x80) fail(`data byte ${hex(b[p + i])} out of range 0–127`, p + i);
    const channel = s & 0x0f;
    const d1 = b[p];
    const d2 = size === 2 ? b[p + 1] : 0;
    p += size;
    if (kind === 0xc) {
      programs[channel] = d1;
    } else if (kind === 0xb && d1 === 64) {
      pedals.push({ tick, channel, down: d2 >= 64 });
      checkControls(ctx);
    } else if (kind === 0x9 && d2 > 0) {
      if (notes.length >= maxNotes) throw new MidiFileError(`too many notes (more than ${maxNotes} note-ons)`);
      const key = channel * 128 + d1;
      const n: MutableNote = {
        track, channel, program: programs[channel], pitch: d1, velocity: d2, startTick: tick, durationTicks: -1, unended: false, next: -1,
      };
      notes.push(n);
      const prev = lastOn[key];
      if (prev && prev.next < 0 && tick > prev.startTick) prev.next = tick;
      lastOn[key] = n;
      const q = queues[key];
      if (q) q.push(n);
      else queues[key] = [n];
    } else if (kind === 0x8 || kind === 0x9) {
      const key = channel * 128 + d1;
      const q = queues[key];
      if (q && heads[key] < q.length) {
        const n = q[heads[key]++];
        n.durationTicks = tick - n.startTick;
        if (heads[key] === q.length) {
          queues[key] = undefined;
          heads[key] = 0;
        }
      }
    }
  }
  // Note-ons without a note-off end at the next note-on of that pitch, else at the track end.
  for (const q of queues) {
    if (!q) continue;
    for (const n of q) {
      if (n.durationTicks >= 0) continue;
      n.durationTicks = (n.next >= 0 ? n.next : tick) - n.startTick;
      n.unended = true;
    }
  }
}
