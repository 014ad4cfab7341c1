/**
 * MP3 encoding of rendered audio (the LAME encoder compiled to WebAssembly,
 * from the `wasm-media-encoders` package): constant bitrate, mono or stereo.
 * MP3 plays in every browser's <audio> element, so a notebook can embed a
 * preview a tenth the size of the same audio as 16-bit WAV.
 */
import { createMp3Encoder } from 'wasm-media-encoders';
import { UserError } from '../core/errors';
import type { PcmAudio } from './wav';

/** Sample rates an MP3 stream can have (MPEG-1, -2 and -2.5 Layer III). */
const MP3_SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
/** Constant bitrates, kbit/s (the encoder's; each sample rate allows a subset: MPEG-1 ≥ 32, MPEG-2/2.5 ≤ 160). */
const MP3_BITRATES = [8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const;
type Mp3Bitrate = (typeof MP3_BITRATES)[number];

/** Samples handed to the encoder per call. */
const CHUNK = 1152 * 32;

/**
 * Encodes audio (one Float32Array per channel, 1 or 2 channels, samples in
 * [-1, 1]) as a constant-bitrate MP3 file at the audio's own sample rate.
 * The decoded stream starts about 50 ms late (the codec's delay) and is
 * padded to whole frames. Throws a one-line {@link UserError} for a sample
 * rate, bitrate or channel count MP3 does not have.
 */
export async function encodeMp3(audio: PcmAudio, bitrate: Mp3Bitrate = 48): Promise<Uint8Array> {
  const channels = audio.samples.length;
  if (channels !== 1 && channels !== 2) throw new UserError(`MP3 needs 1 or 2 channels (got ${channels})`);
  if (!(MP3_SAMPLE_RATES as readonly number[]).includes(audio.sampleRate)) {
    throw new UserError(`MP3 cannot have a sample rate of ${audio.sampleRate} Hz (it can be ${MP3_SAMPLE_RATES.join(', ')})`);
  }
  if (!(MP3_BITRATES as readonly number[]).includes(bitrate)) {
    throw new UserError(`MP3 bitrate must be one of ${MP3_BITRATES.join(', ')} kbit/s (got ${bitrate})`);
  }
  const mpeg1 = audio.sampleRate >= 32000;
  if (mpeg1 ? bitrate < 32 : bitrate > 160) {
    throw new UserError(
      `MP3 at ${audio.sampleRate} Hz needs a bitrate ${mpeg1 ? 'of at least 32' : 'of at most 160'} kbit/s (got ${bitrate})`,
    );
  }
  const encoder = await createMp3Encoder();
  encoder.configure({ sampleRate: audio.sampleRate, channels, bitrate });
  const parts: Uint8Array[] = [];
  const frames = audio.samples[0].length;
  for (let at = 0; at < frames; at += CHUNK) {
    // The encoder owns the bytes it returns and reuses them on the next call: copy each part.
    parts.push(encoder.encode(audio.samples.map((ch) => ch.subarray(at, Math.min(frames, at + CHUNK)))).slice());
  }
  parts.push(encoder.finalize().slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
