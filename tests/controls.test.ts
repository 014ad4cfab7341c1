/**
 * Controls at generation: a remi model writes only the asked meter, tempo,
 * instruments and loudness (even untrained, the mask decides), can start from
 * nothing, and goes on in the asked key; every model's exported MIDI carries
 * the asked tempo and meter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePiece } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { controlsPrimer, DYNAMICS, transposePrimer, validateControls, withControls } from '../lib/generate/controls';
import { generateMusic } from '../lib/generate/generate';
import { primerFromPiece, primerFromPieces } from '../lib/generate/primer';
import { initBackend } from '../lib/model/backend';
import { newModel } from '../lib/model/network';
import { parseMidi } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { DEFAULT_TOKENIZER_CONFIG, defaultTokenizerConfig } from '../lib/tokens/config';
import { velocityBin } from '../lib/tokens/remi-bins';
import { firstRefused } from './fixtures/grammar';
import { tokenToString } from '../lib/tokens/token';
import { buildVocabulary, decodeIds } from '../lib/tokens/vocabulary';
import { tokensToPiece } from '../lib/tokens/tokenize';
import { loadMidiFolder } from '../lib/midi/read';
import { DATA_DIR } from './helpers';

const SMALL = { units: 24, embeddingDim: 8, layers: 1, dropout: 0 };

test('a remi model from nothing writes only the asked meter, tempo, instruments and loudness', async () => {
  await initBackend();
  const vocab = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
  const model = newModel(vocab, SMALL);
  try {
    const controls = { timeSignature: [6, 8] as const, bpm: 84, programs: [24, 40], dynamics: 'pp' as const };
    const g = generateMusic(model, vocab, controlsPrimer(vocab, controls), {
      sampling: { temperature: 1.5 },
      controls,
      run: { length: 300, seed: 5 },
    });
    assert.equal(g.events, 300);
    const back = parseMidi(pieceToMidiBytes(g.piece), 'back', { includeDrums: true });
    assert.deepEqual(
      back.timeSignatures.map((t) => [t.numerator, t.denominator]),
      [[6, 8]],
    );
    assert.deepEqual(
      back.tempos.map((t) => Math.round(t.bpm)),
      [84],
    );
    const programs = new Set(back.notes.map((n) => (n.drum ? 'drums' : n.program)));
    assert.ok(
      [...programs].every((p) => p === 24 || p === 40),
      `programs ${[...programs]}`,
    );
    const target = velocityBin(vocab.config, DYNAMICS.pp);
    assert.ok(
      back.notes.every((n) => Math.abs(velocityBin(vocab.config, n.velocity) - target) <= 1),
      'velocities near pp',
    );
    const meters = g.tokens.filter((t) => t.kind === 'ts');
    assert.ok(meters.every((t) => t.kind === 'ts' && t.numerator === 6 && t.denominator === 8));
    // Without controls the same untrained model wanders over meters and instruments.
    const free = generateMusic(model, vocab, controlsPrimer(vocab, {}), {
      sampling: { temperature: 1.5 },
      controls: {},
      run: { length: 300, seed: 5 },
    });
    assert.ok(new Set(free.piece.notes.map((n) => n.program)).size > 2, 'an untrained model uses many programs when free');
  } finally {
    model.net.dispose();
  }
});

test('with a primer, asked controls start at the next bar; a primer file keeps its own meter and tempo otherwise', async () => {
  await initBackend();
  const vocab = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
  const model = newModel(vocab, SMALL);
  try {
    const waltz = makePiece(
      'waltz',
      Array.from({ length: 30 }, (_, i) => ({ pitch: 60 + (i % 5), start: i, duration: 1, velocity: 80, program: 0 })),
      {
        timeSignatures: [{ beat: 0, numerator: 3, denominator: 4 }],
        tempos: [{ beat: 0, bpm: 100 }],
      },
    );
    const primer = primerFromPiece(waltz, vocab, 40);
    const own = generateMusic(model, vocab, primer, { sampling: {}, controls: {}, run: { length: 40, seed: 1 } });
    // Nothing is added to the primer, so the piece goes on in its meter (an untrained model may change it later: nothing asks it not to).
    assert.equal(own.primerLength, primer.ids.length);
    assert.deepEqual([own.piece.timeSignatures[0].numerator, own.piece.timeSignatures[0].denominator], [3, 4]);
    // The new notes are read in the primer's meter: with the primer's own notes they make up the whole piece.
    const key = (n: { pitch: number; start: number; duration: number }): string =>
      `${n.pitch}@${n.start.toFixed(6)}+${n.duration.toFixed(6)}`;
    const primerOnly = tokensToPiece(decodeIds(vocab, own.ids.slice(0, own.primerLength)), vocab.config).notes;
    const fresh = own.continuation;
    assert.equal(fresh.length, own.newNotes);
    assert.ok(fresh.length > 0 && primerOnly.length > 0);
    assert.deepEqual([...primerOnly, ...fresh].map(key).sort(), own.piece.notes.map(key).sort());
    const alone = tokensToPiece(decodeIds(vocab, own.ids.slice(own.primerLength)), vocab.config).notes;
    assert.notDeepEqual(
      alone.map((n) => n.start - alone[0].start),
      fresh.map((n) => n.start - fresh[0].start),
      'read alone, the new tokens lose the 3/4 meter',
    );
    const asked = generateMusic(model, vocab, primer, {
      sampling: {},
      controls: { timeSignature: [4, 4], bpm: 70 },
      run: { length: 40, seed: 1 },
    });
    const meters = asked.piece.timeSignatures.map((t) => [t.numerator, t.denominator]);
    assert.deepEqual(meters[0], [3, 4]);
    assert.deepEqual(meters[meters.length - 1], [4, 4], 'the asked meter from the next bar on');
    assert.deepEqual(
      asked.piece.tempos.map((t) => t.bpm),
      [70],
    );
  } finally {
    model.net.dispose();
  }
});

test('controls added to a primer: only those not in force at its end, in a new bar after its last complete note', () => {
  const vocab = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
  const waltz = makePiece(
    'waltz',
    Array.from({ length: 12 }, (_, i) => ({ pitch: 60 + (i % 5), start: i, duration: 1, velocity: 80, program: 0 })),
    {
      timeSignatures: [{ beat: 0, numerator: 3, denominator: 4 }],
      tempos: [{ beat: 0, bpm: 98 }],
    },
  );
  const primer = primerFromPiece(waltz, vocab, 200);
  const added = (c: Parameters<typeof withControls>[2], p = primer): string[] => {
    const ids = withControls(vocab, p, c).ids;
    assert.equal(firstRefused(vocab, ids), -1, 'the grammar accepts the primer with the controls');
    return decodeIds(vocab, ids).map(tokenToString);
  };
  const own = decodeIds(vocab, primer.ids).map(tokenToString);
  assert.equal(own[own.length - 1], 'd:12');
  assert.deepEqual(added({ timeSignature: [3, 4], bpm: 100, programs: [0, 33] }), own, 'all in force already');
  assert.deepEqual(added({ timeSignature: [4, 4], bpm: 100 }), [...own, '|', 'ts:4/4']);
  assert.deepEqual(
    added({ bpm: 70, programs: [33] }),
    [...own, '|', 'ts:3/4', 'p:0', 't:68', 'i:33'],
    'the new bar states the meter in force (meterEveryBar)',
  );
  // A primer that ends inside a note (p:24 n v without its d) loses that note, and its position with no other note, before the new bar.
  const cut = { ...primer, ids: primer.ids.slice(0, -1) };
  assert.deepEqual(added({ timeSignature: [4, 4] }, cut), [...own.slice(0, -4), '|', 'ts:4/4']);
  // A primer cut right after a bar token: that bar, which would have no meter, gives way to the controls' bar.
  const barId = vocab.tokens.findIndex((t) => t.kind === 'bar');
  assert.deepEqual(added({ bpm: 70 }, { ...primer, ids: [...primer.ids, barId] }), [...own, '|', 'ts:3/4', 'p:0', 't:68']);
});

test('transposing the primer moves its notes (drums stay) and the model continues there', () => {
  const vocab = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
  const piece = makePiece('p', [
    { pitch: 60, start: 0, duration: 1, velocity: 80 },
    { pitch: 127, start: 1, duration: 1, velocity: 80 },
    { pitch: 38, start: 2, duration: 1, velocity: 80, drum: true },
  ]);
  const primer = primerFromPiece(piece, vocab, 64);
  const up = transposePrimer(vocab, primer, 3);
  const pitches = (ids: readonly number[]) => decodeIds(vocab, ids).flatMap((t) => (t.kind === 'event' ? t.pitches : []));
  assert.deepEqual(pitches(up.ids), [63, 118, 38], 'up 3; 127 + 3 goes an octave down; the drum stays');
  assert.equal(transposePrimer(vocab, primer, 0), primer);
});

test('a timed model exports the asked tempo, meter and instrument', async () => {
  await initBackend();
  const config = defaultTokenizerConfig('timed');
  const pieces = loadMidiFolder(DATA_DIR).pieces.slice(0, 4);
  const vocab = buildVocabulary(pieces, config);
  const model = newModel(vocab, SMALL);
  try {
    const primer = primerFromPieces(pieces, vocab, 16, createRng(1));
    const g = generateMusic(model, vocab, primer, {
      sampling: {},
      controls: { bpm: 75, timeSignature: [3, 4], programs: [73] },
      run: { length: 20, seed: 2 },
    });
    const back = parseMidi(pieceToMidiBytes(g.piece), 'back');
    assert.deepEqual(
      back.tempos.map((t) => Math.round(t.bpm)),
      [75],
    );
    assert.deepEqual(
      back.timeSignatures.map((t) => [t.numerator, t.denominator]),
      [[3, 4]],
    );
    assert.ok(back.notes.every((n) => n.program === 73));
    assert.throws(() => controlsPrimer(vocab, {}), /a piece from nothing needs a remi model/);
  } finally {
    model.net.dispose();
  }
});

test('controls are validated with a message naming the control', () => {
  assert.throws(() => validateControls({ timeSignature: [3, 5] }), /timeSignature denominator must be 2, 4 or 8 \(got 5\)/);
  assert.throws(() => validateControls({ programs: [] }), /programs must name at least one/);
  assert.throws(() => validateControls({ programs: [0, 128] }), /programs\[1\] must be an integer in \[0, 127\] \(got 128\)/);
  assert.throws(() => validateControls({ transpose: 25 }), /transpose must be an integer in \[-24, 24\]/);
});
