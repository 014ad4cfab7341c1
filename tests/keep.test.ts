/**
 * A remi piece keeps the meter it opens with and the band of its first bars
 * (lib/generate/keep.ts) unless asked not to: the keeper's mask token by
 * token, then whole generations by an untrained model (which, left alone,
 * changes meter and instrument all the time) and by the shipped piano model;
 * and the opening a saved model starts from (lib/generate/opening.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { controlsPrimer } from '../lib/generate/controls';
import { generateMusic } from '../lib/generate/generate';
import { BAND_BARS, startKeeping } from '../lib/generate/keep';
import { openingFor } from '../lib/generate/opening';
import { initBackend } from '../lib/model/backend';
import { newModel } from '../lib/model/network';
import { loadModel } from '../lib/store/load';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import type { Token } from '../lib/tokens/token';
import { buildVocabulary, encodeTokens, type Vocabulary } from '../lib/tokens/vocabulary';
import { loadVocabulary } from '../lib/tokens/vocab-file';
import { DATA_DIR, FOLK_MODEL, ROOT } from './helpers';

const REMI = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
const id = (vocab: Vocabulary, t: Token): number => encodeTokens(vocab, [t], 'error')[0];
const ts = (n: number, d: number): Token => ({ kind: 'ts', numerator: n, denominator: d });
const program = (p: number): Token => ({ kind: 'program', program: p, drum: false });
const BAR: Token = { kind: 'bar' };

/** The ids of `kind` that `mask` allows. */
function allowed(vocab: Vocabulary, mask: Float32Array | null, kind: Token['kind']): number[] {
  return vocab.tokens.flatMap((t, i) => (t.kind === kind && (!mask || mask[i] > 0) ? [i] : []));
}

test('the keeper: the first meter read is the only one allowed after; the band of the first bar where one plays is closed after it', () => {
  const k = startKeeping(REMI, {});
  assert.equal(k.mask(), null, 'nothing kept before anything is read');
  for (const t of [{ kind: 'bos' } as Token, BAR]) k.read(id(REMI, t));
  assert.equal(k.mask(), null);
  k.read(id(REMI, ts(3, 4)));
  assert.deepEqual(allowed(REMI, k.mask(), 'ts'), [id(REMI, ts(3, 4))]);
  assert.equal(allowed(REMI, k.mask(), 'program').length, allowed(REMI, null, 'program').length, 'the band is open in the first bars');
  k.read(id(REMI, program(0)));
  k.read(id(REMI, program(40)));
  for (let b = 1; b < BAND_BARS; b++) k.read(id(REMI, BAR));
  assert.equal(allowed(REMI, k.mask(), 'program').length, allowed(REMI, null, 'program').length, `still open in its bar ${BAND_BARS}`);
  k.read(id(REMI, program(73)));
  k.read(id(REMI, BAR));
  assert.deepEqual(
    allowed(REMI, k.mask(), 'program'),
    [0, 40, 73].map((p) => id(REMI, program(p))).sort((a, b) => a - b),
  );
  k.read(id(REMI, ts(6, 8)));
  assert.deepEqual(
    allowed(REMI, k.mask(), 'ts'),
    [id(REMI, ts(3, 4))],
    'a meter read later (a primer that changes) does not replace the kept one',
  );
});

test('the keeper: a primer that names instruments states the band where it ends; bars where nothing plays leave it open', () => {
  const primer = [{ kind: 'bos' } as Token, BAR, ts(4, 4), program(0), program(33)].map((t) => id(REMI, t));
  const k = startKeeping(REMI, {}, primer.length);
  primer.forEach((i) => k.read(i));
  const band = [0, 33].map((p) => id(REMI, program(p))).sort((a, b) => a - b);
  assert.deepEqual(allowed(REMI, k.mask(), 'program'), band, 'closed as the primer ends, in its first bar');
  k.read(id(REMI, BAR));
  assert.deepEqual(allowed(REMI, k.mask(), 'program'), band);
  const bare = [{ kind: 'bos' } as Token, BAR, ts(4, 4)].map((t) => id(REMI, t));
  const late = startKeeping(REMI, {}, bare.length);
  bare.forEach((i) => late.read(i));
  for (let b = 0; b < 3; b++) late.read(id(REMI, BAR));
  assert.equal(allowed(REMI, late.mask(), 'program').length, allowed(REMI, null, 'program').length, 'open while no bar has played');
  late.read(id(REMI, program(24)));
  late.read(id(REMI, program(25)));
  late.read(id(REMI, BAR));
  assert.deepEqual(
    allowed(REMI, late.mask(), 'program'),
    [24, 25].map((p) => id(REMI, program(p))).sort((a, b) => a - b),
  );
});

