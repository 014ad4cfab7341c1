import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareStats, longestRun, musicStats, noteExcerpts, topLine, type MusicStats } from '../lib/evaluate/metrics';
import { median } from '../lib/evaluate/evaluate';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { loadMidiFolder } from '../lib/midi/read';
import { createRng } from '../lib/core/rng';
import { NOTTINGHAM, needNottingham } from './helpers';

const note = (pitch: number, start: number, duration: number): Note => ({ pitch, start, duration, velocity: 80 });
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);

/** Deep-freezes a piece so any mutation throws. */
function frozen(p: Piece): Piece {
  p.notes.forEach((n) => Object.freeze(n));
  Object.freeze(p.notes);
  return Object.freeze(p);
}

// A: C major scale, one beat each, beats 0–8.
const A = frozen(
  makePiece(
    'a',
    [60, 62, 64, 65, 67, 69, 71, 72].map((p, i) => note(p, i, 1)),
  ),
);
// B: a C-E-G chord (2 beats), then C5 three times (half beats), a gap (3.5–6), C5 over F#, then A#.
const B = frozen(
  makePiece('b', [
    note(60, 0, 2),
    note(64, 0, 2),
    note(67, 0, 2),
    note(72, 2, 0.5),
    note(72, 2.5, 0.5),
    note(72, 3, 0.5),
    note(72, 6, 1),
    note(66, 6, 1),
    note(70, 7, 1),
  ]),
);
const EMPTY = frozen(makePiece('empty', []));

test('each statistic on hand-made pieces', () => {
  const a = musicStats([A]);
  close(a.pitchRange, 12, 'A range');
  close(a.pitchMean, 530 / 8, 'A mean pitch');
  close(a.pitchClassEntropy, 2.75, 'A entropy'); // C twice, six others once: 0.25·2 + 6·0.125·3
  close(a.scaleConsistency, 1, 'A scale');
  close(a.polyphony, 1, 'A polyphony');
  close(a.noteDensity, 1, 'A density');
  close(a.emptyBeatRate, 0, 'A empty beats');
  close(a.repeatRunMax, 1, 'A repeats');

  const b = musicStats([B]);
  close(b.lengthBeats, 8, 'B span');
  close(b.pitchRange, 12, 'B range');
  close(b.pitchMean, 615 / 9, 'B mean pitch');
  // Pitch classes C×5, E, G, F#, A#.
  close(b.pitchClassEntropy, -((5 / 9) * Math.log2(5 / 9) + 4 * (1 / 9) * Math.log2(1 / 9)), 'B entropy');
  // G major (or F major) holds 8 of the 9 notes; no diatonic scale holds both tritones C–F# and E–A#.
  close(b.scaleConsistency, 8 / 9, 'B scale');
  // Σ durations 10.5 over a sounding union [0, 3.5) ∪ [6, 8) of 5.5 beats.
  close(b.polyphony, 10.5 / 5.5, 'B polyphony');
  close(b.noteDensity, 9 / 8, 'B density');
  close(b.onsetDensity, 6 / 8, 'B onsets'); // onsets 0, 2, 2.5, 3, 6, 7
  close(b.durationMean, 10.5 / 9, 'B duration');
  close(b.emptyBeatRate, 2 / 8, 'B empty beats'); // beats 4 and 5
  // Top line 67, 72, 72, 72, 72, 70: a run of four C5s (the F# under the fourth is not the top).
  close(b.repeatRunMax, 4, 'B repeats');

  // An anacrusis: onsets at 0.5 and 3.25, last end 4.25 → beats 0..4, of which 1 and 2 are empty.
  const d = musicStats([makePiece('d', [note(60, 0.5, 0.25), note(62, 3.25, 1)])]);
  close(d.emptyBeatRate, 2 / 5, 'anacrusis empty beats');
  close(d.lengthBeats, 3.75, 'anacrusis span');
  // Counting starts at the beat of the first onset, not at beat 0.
  close(musicStats([makePiece('late', [note(60, 10.5, 1), note(62, 12, 1)])]).emptyBeatRate, 0, 'late start');
});

