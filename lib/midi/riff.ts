/**
 * RIFF MIDI ("RMID", usually .rmi, sometimes .mid): a Standard MIDI File
 * stored whole in the `data` chunk of a RIFF container, as Windows-era
 * software wrote them. {@link unwrapRiff} finds that chunk; ./smf reads what
 * is in it. Other RIFF chunks (LIST, DISP: titles, copyright) and anything
 * after the data chunk hold no music and are passed over.
 *
 * RIFF is little-endian: "RIFF", the container's size, the form type "RMID",
 * then chunks of a 4-character id, a 32-bit size and the data, padded to an
 * even length. The container's own size is not checked (writers often get it
 * wrong, and only the data chunk matters); a data chunk that claims more
 * bytes than the file holds is truncated, as in ./smf.
 */
import { MidiFileError } from './smf-track';

/** The Standard MIDI File inside a RIFF RMID file, and where it starts in the file. */
interface RiffMidi {
  readonly smf: Uint8Array;
  /** Byte offset of the data chunk's content in the file. */
  readonly offset: number;
}

const ascii = (b: Uint8Array, p: number): string => String.fromCharCode(...b.subarray(p, p + 4));
const u32le = (b: Uint8Array, p: number): number => (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
/** A 4-byte id for a message: as text when printable, else as hex bytes. */
const shownId = (b: Uint8Array, p: number): string => {
  const id = b.subarray(p, p + 4);
  return id.every((c) => c >= 0x20 && c <= 0x7e) ? `"${ascii(b, p)}"` : Array.from(id, (c) => c.toString(16).padStart(2, '0')).join(' ');
};

/**
 * The MIDI data of a RIFF RMID file, or undefined when `bytes` do not start
 * with "RIFF" (then they are read as a plain Standard MIDI File). Throws a
 * {@link MidiFileError} for a RIFF file of another kind (a WAVE file, say),
 * an RMID file without a data chunk, or one whose data chunk is cut off.
 */
export function unwrapRiff(bytes: Uint8Array): RiffMidi | undefined {
  if (bytes.length < 4 || ascii(bytes, 0) !== 'RIFF') return undefined;
  if (bytes.length < 12) throw new MidiFileError('truncated: the file ends inside the RIFF header');
  if (ascii(bytes, 8) !== 'RMID') throw new MidiFileError(`not a MIDI file (a RIFF file of form ${shownId(bytes, 8)}, not RMID)`);
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const size = u32le(bytes, pos + 4);
    const remain = bytes.length - pos - 8;
    if (ascii(bytes, pos) === 'data') {
      if (size > remain) throw new MidiFileError(`truncated: the RIFF data chunk declares ${size} bytes but only ${remain} remain`);
      return { smf: bytes.subarray(pos + 8, pos + 8 + size), offset: pos + 8 };
    }
    pos += 8 + size + (size & 1);
  }
  throw new MidiFileError('not a MIDI file (a RIFF RMID file without a data chunk)');
}
