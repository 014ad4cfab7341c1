import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCopyIndex, type CopyMatch } from '../lib/evaluate/copying';
import { loadMidiFolder } from '../lib/midi/read';
import { createRng } from '../lib/core/rng';
import { NOTTINGHAM, needNottingham } from './helpers';

/** Brute force: longest common substring of `gen` with any one training piece (dynamic programming). */
function bruteLongest(gen: readonly number[], training: readonly (readonly number[])[]): number {
  let best = 0;
  for (const t of training) {
    let prev = new Array<number>(t.length + 1).fill(0);
    for (let i = 1; i <= gen.length; i++) {
      const cur = new Array<number>(t.length + 1).fill(0);
      for (let j = 1; j <= t.length; j++) {
        if (gen[i - 1] === t[j - 1]) cur[j] = prev[j - 1] + 1;
        best = Math.max(best, cur[j]);
      }
      prev = cur;
    }
  }
  return best;
}

/** The reported location really holds a copy of the reported length. */
function assertLocated(m: CopyMatch, gen: readonly number[], training: readonly (readonly number[])[]): void {
  if (m.length === 0) {
    assert.deepEqual(m, { length: 0, trainingPiece: -1, at: -1, generatedAt: -1 });
    return;
  }
  const src = training[m.trainingPiece].slice(m.at, m.at + m.length);
  assert.equal(src.length, m.length, 'run lies inside one training piece');
  assert.deepEqual(gen.slice(m.generatedAt, m.generatedAt + m.length), src);
}

test('agrees with brute force on random small inputs', () => {
  const rng = createRng(5);
  const r = (n: number): number => Math.floor(rng.next() * n);
  for (let trial = 0; trial < 300; trial++) {
    const alphabet = 2 + r(4);
    const training = Array.from({ length: r(5) }, () => Array.from({ length: r(15) }, () => r(alphabet)));
    const gen = Array.from({ length: r(20) }, () => r(alphabet + 1)); // may hold a symbol absent from training
    const index = buildCopyIndex(training);
    const m = index.longest(gen);
    assert.equal(m.length, bruteLongest(gen, training), `trial ${trial}: ${JSON.stringify({ training, gen })}`);
    assertLocated(m, gen, training);
    if (m.length > 0) {
      // Documented choice: the earliest longest run of `gen`, at its first occurrence in training order.
      const L = m.length;
      const runAt = (seq: readonly number[], a: number): string | undefined =>
        a + L <= seq.length ? seq.slice(a, a + L).join(',') : undefined;
      const inPiece = (t: readonly number[], run: string): number => t.findIndex((_, a) => runAt(t, a) === run);
      const firstGen = gen.findIndex((_, g) => {
        const run = runAt(gen, g);
        return run !== undefined && training.some((t) => inPiece(t, run) >= 0);
      });
      const run = runAt(gen, firstGen)!;
      assert.equal(m.generatedAt, firstGen);
      assert.equal(
        m.trainingPiece,
        training.findIndex((t) => inPiece(t, run) >= 0),
      );
      assert.equal(m.at, inPiece(training[m.trainingPiece], run));
    }
    // matchLengths: each entry is the longest copied run ending there.
    const ml = index.matchLengths(gen);
    for (let j = 0; j < gen.length; j++) {
      let expect = 0;
      for (let s = 0; s <= j; s++)
        if (bruteLongest(gen.slice(s, j + 1), training) === j + 1 - s) {
          expect = j + 1 - s;
          break;
        }
      assert.equal(ml[j], expect, `trial ${trial} position ${j}`);
    }
  }
});

test('no match across piece boundaries', () => {
  const training = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const index = buildCopyIndex(training);
  // 2 3 4 5 would be a run of 4 in the concatenation; inside one piece the best is 2.
  const m = index.longest([2, 3, 4, 5]);
  assert.deepEqual(m, { length: 2, trainingPiece: 0, at: 1, generatedAt: 0 });
  assert.deepEqual(Array.from(index.matchLengths([2, 3, 4, 5])), [1, 2, 1, 2]);
  assert.equal(index.longest([7, 8]).length, 0);
  // Reports the first occurrence in training order.
  assert.deepEqual(
    buildCopyIndex([
      [5, 1, 2, 3],
      [1, 2, 3],
    ]).longest([9, 1, 2, 3]),
    { length: 3, trainingPiece: 0, at: 1, generatedAt: 1 },
  );
  assert.equal(index.longest([]).length, 0);
  assert.equal(buildCopyIndex([]).longest([1, 2]).length, 0);
  assert.throws(() => buildCopyIndex([[1, -2]]), /token -2 at position 1 of training piece 0/);
});

test('finds a planted copy of known length in real token sequences', { skip: needNottingham }, () => {
  const { pieces } = loadMidiFolder(NOTTINGHAM);
  // Pitch sequences (onset order) of all tunes.
  const training = pieces.map((p) => p.notes.map((n) => n.pitch));
  const before = JSON.stringify(training[17]);
  const index = buildCopyIndex(training);
  assert.equal(
    index.tokens,
    training.reduce((a, s) => a + s.length, 0),
  );
  // Generated: pitches outside the training range (never in training) with a 60-token copy planted at 500.
  const rng = createRng(3);
  const gen = Array.from({ length: 2000 }, () => 0 + Math.floor(rng.next() * 8));
  const src = training[17];
  const start = 40;
  gen.splice(500, 60, ...src.slice(start, start + 60));
  gen[499] = 0; // pitches 0–7 never occur in Nottingham, so the run cannot extend
  gen[560] = 1;
  const m = index.longest(gen);
  assert.equal(m.length, 60);
  assert.equal(m.generatedAt, 500);
  assertLocated(m, gen, training);
  assert.equal(JSON.stringify(training[17]), before, 'training not modified');
});