test('velocity spread and the share of onsets on beats, on hand-made pieces', () => {
  // A and B: every note at velocity 80 → no spread. A's onsets are all whole beats; B's are 0, 2, 2.5, 3, 6, 7 (its chords count once).
  const ab = [musicStats([A]), musicStats([B])];
  assert.deepEqual(
    ab.map((s) => s.velocitySpread),
    [0, 0],
  );
  close(ab[0].onBeatShare, 1, 'A on beats');
  close(ab[1].onBeatShare, 5 / 6, 'B on beats');
  // Velocities 40, 80, 120: mean 80, deviations ±40 and 0 → sd √(3200 / 3) (population form). The chord at 0 is one onset;
  // 1 + 1/24 is within the tolerance of a beat, 2 + 1/12 (one remi step) is not, 2.98 is; 3.5 is off the beat.
  const loud = (pitch: number, start: number, velocity: number): Note => ({ pitch, start, duration: 0.5, velocity });
  const c = makePiece('c', [
    loud(60, 0, 40),
    loud(64, 0, 80),
    loud(67, 1 + 1 / 24, 120),
    loud(60, 2 + 1 / 12, 80),
    loud(62, 2.98, 80),
    loud(64, 3.5, 80),
  ]);
  const sc = musicStats([c]);
  // Velocities 40, 80, 120, 80, 80, 80: mean 80, squared deviations 1600 + 1600 over 6 notes.
  close(sc.velocitySpread, Math.sqrt(3200 / 6), 'C spread');
  close(sc.onBeatShare, 3 / 5, 'C on beats'); // onsets 0, 1 + 1/24, 2.98 of 0, 1 + 1/24, 2 + 1/12, 2.98, 3.5
  close(
    musicStats([makePiece('three', [loud(60, 0, 40), loud(62, 1, 80), loud(64, 2, 120)])]).velocitySpread,
    Math.sqrt(3200 / 3),
    'three spread',
  );
  // Over a set: the mean of the pieces' values (each piece weighs the same; empty pieces left out).
  const set = musicStats([A, c, EMPTY]);
  close(set.velocitySpread, Math.sqrt(3200 / 6) / 2, 'set spread');
  close(set.onBeatShare, (1 + 3 / 5) / 2, 'set on beats');
  assert.ok(Number.isNaN(musicStats([EMPTY]).onBeatShare) && Number.isNaN(musicStats([EMPTY]).velocitySpread));
});

test('set statistics: counts, empty pieces left out of means, max and mean runs', () => {
  const s = musicStats([A, B, EMPTY]);
  assert.equal(s.pieces, 3);
  assert.equal(s.emptyPieces, 1);
  assert.equal(s.notes, 17);
  close(s.pitchRange, 12, 'range');
  close(s.scaleConsistency, (1 + 8 / 9) / 2, 'scale');
  close(s.noteDensity, (1 + 9 / 8) / 2, 'density');
  assert.equal(s.repeatRunMax, 4);
  close(s.repeatRunMean, 2.5, 'mean run');
  const none = musicStats([EMPTY]);
  assert.equal(none.pieces, 1);
  assert.equal(none.notes, 0);
  assert.ok(Number.isNaN(none.polyphony) && Number.isNaN(none.repeatRunMax));
  assert.equal(musicStats([]).pieces, 0);
});

test('topLine and longestRun', () => {
  assert.deepEqual(topLine(B.notes), [67, 72, 72, 72, 72, 70]);
  assert.deepEqual(topLine([note(60, 1, 1), note(65, 0, 1), note(64, 1 + 1e-9, 1)]), [65, 64]);
  assert.equal(longestRun([]), 0);
  assert.equal(longestRun([1, 1, 2, 2, 2, 1]), 3);
});

test('compareStats: relative differences, zero and NaN data', () => {
  const base = musicStats([A, B]);
  const gen: MusicStats = { ...base, pitchRange: 18, emptyBeatRate: 0.5, polyphony: NaN };
  const data: MusicStats = { ...base, emptyBeatRate: 0 };
  const c = compareStats(gen, data);
  assert.deepEqual(c.pitchRange, { generated: 18, data: 12, difference: 6, relative: 0.5 });
  assert.equal(c.emptyBeatRate.relative, null);
  assert.equal(c.emptyPieces.relative, 0);
  assert.equal(c.polyphony.relative, null);
  assert.equal(c.notes.relative, 0);
  assert.deepEqual(Object.keys(c), Object.keys(base));
});