test("the keeper: a note before any meter keeps MIDI's 4/4; asked to, it keeps nothing; other schemes keep nothing", () => {
  const k = startKeeping(REMI, {});
  k.read(id(REMI, { kind: 'bos' }));
  k.read(id(REMI, { kind: 'event', pitches: [60] }));
  assert.deepEqual(allowed(REMI, k.mask(), 'ts'), [id(REMI, ts(4, 4))]);
  const free = startKeeping(REMI, { meterChanges: true, newInstruments: true });
  for (const t of [{ kind: 'bos' } as Token, BAR, ts(3, 4), program(5), BAR, BAR, BAR, BAR, BAR]) free.read(id(REMI, t));
  assert.equal(free.mask(), null);
  const folk = loadVocabulary(path.join(FOLK_MODEL, 'vocab.json'));
  const timed = startKeeping(folk, {});
  for (let i = 0; i < folk.tokens.length; i++) timed.read(i);
  assert.equal(timed.mask(), null);
});

/** Meters and programs of a generated piece, new material only (after the primer). */
function meterAndBand(
  vocab: Vocabulary,
  ids: readonly number[],
  primerLength: number,
): { meters: Set<string>; early: Set<number>; late: Set<number> } {
  const meters = new Set<string>();
  const early = new Set<number>();
  const late = new Set<number>();
  let bars = 0;
  /** The bar where an instrument first plays: the band is stated within BAND_BARS bars from it. */
  let opens = -1;
  ids.forEach((i, k) => {
    const t = vocab.tokens[i];
    if (t.kind === 'bar') bars++;
    if (t.kind === 'ts' && k >= primerLength) meters.add(`${t.numerator}/${t.denominator}`);
    if (t.kind === 'program') {
      if (opens < 0) opens = bars;
      (bars < opens + BAND_BARS ? early : late).add(i);
    }
  });
  return { meters, early, late };
}

test('an untrained remi model from nothing keeps the meter it opens with and its opening band; free, it changes both', async () => {
  await initBackend();
  const model = newModel(REMI, { units: 24, embeddingDim: 8, layers: 1, dropout: 0 });
  try {
    const run = { length: 300, seed: 3 };
    const kept = generateMusic(model, REMI, controlsPrimer(REMI, {}), { sampling: { temperature: 1.5 }, controls: {}, run });
    const k = meterAndBand(REMI, kept.ids, kept.primerLength);
    assert.equal(k.meters.size, 1, `one meter, got ${[...k.meters].join(' ')}`);
    assert.equal(kept.piece.timeSignatures.length, 1);
    assert.ok(
      [...k.late].every((p) => k.early.has(p)),
      'no instrument enters after the opening bars',
    );
    const freeControls = { meterChanges: true, newInstruments: true };
    const free = generateMusic(model, REMI, controlsPrimer(REMI, freeControls), {
      sampling: { temperature: 1.5 },
      controls: freeControls,
      run,
    });
    const f = meterAndBand(REMI, free.ids, free.primerLength);
    assert.ok(f.meters.size > 3, `left free, the untrained model changes meter (${f.meters.size} meters)`);
    assert.ok(
      [...f.late].some((p) => !f.early.has(p)),
      'left free, new instruments enter later',
    );
  } finally {
    model.net.dispose();
  }
});

test('the shipped piano model from nothing keeps one meter over 400 notes, for several seeds', async () => {
  await initBackend();
  const lm = await loadModel(path.join(ROOT, 'models', 'piano'));
  try {
    for (const seed of [1, 2, 3]) {
      const g = generateMusic(lm.model, lm.vocab, controlsPrimer(lm.vocab, {}), { sampling: {}, controls: {}, run: { length: 400, seed } });
      assert.equal(
        g.piece.timeSignatures.length,
        1,
        `seed ${seed}: ${g.piece.timeSignatures.map((t) => `${t.numerator}/${t.denominator}`).join(' ')}`,
      );
      assert.ok(g.piece.notes.length >= 400);
    }
  } finally {
    lm.model.net.dispose();
  }
});

test('openingFor: a remi model opens with the controls; another continues an excerpt of the data without them', () => {
  const controls = { timeSignature: [3, 4] as const, bpm: 90, programs: [0] };
  const remi = openingFor(REMI, controls, [DATA_DIR], 1);
  assert.equal(remi.primer.source, 'the controls');
  assert.deepEqual(remi.controls, controls);
  const folk = loadVocabulary(path.join(FOLK_MODEL, 'vocab.json'));
  const timed = openingFor(folk, controls, [DATA_DIR], 1);
  assert.match(timed.primer.source, /\.mid$/);
  assert.deepEqual(timed.controls, {});
  assert.deepEqual(openingFor(folk, controls, [DATA_DIR], 1), timed, 'the same seed gives the same excerpt');
  assert.throws(() => openingFor(folk, controls, [path.join(ROOT, 'lib')], 1), /no MIDI files to take an opening from in .*lib/);
});
