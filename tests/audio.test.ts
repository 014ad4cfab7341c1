import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeWav, encodeWav, wavInfo } from '../lib/show/wav';
import { findSynth, renderWav, synthInstallCommand, synthMissingReason } from '../lib/show/synth';
import { pieceToMidiBytes } from '../lib/midi/write';
import { readMidiFile } from '../lib/midi/read';
import { makePiece, pieceLengthSeconds, type Piece } from '../lib/core/piece';

const NOTTINGHAM = path.join(__dirname, '..', '..', 'shared', 'data', 'nottingham');
const synth = findSynth();
// Without a synth: skip locally, but FAIL in CI (CI installs it with scripts/setup.sh).
const noSynth = !synth && !process.env.CI ? `no synthesizer: ${synthMissingReason()}` : false;

/** A chord for 2 beats, 6 beats of silence, then one note at beat 8 (= 4.0 s at 120 bpm). */
const GAP_PIECE: Piece = makePiece('gap', [
  { pitch: 60, start: 0, duration: 1, velocity: 100 },
  { pitch: 64, start: 0, duration: 2, velocity: 100 },
  { pitch: 67, start: 8, duration: 1, velocity: 100 },
]);

/** RMS of the first channel between two times (seconds). */
function rmsBetween(wav: Uint8Array, from: number, to: number): number {
  const { sampleRate, samples } = decodeWav(wav);
  const ch = samples[0];
  let sum = 0;
  const a = Math.round(from * sampleRate);
  const b = Math.min(ch.length, Math.round(to * sampleRate));
  for (let i = a; i < b; i++) sum += ch[i] * ch[i];
  return Math.sqrt(sum / Math.max(1, b - a));
}

test('renders a real Nottingham tune: the piece length plus the tail, not silent', { skip: noSynth || (!fs.existsSync(NOTTINGHAM) && 'no ../shared data') }, async () => {
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
  for (const [pitch, program, hz] of [[67, 0, 392], [45, 32, 110]]) {
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
  await assert.rejects(renderWav(makePiece('empty', [])), { name: 'UserError', message: 'cannot render audio for "empty": it has no notes' });
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

test('a failing or missing SoundFont / synth run gives a clear error', { skip: process.platform === 'win32' && 'needs a shell script' }, async () => {
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
});

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
