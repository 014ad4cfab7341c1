import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeWav, encodeWav, type PcmAudio } from '../lib/show/wav';
import { wavInfo } from './fixtures/media';
import { encodeMp3 } from '../lib/show/mp3';
import { findSynth, renderPcm, renderWav, synthInstallCommand, synthMissingReason } from '../lib/show/synth';
import { pieceToMidiBytes } from '../lib/midi/write';
import { readMidiFile } from '../lib/midi/read';
import { makePiece, pieceLengthSeconds, type Piece } from '../lib/core/piece';
import { NOTTINGHAM, needNottingham } from './helpers';

const synth = findSynth();
// Without a synth: skip locally, but FAIL in CI (CI installs it with scripts/setup.sh).
const noSynth = !synth && !process.env.CI ? `no synthesizer: ${synthMissingReason()}` : false;

/** A chord for 2 beats, 6 beats of silence, then one note at beat 8 (= 4.0 s at 120 bpm). */
const GAP_PIECE: Piece = makePiece('gap', [
  { pitch: 60, start: 0, duration: 1, velocity: 100 },
  { pitch: 64, start: 0, duration: 2, velocity: 100 },
  { pitch: 67, start: 8, duration: 1, velocity: 100 },
]);

/** RMS of the first channel between two times (seconds), of WAV bytes or decoded audio. */
function rmsBetween(audio: Uint8Array | PcmAudio, from: number, to: number): number {
  const { sampleRate, samples } = audio instanceof Uint8Array ? decodeWav(audio) : audio;
  const ch = samples[0];
  let sum = 0;
  const a = Math.round(from * sampleRate);
  const b = Math.min(ch.length, Math.round(to * sampleRate));
  for (let i = a; i < b; i++) sum += ch[i] * ch[i];
  return Math.sqrt(sum / Math.max(1, b - a));
}

test('renders a real Nottingham tune: the piece length plus the tail, not silent', { skip: noSynth || needNottingham }, async () => {
  const piece = readMidiFile(path.join(NOTTINGHAM, 'ashover1.mid'));
  const wav = await renderWav(piece);
  const info = wavInfo(wav);
  const len = pieceLengthSeconds(piece);
  assert.equal(info.sampleRate, 44100);
  assert.equal(info.channels, 2);
  assert.ok(Math.abs(info.seconds - len) <= 0.05 * len, `${info.seconds} s vs piece ${len} s`);
  assert.ok(Math.abs(info.seconds - (len + 1)) < 1 / 44100 + 1e-9, 'exactly the piece plus the 1 s default tail');
  assert.ok(info.rms > 0.02, `not silent (rms ${info.rms})`);
  assert.ok(info.peak <= 0.9 && info.peak > 0.85, `normalised to about -1 dBFS (peak ${info.peak})`);
  // Sound all the way through: every 5-second stretch of the tune has notes in it.
  for (let t = 0; t + 5 <= len; t += 5) assert.ok(rmsBetween(wav, t, t + 5) > 0.005, `sound between ${t} and ${t + 5} s`);
});

test('timing follows the piece: silence where it has none, a note at 4.0 s', { skip: noSynth }, async () => {
  const wav = await renderWav(GAP_PIECE, { channels: 1, sampleRate: 22050 });
  const info = wavInfo(wav);
  assert.equal(info.channels, 1);
  assert.equal(info.sampleRate, 22050);
  assert.ok(Math.abs(info.seconds - (pieceLengthSeconds(GAP_PIECE) + 1)) < 1e-3, `${info.seconds} s`);
  const chord = rmsBetween(wav, 0, 0.4);
  const gap = rmsBetween(wav, 2.2, 3.9);
  const note = rmsBetween(wav, 4.0, 4.4);
  assert.ok(chord > 0.05 && note > 0.05, `notes sound (chord ${chord}, note ${note})`);
  assert.ok(gap < note / 100, `the gap is silent (gap ${gap} vs note ${note})`);
  assert.ok(rmsBetween(wav, 3.7, 3.95) < note / 100, 'nothing before the note starts');
});

/** Fundamental frequency by autocorrelation (60–1200 Hz). */
function f0(x: Float32Array, sampleRate: number): number {
  let best = 0;
  let bestLag = 0;
  for (let lag = Math.floor(sampleRate / 1200); lag < sampleRate / 60; lag++) {
    let s = 0;
    for (let i = 0; i + lag < x.length; i++) s += x[i] * x[i + lag];
    if (s > best) [best, bestLag] = [s, lag];
  }
  return sampleRate / bestLag;
}

test('plays the right pitches (G4 = 392 Hz on piano, A2 = 110 Hz on bass)', { skip: noSynth }, async () => {
  for (const [pitch, program, hz] of [
    [67, 0, 392],
    [45, 32, 110],
  ]) {
    const piece = makePiece('p', [{ pitch, start: 0, duration: 2, velocity: 100 }], { program });
    const { sampleRate, samples } = decodeWav(await renderWav(piece, { channels: 1, reverb: false }));
    const measured = f0(samples[0].subarray(Math.round(0.1 * sampleRate), Math.round(0.4 * sampleRate)), sampleRate);
    assert.ok(Math.abs(measured / hz - 1) < 0.02, `pitch ${pitch}: ${measured.toFixed(1)} Hz, expected ${hz} Hz`);
  }
});

