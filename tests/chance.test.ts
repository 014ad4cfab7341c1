import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chanceSpread, DEFAULT_CHANCE_OPTIONS } from '../lib/evaluate/chance';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { loadMidiFolder } from '../lib/midi/read';
import { createRng } from '../lib/core/rng';
import { musicStats } from '../lib/evaluate/metrics';
import { PIANO_MIDI, needPianoMidi } from './helpers';

const note = (pitch: number, start: number, duration: number): Note => ({ pitch, start, duration, velocity: 80 });

/** Four beats of single notes (polyphony 1) or of three-note chords (polyphony 3): four notes or twelve, all within `notes`. */
function piece(name: string, chords: boolean): Piece {
  const notes: Note[] = [];
  for (let b = 0; b < 4; b++) for (const p of chords ? [60, 64, 67] : [60]) notes.push(note(p + b, b, 1));
  return makePiece(name, notes);
}

const options = (samples: number): typeof DEFAULT_CHANCE_OPTIONS & { samples: number; notes: number } => ({
  ...DEFAULT_CHANCE_OPTIONS,
  samples,
  notes: 12,
});

test('chanceSpread: pieces that are all alike never stray; a mix strays by what one piece differs from the mean', () => {
  const alike = [piece('a', true), piece('b', true), piece('c', true)];
  const same = chanceSpread(alike, options(2), createRng(1));
  assert.equal(same.relative.polyphony, 0);
  assert.equal(same.relative.noteDensity, 0);
  assert.equal(same.within.polyphony, 1);
  // Half monophonic, half chords: all excerpts have polyphony 2; a set of one piece has 1 or 3, always 50 % off.
  const mixed = [piece('m1', false), piece('c1', true), piece('m2', false), piece('c2', true)];
  const one = chanceSpread(mixed, options(1), createRng(1));
  assert.equal(one.relative.polyphony, 0.5);
  assert.equal(one.within.polyphony, 0, 'no set of one piece is within 15 %');
  // Sets of 40 average out: their 90th percentile is far smaller (binomial: about 0.5 × 1.645 / √40 ≈ 0.13).
  const many = chanceSpread(mixed, options(40), createRng(1));
  assert.ok((many.relative.polyphony ?? 1) < 0.2, `sets of 40: ${String(many.relative.polyphony)}`);
  assert.deepEqual(
    { ...many, relative: null, within: null },
    { samples: 40, notes: 12, draws: 200, quantile: 0.9, tolerance: 0.15, relative: null, within: null },
  );
});

test('chanceSpread: the quantile is a nearest rank (1 = the largest), a difference equal to the tolerance counts as within, and a given reference is used', () => {
  // Chords of 1 to 4 notes: polyphony 1, 2, 3, 4; against a reference of 2.5, one piece strays by 0.6, 0.2, 0.2 or 0.6.
  const chords = [1, 2, 3, 4].map((k) => {
    const notes: Note[] = [];
    for (let b = 0; b < 4; b++) for (let v = 0; v < k; v++) notes.push(note(60 + 4 * v, b, 1));
    return makePiece(`chords of ${k}`, notes);
  });
  const reference = musicStats(chords);
  assert.equal(reference.polyphony, 2.5);
  const base = { ...DEFAULT_CHANCE_OPTIONS, samples: 1, notes: 16, reference, tolerance: 0.2 };
  const top = chanceSpread(chords, { ...base, quantile: 1 }, createRng(3));
  assert.equal(top.relative.polyphony, 0.6);
  const within = top.within.polyphony ?? 0;
  assert.ok(within > 0.35 && within < 0.65, `about half the sets are exactly 20 % off: ${within}`);
  assert.equal(chanceSpread(chords, { ...base, quantile: 0.01 }, createRng(3)).relative.polyphony, 0.2);
  // Another seed draws other sets.
  assert.notEqual(chanceSpread(chords, base, createRng(4)).within.polyphony, within);
});

test('chanceSpread is seeded, leaves its input alone (frozen here), and names a setting out of range', () => {
  const mixed = [piece('m1', false), piece('c1', true), piece('m2', false)];
  for (const p of mixed) {
    p.notes.forEach((n) => Object.freeze(n));
    Object.freeze(p.notes);
    Object.freeze(p);
  }
  assert.deepEqual(chanceSpread(mixed, options(2), createRng(7)), chanceSpread(mixed, options(2), createRng(7)));
  assert.throws(() => chanceSpread([], options(2), createRng(1)), /^RangeError: chanceSpread needs at least one piece$/);
  assert.throws(() => chanceSpread(mixed, options(0), createRng(1)), /^RangeError: samples must be an integer ≥ 1 \(got 0\)$/);
  assert.throws(
    () => chanceSpread(mixed, { ...options(2), draws: 0 }, createRng(1)),
    /^RangeError: draws must be an integer ≥ 1 \(got 0\)$/,
  );
  assert.throws(
    () => chanceSpread(mixed, { ...options(2), quantile: 0 }, createRng(1)),
    /^RangeError: quantile must be in \(0, 1\] \(got 0\)$/,
  );
  assert.throws(
    () => chanceSpread(mixed, { ...options(2), tolerance: -1 }, createRng(1)),
    /^RangeError: tolerance must be ≥ 0 \(got -1\)$/,
  );
  assert.throws(
    () => chanceSpread(mixed, { ...options(2), notes: 0 }, createRng(1)),
    /^RangeError: notes must be an integer ≥ 1 \(got 0\)$/,
  );
});

test(
  'on piano-midi, 8 excerpts of 200 notes stray by over 15 % in polyphony, density or on-beat share; 96 of 1,000 notes by far less',
  { skip: needPianoMidi },
  () => {
    const pieces = loadMidiFolder(PIANO_MIDI).pieces;
    const few = chanceSpread(pieces, { ...DEFAULT_CHANCE_OPTIONS, samples: 8, notes: 200 }, createRng(1));
    const lots = chanceSpread(pieces, { ...DEFAULT_CHANCE_OPTIONS, samples: 96, notes: 1000 }, createRng(1));
    for (const k of ['polyphony', 'noteDensity', 'onBeatShare'] as const) {
      const f = few.relative[k] ?? 0;
      const l = lots.relative[k] ?? 1;
      assert.ok(f > 0.15, `${k}: 8 excerpts stray by up to ${f}`);
      assert.ok(l < f / 2, `${k}: 96 excerpts stray by up to ${l}, 8 by ${f}`);
    }
    // Pitch-class entropy hardly varies between pieces.
    assert.ok((few.relative.pitchClassEntropy ?? 1) < 0.1, `entropy: ${String(few.relative.pitchClassEntropy)}`);
  },
);