test('Nottingham: tonal, dense, and distinguishable from random pitches and stuck notes', { skip: needNottingham }, () => {
  const { pieces } = loadMidiFolder(NOTTINGHAM);
  const real = musicStats(pieces.slice(0, 300));
  assert.equal(real.pieces, 300);
  assert.ok(real.scaleConsistency > 0.95, `scale ${real.scaleConsistency}`);
  assert.ok(real.pitchClassEntropy > 2 && real.pitchClassEntropy < 3.2, `entropy ${real.pitchClassEntropy}`);
  assert.ok(real.polyphony > 1.5, `polyphony ${real.polyphony}`); // melody over chords
  assert.ok(real.emptyBeatRate < 0.01, `empty ${real.emptyBeatRate}`);
  assert.ok(real.repeatRunMean > 1 && real.repeatRunMax < 30, `runs ${real.repeatRunMean} ${real.repeatRunMax}`);

  // Same rhythm, random pitches: the tonal statistics must collapse, the rhythmic ones stay.
  const rng = createRng(9);
  const random = pieces.slice(0, 300).map((p) =>
    makePiece(
      p.name,
      p.notes.map((n) => ({ ...n, pitch: 48 + Math.floor(rng.next() * 36) })),
    ),
  );
  const r = musicStats(random);
  assert.ok(r.scaleConsistency < 0.8, `random scale ${r.scaleConsistency}`);
  assert.ok(r.pitchClassEntropy > 3.3, `random entropy ${r.pitchClassEntropy}`);
  close(r.noteDensity, real.noteDensity, 'density unchanged');
  close(r.emptyBeatRate, real.emptyBeatRate, 'empty beats unchanged');

  // A stuck note: every note is middle C → one huge run.
  const stuck = musicStats(
    pieces.slice(0, 20).map((p) =>
      makePiece(
        p.name,
        p.notes.map((n) => ({ ...n, pitch: 60 })),
      ),
    ),
  );
  assert.ok(stuck.repeatRunMax > 100, `stuck ${stuck.repeatRunMax}`);
  assert.equal(stuck.pitchClassEntropy, 0);
  const cmp = compareStats(r, real);
  assert.ok(cmp.pitchClassEntropy.relative! > 0.1 && Math.abs(cmp.noteDensity.relative!) < 1e-12);
});

test('median: the middle value, the upper middle for an even count, null for none; the input is not modified', () => {
  const xs = [5, 1, 4, 2];
  assert.equal(median(xs), 4);
  assert.deepEqual(xs, [5, 1, 4, 2]);
  assert.equal(median([3, 9, 1]), 3);
  assert.equal(median([]), null);
});

test('noteExcerpts: consecutive notes in onset order at a seeded offset, short pieces whole, inputs untouched', () => {
  const notes = Array.from({ length: 20 }, (_, i) => ({ pitch: 40 + i, start: 19 - i, duration: 1, velocity: 64, program: 0 }));
  const long = makePiece('long', notes);
  const short = makePiece('short', notes.slice(0, 3));
  const before = JSON.stringify([long, short]);
  const a = noteExcerpts([long, short], 5, createRng(7));
  assert.equal(JSON.stringify([long, short]), before, 'inputs not modified');
  assert.equal(a[1], short, 'a piece with fewer notes is kept whole');
  const starts = a[0].notes.map((n) => n.start);
  assert.equal(starts.length, 5);
  for (let i = 1; i < starts.length; i++) assert.equal(starts[i], starts[i - 1] + 1, 'consecutive in onset order');
  assert.deepEqual(noteExcerpts([long], 5, createRng(7))[0].notes, a[0].notes, 'same seed, same excerpt');
  const offsets = new Set(Array.from({ length: 20 }, (_, s) => noteExcerpts([long], 5, createRng(s))[0].notes[0].start));
  assert.ok(offsets.size > 3, `offsets vary with the seed (${[...offsets]})`);
  assert.ok(
    [...offsets].every((o) => o >= 0 && o <= 15),
    'an excerpt never runs past the end',
  );
  assert.throws(() => noteExcerpts([long], 0, createRng(1)), /count must be an integer ≥ 1 \(got 0\)/);
});
