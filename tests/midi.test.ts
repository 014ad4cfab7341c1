/**
 * MIDI reading and writing on real files (the Nottingham folk-tune corpus in
 * ../shared/data/nottingham; skipped when absent) and on synthetic pieces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Midi } from '@tonejs/midi';
import { loadMidiFolder, parseMidi, readMidiFile } from '../lib/midi/read';
import { pieceToMidiBytes, writeMidiFile } from '../lib/midi/write';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { NOTTINGHAM, needNottingham } from './helpers';

const skip = needNottingham;
const midiFiles = (): string[] =>
  skip
    ? []
    : fs
        .readdirSync(NOTTINGHAM)
        .filter((f) => f.endsWith('.mid'))
        .sort();

let cached: readonly Piece[] | undefined;
/** All Nottingham pieces, loaded once (by the first test that needs them). */
function corpus(): readonly Piece[] {
  cached ??= loadMidiFolder(NOTTINGHAM).pieces;
  return cached;
}

const rows = (notes: readonly Note[]): number[][] => notes.map((n) => [n.pitch, n.start, n.duration, n.velocity]);

test('every Nottingham file loads, fast', { skip }, (t) => {
  const files = midiFiles();
  const t0 = performance.now();
  const report = loadMidiFolder(NOTTINGHAM);
  const seconds = (performance.now() - t0) / 1000;
  const rate = files.length / seconds;
  t.diagnostic(`${files.length} files in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} files/s`);
  assert.equal(files.length, 1034);
  assert.equal(report.files, files.length);
  assert.deepEqual(report.skipped, []);
  assert.deepEqual(
    report.pieces.map((p) => p.name),
    files,
  );
  for (const p of report.pieces) assert.ok(p.notes.length >= 20, `${p.name}: ${p.notes.length} notes`);
  assert.ok(rate >= 200, `${rate.toFixed(0)} files/s (target ≥ 200)`);
  cached = report.pieces;
});

test('beats come from ticks/ppq: notes sit on a musical grid', { skip }, () => {
  let total = 0;
  let onSixteenths = 0;
  for (const p of corpus()) {
    for (const n of p.notes) {
      total++;
      // ppq is 1024: every time is a whole number of ticks.
      assert.ok(Number.isInteger(n.start * 1024) && Number.isInteger(n.duration * 1024), `${p.name}`);
      // 32nd notes and triplets (stored as 341/1024 beat): within 1/1000 beat of the 1/24-beat grid.
      const off = Math.abs(n.start * 24 - Math.round(n.start * 24)) / 24;
      assert.ok(off < 1e-3, `${p.name}: note at beat ${n.start} is off the 1/24 grid`);
      if (Number.isInteger(n.start * 4)) onSixteenths++;
      assert.ok(n.duration > 0 && n.pitch >= 0 && n.pitch <= 127 && n.velocity >= 1 && n.velocity <= 127);
    }
  }
  assert.ok(total > 300_000, `${total} notes`);
  assert.ok(onSixteenths / total > 0.99, `${onSixteenths / total} on the sixteenth grid`);
});

test('time signatures and tempo metadata are read', { skip }, () => {
  const a = readMidiFile(path.join(NOTTINGHAM, 'ashover1.mid'));
  assert.deepEqual(a.timeSignatures.slice(0, 4), [
    { beat: 0, numerator: 3, denominator: 4 },
    { beat: 21, numerator: 2, denominator: 4 },
    { beat: 23, numerator: 3, denominator: 4 },
    { beat: 44, numerator: 2, denominator: 4 },
  ]);
  // The corpus has no tempo events: MIDI's default 120 bpm applies.
  assert.deepEqual(a.tempos, [{ beat: 0, bpm: 120 }]);
  assert.deepEqual(rows(a.notes.slice(0, 3)), [
    [76, 2, 1, 90],
    [43, 3, 3, 90],
    [47, 3, 3, 90],
  ]);
  const meters = new Set(corpus().flatMap((p) => p.timeSignatures.map((ts) => `${ts.numerator}/${ts.denominator}`)));
  for (const m of ['4/4', '3/4', '6/8', '2/4', '9/8']) assert.ok(meters.has(m), `no ${m} in ${[...meters]}`);
  assert.ok(corpus().every((p) => p.tempos[0].beat === 0 && p.timeSignatures[0].beat === 0));
});

test('notes agree with @tonejs/midi on every Nottingham file', { skip }, () => {
  // Reading uses our own decoder (lib/midi/smf.ts); @tonejs/midi is the reference here.
  const byName = new Map(corpus().map((p) => [p.name, p]));
  for (const f of midiFiles()) {
    const midi = new Midi(fs.readFileSync(path.join(NOTTINGHAM, f)));
    const ppq = midi.header.ppq;
    const ref = midi.tracks
      .flatMap((t) => t.notes)
      .filter((n) => n.durationTicks > 0)
      .map((n) => ({ pitch: n.midi, start: n.ticks / ppq, duration: n.durationTicks / ppq, velocity: Math.round(n.velocity * 127) }));
    assert.deepEqual(rows(byName.get(f)?.notes ?? []), rows(makePiece(f, ref).notes), f);
  }
});

