/**
 * Decoding the events of one track chunk of a Standard MIDI File (the file
 * around it is walked by ./smf): notes paired in linear time, and the tempo,
 * time-signature and sustain-pedal events.
 *
 * Decisions, per kind of input:
 * - An event cut off by the chunk end, a variable-length number over 4
 *   bytes, running status with no earlier status byte, a status byte
 *   0xF1–0xFE or a data byte ≥ 0x80 make the file corrupt. Running status
 *   carries across meta and sysex events (lenient, like most readers). Only
 *   zero padding may follow End of Track in the chunk. A track may end
 *   without End of Track ({@link decodeTrack} says so, and the caller warns).
 *   Malformed meta events we do not use, or tempo/time-signature events of
 *   the wrong length, are ignored.
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

/** A note while its track is decoded; `next` is the tick of the next note-on of the same channel and pitch, or -1. */
type MutableNote = { -readonly [K in keyof SmfNote]: SmfNote[K] } & { next: number };

/** A byte as 0xNN, for messages. */
export const hex = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/** Whether every byte from `p` to the end of `b` (or to `end`) is zero. */
export function isZero(b: Uint8Array, p: number, end = b.length): boolean {
  for (let i = p; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** Where one track's events go, and what the messages call the track. */
export interface TrackContext {
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

/**
 * Decodes the events of one track chunk (bytes `start` to `end` of `b`) into
 * `ctx`. Returns whether the track ended with an End of Track event (else it
 * was read to the end of the chunk). Throws a {@link MidiFileError} naming the
 * track and byte when the track is corrupt (see the module comment).
 */
export function decodeTrack(b: Uint8Array, start: number, end: number, ctx: TrackContext): boolean {
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
  let ended = false;
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
          throw new MidiFileError(
            `corrupt track ${track + 1} of ${trackCount}: ${end - p - len} bytes follow End of Track at byte ${p + len} (a wrong chunk length?)`,
          );
        }
        ended = true;
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
        track,
        channel,
        program: programs[channel],
        pitch: d1,
        velocity: d2,
        startTick: tick,
        durationTicks: -1,
        unended: false,
        next: -1,
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
  return ended;
}