test('MIDI bytes render like the piece; the tail and program options apply', { skip: noSynth }, async () => {
  const bytes = pieceToMidiBytes(GAP_PIECE);
  const a = wavInfo(await renderWav(bytes, { tailSeconds: 0.25, channels: 1 }));
  assert.ok(Math.abs(a.seconds - (pieceLengthSeconds(GAP_PIECE) + 0.25)) < 1e-3, `${a.seconds} s`);
  const organ = await renderWav(GAP_PIECE, { program: 19, channels: 1 });
  const piano = await renderWav(GAP_PIECE, { channels: 1 });
  // A church organ sustains at full level to the note end; a piano decays.
  const ratio = (w: Uint8Array): number => rmsBetween(w, 0.8, 0.95) / rmsBetween(w, 0.05, 0.2);
  assert.ok(ratio(organ) > ratio(piano) * 1.5, `organ ${ratio(organ)} vs piano ${ratio(piano)}`);
  await assert.rejects(renderWav(makePiece('empty', [])), {
    name: 'UserError',
    message: 'cannot render audio for "empty": it has no notes',
  });
  await assert.rejects(renderWav(GAP_PIECE, { channels: 3 as 1 }), /channels must be 1 or 2/);
});

test('missing synthesizer → one-line error naming the install command', async () => {
  const expected = `audio needs FluidSynth, which was not found on PATH; install it with: ${synthInstallCommand()}`;
  const where = { env: { PATH: path.join(os.tmpdir(), 'no-such-dir') } };
  assert.equal(findSynth(where), null);
  assert.equal(synthMissingReason(where), expected);
  await assert.rejects(renderWav(GAP_PIECE, where), { name: 'UserError', message: expected });
  if (process.platform === 'linux') assert.equal(synthInstallCommand(), 'sudo apt-get install -y fluidsynth fluid-soundfont-gm');
  await assert.rejects(renderWav(GAP_PIECE, { fluidsynth: '/no/such/fluidsynth' }), {
    message: 'fluidsynth not found or not executable at /no/such/fluidsynth',
  });
});