/** A piece exercising the writer: all pitches and velocities, triplets, chords, a re-struck pitch. */
function syntheticPiece(): Piece {
  const rng = createRng(11);
  const notes: Note[] = [];
  for (let i = 0; i < 128; i++) {
    // Times are whole ticks at ppq 480 (triplets included); each pitch once: no same-pitch overlaps.
    const start = (Math.floor(rng.next() * 64 * 12) * 40 + (i % 5)) / 480;
    notes.push({ pitch: i, start, duration: ((1 + Math.floor(rng.next() * 36)) * 40) / 480, velocity: 1 + ((i * 37) % 127) });
  }
  notes.push({ pitch: 60, start: 100, duration: 1, velocity: 10 }, { pitch: 60, start: 101, duration: 0.5, velocity: 127 });
  return makePiece('synthetic', notes, {
    tempos: [
      { beat: 0, bpm: 96 },
      { beat: 50, bpm: 150 },
    ],
    timeSignatures: [
      { beat: 0, numerator: 6, denominator: 8 },
      { beat: 48, numerator: 5, denominator: 4 },
    ],
    program: 41,
  });
}

test('write → read round trip reproduces pitch, start, duration and velocity exactly', (t) => {
  const piece = syntheticPiece();
  const back = parseMidi(pieceToMidiBytes(piece), 'back');
  assert.deepEqual(rows(back.notes), rows(piece.notes));
  assert.deepEqual(back.timeSignatures, piece.timeSignatures);
  assert.equal(back.program, 41);
  // Tempo is stored as whole microseconds per beat: 96 and 150 bpm are exact.
  assert.deepEqual(back.tempos, piece.tempos);
  // Through a real file, atomically written.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-rt-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeMidiFile(path.join(dir, 'a.mid'), piece, { program: 5 });
  const fromFile = readMidiFile(path.join(dir, 'a.mid'));
  assert.deepEqual([rows(fromFile.notes), fromFile.program], [rows(piece.notes), 5]);
  assert.deepEqual(fs.readdirSync(dir), ['a.mid']);
});

test('round trip is exact for Nottingham pieces on the writer 1/480-beat grid (every 8th, for speed)', { skip }, () => {
  let checked = 0;
  for (const p of corpus().filter((_, i) => i % 8 === 0)) {
    if (!p.notes.every((n) => Number.isInteger(n.start * 480) && Number.isInteger(n.duration * 480))) continue;
    const back = parseMidi(pieceToMidiBytes(p), p.name);
    assert.deepEqual(rows(back.notes), rows(p.notes), p.name);
    assert.deepEqual(back.timeSignatures, p.timeSignatures, p.name);
    checked++;
  }
  assert.ok(checked > 100, `only ${checked} pieces on the grid`);
});

test('pieceToMidiBytes is deterministic', () => {
  const pieces = [syntheticPiece(), ...(skip ? [] : corpus().slice(0, 20))];
  for (const p of pieces) {
    const a = pieceToMidiBytes(p);
    const b = pieceToMidiBytes(makePiece(p.name, [...p.notes].reverse(), p));
    assert.ok(a.length > 50);
    assert.deepEqual(Buffer.from(a), Buffer.from(b), p.name);
  }
});

test('reading keeps the tempo and meter changes in force: a late first tempo holds from beat 0, a change undone at its tick and a 4/4 that repeats the default are dropped', () => {
  const midi = new Midi();
  const ppq = midi.header.ppq;
  midi.header.tempos.push({ ticks: 2 * ppq, bpm: 90 });
  midi.header.timeSignatures.push(
    { ticks: 4 * ppq, timeSignature: [4, 4] },
    { ticks: 8 * ppq, timeSignature: [3, 4] },
    { ticks: 8 * ppq, timeSignature: [4, 4] },
    { ticks: 12 * ppq, timeSignature: [6, 8] },
  );
  midi.header.update();
  midi.addTrack().addNote({ midi: 60, ticks: 0, durationTicks: 16 * ppq, velocity: 0.6 });
  const piece = parseMidi(midi.toArray(), 'changes.mid');
  assert.deepEqual(
    piece.tempos.map((t) => [t.beat, Math.round(t.bpm)]),
    [[0, 90]],
  );
  assert.deepEqual(
    piece.timeSignatures.map((t) => [t.beat, t.numerator, t.denominator]),
    [
      [0, 4, 4],
      [12, 6, 8],
    ],
  );
});
