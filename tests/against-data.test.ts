/**
 * One generated piece against excerpts of the data as long (the notebook's
 * generation section): a piece cut from the data lies inside the data's
 * range; one bar played over and over lies far above it in bar repetition
 * and far outside in groove; the draw is seeded and inputs stay untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../lib/core/rng';
import { makePiece, type Note } from '../lib/core/piece';
import { againstData, AGAINST_DATA_STATS } from '../lib/evaluate/against-data';
import { loadMidiFolder } from '../lib/midi/read';
import { DATA_DIR } from './helpers';

const DATA = loadMidiFolder(DATA_DIR).pieces;
const byStat = (rows: ReturnType<typeof againstData>): Record<string, (typeof rows)[number]> =>
  Object.fromEntries(rows.map((r) => [r.stat, r]));

test('a piece that plays one bar over and over is far above the data in bar repetition; a tune of the data is inside its range', () => {
  const bar = (b: number): Note[] => [60, 64, 67, 72].map((p, i) => ({ pitch: p, start: b * 4 + i, duration: 1, velocity: 80 }));
  const loop = makePiece('loop', Array.from({ length: 24 }, (_, b) => bar(b)).flat());
  const rows = byStat(againstData(loop, DATA, createRng(1)));
  assert.deepEqual(Object.keys(rows), [...AGAINST_DATA_STATS]);
  assert.ok(rows.barRepetition.piece > 0.9, `the loop repeats ${rows.barRepetition.piece}`);
  assert.ok(rows.barRepetition.piece > rows.barRepetition.high, 'above the data range');
  assert.equal(rows.grooveConsistency.piece, 1);
  const tune = DATA.find((p) => p.name.includes('ode-to-joy')) ?? DATA[0];
  const first = { ...tune, notes: tune.notes.slice(0, 40) };
  const t = byStat(againstData(first, DATA, createRng(1)));
  for (const stat of ['pitchClassEntropy', 'noteDensity'] as const) {
    assert.ok(
      t[stat].piece >= t[stat].low - 1e-9 && t[stat].piece <= t[stat].high + 1e-9,
      `${stat}: ${t[stat].piece} outside ${t[stat].low}–${t[stat].high}`,
    );
  }
  assert.ok(t.barRepetition.low <= t.barRepetition.median && t.barRepetition.median <= t.barRepetition.high);
});

test('againstData is seeded, leaves its inputs alone, and refuses a piece or data without notes', () => {
  const piece = DATA[3];
  const before = JSON.stringify(piece);
  assert.deepEqual(againstData(piece, DATA, createRng(7)), againstData(piece, DATA, createRng(7)));
  assert.equal(JSON.stringify(piece), before);
  assert.throws(() => againstData(makePiece('empty', []), DATA, createRng(1)), /needs a piece and data with notes/);
  assert.throws(() => againstData(piece, [makePiece('empty', [])], createRng(1)), /needs a piece and data with notes/);
});