test(
  'a failing or missing SoundFont / synth run gives a clear error',
  { skip: process.platform === 'win32' && 'needs a shell script' },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-fake-synth-'));
    try {
      const fake = path.join(dir, 'fluidsynth');
      fs.writeFileSync(fake, '#!/bin/sh\necho "fluidsynth: error: Failed to load SoundFont" >&2\nexit 3\n', { mode: 0o755 });
      const env = { PATH: dir };
      assert.equal(findSynth({ env, soundfont: '/no/such.sf2' }), null);
      assert.equal(synthMissingReason({ env, soundfont: '/no/such.sf2' }), 'SoundFont not found: /no/such.sf2');
      await assert.rejects(renderWav(GAP_PIECE, { env, soundfont: fake }), {
        name: 'UserError',
        message: 'fluidsynth failed (exit code 3): fluidsynth: error: Failed to load SoundFont',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('WAV encode/decode round trip and wavInfo of a known sine', () => {
  const sampleRate = 8000;
  const sine = Float32Array.from({ length: sampleRate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / sampleRate));
  const wav = encodeWav({ sampleRate, samples: [sine, new Float32Array(sampleRate)] });
  assert.equal(wav.length, 44 + sampleRate * 2 * 2);
  const info = wavInfo(wav);
  assert.equal(info.channels, 2);
  assert.equal(info.seconds, 1);
  assert.ok(Math.abs(info.rms - 0.5 / Math.SQRT2 / Math.SQRT2) < 1e-3, `rms ${info.rms}`); // half the frames are silent
  assert.ok(Math.abs(info.peak - 0.5) < 1e-3);
  const back = decodeWav(wav).samples[0];
  assert.ok(back.every((v, i) => Math.abs(v - sine[i]) < 1 / 16384));
  assert.throws(() => wavInfo(new Uint8Array(20)), /not a WAV file/);
});

// ---------------------------------------------------------------- MP3 (the notebook's audio players)

/** Decodes MP3 bytes with mpg123 (WebAssembly), independent of the encoder under test. */
async function decodeMp3(bytes: Uint8Array): Promise<PcmAudio & { errors: number }> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    const r = decoder.decode(bytes);
    return { sampleRate: r.sampleRate, samples: r.channelData, errors: r.errors.length };
  } finally {
    decoder.free();
  }
}

/** The first MP3 frame header: MPEG version, layer, bitrate (kbit/s), sample rate and channel mode. */
function mp3Header(bytes: Uint8Array): { version: string; layer: number; kbps: number; sampleRate: number; mono: boolean } {
  let at = 0;
  if (bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33)
    at = 10 + ((bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9]); // ID3v2
  assert.ok(bytes[at] === 0xff && (bytes[at + 1] & 0xe0) === 0xe0, `no MPEG frame sync at byte ${at}`);
  const v = (bytes[at + 1] >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const layer = 4 - ((bytes[at + 1] >> 1) & 3);
  const kbpsTable =
    v === 3
      ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
      : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  const rates = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] }[v as 0 | 2 | 3];
  return {
    version: { 3: 'MPEG-1', 2: 'MPEG-2', 0: 'MPEG-2.5' }[v as 0 | 2 | 3],
    layer,
    kbps: kbpsTable[bytes[at + 2] >> 4],
    sampleRate: rates[(bytes[at + 2] >> 2) & 3],
    mono: bytes[at + 3] >> 6 === 3,
  };
}

test('MP3: a 440 Hz sine encodes at the asked bitrate and decodes back to the same tone and level', async () => {
  const sampleRate = 22050;
  const seconds = 2;
  const sine = Float32Array.from({ length: sampleRate * seconds }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / sampleRate));
  const mp3 = await encodeMp3({ sampleRate, samples: [sine] }, 40);
  assert.deepEqual(mp3Header(mp3), { version: 'MPEG-2', layer: 3, kbps: 40, sampleRate: 22050, mono: true });
  // Constant bitrate: 40 kbit/s for 2 s is 10,000 bytes, plus at most a few frames of codec delay and padding.
  assert.ok(mp3.length >= 10_000 && mp3.length <= 10_000 * 1.15, `${mp3.length} bytes`);
  const back = await decodeMp3(mp3);
  assert.equal(back.errors, 0);
  assert.equal(back.sampleRate, sampleRate);
  const decoded = back.samples[0].length / sampleRate;
  assert.ok(decoded >= seconds && decoded <= seconds + 0.15, `decodes to ${decoded} s`);
  const middle = back.samples[0].subarray(Math.round(0.5 * sampleRate), Math.round(1.5 * sampleRate));
  assert.ok(Math.abs(f0(middle.subarray(0, 4096), sampleRate) / 440 - 1) < 0.02, 'still 440 Hz');
  const rms = Math.sqrt(middle.reduce((a, v) => a + v * v, 0) / middle.length);
  assert.ok(Math.abs(rms / (0.5 / Math.SQRT2) - 1) < 0.1, `level kept (rms ${rms})`);
  // Stereo keeps its channels apart: a tone on the left, silence on the right.
  const stereo = await decodeMp3(await encodeMp3({ sampleRate: 44100, samples: [sine, new Float32Array(sine.length)] }, 96));
  assert.equal(stereo.samples.length, 2);
  assert.ok(rmsBetween(stereo, 0.5, 1) > 0.2, 'left channel sounds');
  const right = { sampleRate: stereo.sampleRate, samples: [stereo.samples[1]] };
  assert.ok(rmsBetween(right, 0.5, 1) < 0.01, 'right channel silent');
});

test('MP3: sample rates, bitrates and channel counts it cannot have are refused in one line', async () => {
  const one = [new Float32Array(100)];
  await assert.rejects(encodeMp3({ sampleRate: 20000, samples: one }), {
    name: 'UserError',
    message: /MP3 cannot have a sample rate of 20000 Hz/,
  });
  await assert.rejects(encodeMp3({ sampleRate: 22050, samples: one }, 41 as 40), /bitrate must be one of .* \(got 41\)/);
  await assert.rejects(encodeMp3({ sampleRate: 44100, samples: one }, 16), /at 44100 Hz needs a bitrate of at least 32/);
  await assert.rejects(encodeMp3({ sampleRate: 22050, samples: one }, 320), /at 22050 Hz needs a bitrate of at most 160/);
  await assert.rejects(encodeMp3({ sampleRate: 22050, samples: [one[0], one[0], one[0]] }), /MP3 needs 1 or 2 channels \(got 3\)/);
});

test(
  'MP3 of a rendered piece (as the notebook embeds it) keeps its timing: the silent gap, the note at 4.0 s',
  { skip: noSynth },
  async () => {
    const pcm = await renderPcm(GAP_PIECE, { channels: 1, sampleRate: 22050 });
    const mp3 = await encodeMp3(pcm, 40);
    const back = await decodeMp3(mp3);
    assert.equal(back.sampleRate, 22050);
    const length = pcm.samples[0].length / 22050;
    const decoded = back.samples[0].length / 22050;
    assert.ok(decoded >= length && decoded <= length + 0.15, `decoded ${decoded} s vs rendered ${length} s`);
    // The codec delays the stream by about 50 ms: the windows below leave room for it.
    const chord = rmsBetween(back, 0.1, 0.5);
    const gap = rmsBetween(back, 2.3, 3.95);
    const note = rmsBetween(back, 4.1, 4.5);
    assert.ok(chord > 0.05 && note > 0.05, `notes sound (chord ${chord}, note ${note})`);
    assert.ok(gap < note / 50, `the gap is silent (gap ${gap} vs note ${note})`);
    assert.ok(Math.abs(note / rmsBetween(pcm, 4.05, 4.45) - 1) < 0.15, 'the note keeps its level');
  },
);
