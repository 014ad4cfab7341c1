/**
 * WAV files: decoding RIFF/WAVE bytes to float samples and encoding 16-bit PCM.
 */
import { UserError } from '../core/errors';

/** Decoded audio: one Float32Array per channel, samples in [-1, 1]. */
export interface PcmAudio {
  readonly sampleRate: number;
  readonly samples: readonly Float32Array[];
}

/**
 * Decodes a RIFF/WAVE file: integer PCM (8/16/24/32-bit) or 32/64-bit float,
 * plain or WAVE_FORMAT_EXTENSIBLE. Throws a one-line UserError otherwise.
 */
export function decodeWav(bytes: Uint8Array): PcmAudio {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new UserError('not a WAV file (no RIFF/WAVE header)');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = tag(at);
    const size = dv.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ' && size >= 16) {
      let format = dv.getUint16(body, true);
      if (format === 0xfffe && size >= 26) format = dv.getUint16(body + 24, true);
      fmt = { format, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data') {
      data = bytes.subarray(body, Math.min(bytes.length, body + size));
    }
    at = body + size + (size % 2);
  }
  if (!fmt || !data) throw new UserError('WAV file has no fmt or data chunk');
  const { format, channels, rate, bits } = fmt;
  const width = bits / 8;
  const ok = (format === 1 && [8, 16, 24, 32].includes(bits)) || (format === 3 && (bits === 32 || bits === 64));
  if (!ok || channels < 1) throw new UserError(`unsupported WAV encoding (format ${format}, ${bits} bits, ${channels} channels)`);
  const frames = Math.floor(data.length / (width * channels));
  const dd = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = (at: number): number => {
    if (format === 3) return bits === 32 ? dd.getFloat32(at, true) : dd.getFloat64(at, true);
    if (bits === 8) return (dd.getUint8(at) - 128) / 128;
    if (bits === 16) return dd.getInt16(at, true) / 32768;
    if (bits === 24) return (((dd.getUint8(at + 2) << 24) | (dd.getUint8(at + 1) << 16) | (dd.getUint8(at) << 8)) >> 8) / 8388608;
    return dd.getInt32(at, true) / 2147483648;
  };
  const samples = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) samples[c][i] = read((i * channels + c) * width);
  }
  return { sampleRate: rate, samples };
}

/** Encodes audio as a 16-bit PCM WAV file (samples are clipped to [-1, 1]). */
export function encodeWav(audio: PcmAudio): Uint8Array {
  const channels = audio.samples.length;
  const frames = channels > 0 ? audio.samples[0].length : 0;
  const dataBytes = frames * channels * 2;
  const out = new Uint8Array(44 + dataBytes);
  const dv = new DataView(out.buffer);
  const put = (at: number, s: string): void => [...s].forEach((ch, i) => dv.setUint8(at + i, ch.charCodeAt(0)));
  put(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, audio.sampleRate, true);
  dv.setUint32(28, audio.sampleRate * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  put(36, 'data');
  dv.setUint32(40, dataBytes, true);
  for (let i = 0, at = 44; i < frames; i++) {
    for (let c = 0; c < channels; c++, at += 2) {
      const v = Math.max(-1, Math.min(1, audio.samples[c][i]));
      dv.setInt16(at, Math.round(v < 0 ? v * 32768 : v * 32767), true);
    }
  }
  return out;
}
