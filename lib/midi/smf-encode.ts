/**
 * A small Standard MIDI File encoder, linear in the events it writes (plus
 * one sort per track). It replaces @tonejs/midi's writer, whose byte writer
 * (midi-file's) copies the whole track built so far for every delta time of
 * 128 ticks or more: 8,000 notes took about a minute, 30,000 would take hours.
 *
 * It writes format 1 files with a ticks-per-quarter-note division, the events
 * of each track sorted by tick (stably: events at one tick keep the order
 * they were given in), and an End of Track at the end of each. Running status
 * is not used. ./smf reads what it writes.
 */

/** One event of a track, at an absolute tick. */
export type SmfOutEvent =
  | { readonly kind: 'trackName'; readonly tick: number; readonly text: string }
  | { readonly kind: 'tempo'; readonly tick: number; readonly microsPerBeat: number }
  | { readonly kind: 'timeSignature'; readonly tick: number; readonly numerator: number; readonly denominator: number }
  | { readonly kind: 'program'; readonly tick: number; readonly channel: number; readonly program: number }
  | {
      readonly kind: 'noteOn' | 'noteOff';
      readonly tick: number;
      readonly channel: number;
      readonly pitch: number;
      readonly velocity: number;
    };

/** A growable byte buffer (doubling), so that appending is amortised O(1). */
class Bytes {
  private buf = new Uint8Array(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b & 0xff;
  }

  bytes(data: ArrayLike<number>): void {
    this.room(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  u16(v: number): void {
    this.byte(v >>> 8);
    this.byte(v);
  }

  u32At(pos: number, v: number): void {
    this.buf[pos] = v >>> 24;
    this.buf[pos + 1] = (v >>> 16) & 0xff;
    this.buf[pos + 2] = (v >>> 8) & 0xff;
    this.buf[pos + 3] = v & 0xff;
  }

  /** A MIDI variable-length quantity (7 bits a byte, most significant first; at most 4 bytes). */
  varLen(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0x0fffffff) throw new RangeError(`MIDI variable-length number out of range: ${v}`);
    let shift = 21;
    while (shift > 0 && v >>> shift === 0) shift -= 7;
    for (; shift > 0; shift -= 7) this.byte(0x80 | ((v >>> shift) & 0x7f));
    this.byte(v & 0x7f);
  }

  /** A chunk: its 4-character id, then a length written once its content is. */
  chunk(id: string, write: () => void): void {
    for (let i = 0; i < 4; i++) this.byte(id.charCodeAt(i));
    const at = this.length;
    this.bytes([0, 0, 0, 0]);
    write();
    this.u32At(at, this.length - at - 4);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Checks that `v` is an integer in [lo, hi] (a data byte, a channel …) and returns it. */
function int(v: number, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`cannot write MIDI: ${what} ${v} is not an integer in ${lo}–${hi}`);
  return v;
}

function writeEvent(out: Bytes, e: SmfOutEvent): void {
  switch (e.kind) {
    case 'trackName': {
      const text = Buffer.from(e.text, 'utf8');
      out.bytes([0xff, 0x03]);
      out.varLen(text.length);
      out.bytes(text);
      return;
    }
    case 'tempo': {
      const us = int(e.microsPerBeat, 1, 0xffffff, 'tempo (µs per beat)');
      out.bytes([0xff, 0x51, 3, us >>> 16, (us >>> 8) & 0xff, us & 0xff]);
      return;
    }
    case 'timeSignature': {
      const den = Math.log2(e.denominator);
      if (!Number.isInteger(den))
        throw new RangeError(`cannot write MIDI: time-signature denominator ${e.denominator} is not a power of 2`);
      // Metronome click every 24 MIDI clocks (a quarter note), 8 thirty-second notes per quarter.
      out.bytes([0xff, 0x58, 4, int(e.numerator, 1, 255, 'time-signature numerator'), int(den, 0, 255, 'denominator power'), 24, 8]);
      return;
    }
    case 'program':
      out.bytes([0xc0 | int(e.channel, 0, 15, 'channel'), int(e.program, 0, 127, 'program')]);
      return;
    case 'noteOn':
    case 'noteOff':
      out.bytes([
        (e.kind === 'noteOn' ? 0x90 : 0x80) | int(e.channel, 0, 15, 'channel'),
        int(e.pitch, 0, 127, 'pitch'),
        int(e.velocity, 0, 127, 'velocity'),
      ]);
      return;
  }
}

/**
 * Encodes tracks of events as a format 1 Standard MIDI File with `ppq` ticks
 * per quarter note. Each track's events are sorted by tick (stably) and
 * written with delta times, then End of Track. Throws a RangeError for a
 * value MIDI cannot hold (a negative tick, a pitch over 127 …).
 */
export function encodeSmf(ppq: number, tracks: readonly (readonly SmfOutEvent[])[]): Uint8Array {
  const out = new Bytes();
  out.chunk('MThd', () => {
    out.u16(1);
    out.u16(int(tracks.length, 1, 0xffff, 'track count'));
    out.u16(int(ppq, 1, 0x7fff, 'ticks per quarter note'));
  });
  for (const events of tracks) {
    // Array.prototype.sort is stable: events at one tick keep their order.
    const sorted = [...events].sort((a, b) => a.tick - b.tick);
    out.chunk('MTrk', () => {
      let last = 0;
      for (const e of sorted) {
        out.varLen(int(e.tick, 0, Number.MAX_SAFE_INTEGER, 'tick') - last);
        last = e.tick;
        writeEvent(out, e);
      }
      out.bytes([0, 0xff, 0x2f, 0]);
    });
  }
  return out.result();
}
