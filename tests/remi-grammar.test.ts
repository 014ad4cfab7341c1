/**
 * The remi grammar's state machine (lib/tokens/remi-grammar.ts): it accepts
 * every encoded piece, and an untrained model held to it writes only
 * well-formed remi — checked here by an independent reading of the rules —
 * that decodes and re-encodes to itself; the prev-token masks alone do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePiece } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { controlsPrimer } from '../lib/generate/controls';
import { generateMusic } from '../lib/generate/generate';
import { primerFromPieces } from '../lib/generate/primer';
import { sampleToken } from '../lib/generate/sample';
import { loadMidiFolder } from '../lib/midi/read';
import { initBackend } from '../lib/model/backend';
import { advance, initialState, readInferenceWeights } from '../lib/model/inference';
import { newModel, type MusicModel } from '../lib/model/network';
import { DEFAULT_TOKENIZER_CONFIG, type TokenizerConfig } from '../lib/tokens/config';
import { grammarMasks, grammarStart } from '../lib/tokens/grammar';
import { firstRefused } from './fixtures/grammar';
import { barSteps, durationBins, nearestBin } from '../lib/tokens/remi-bins';
import { tokenToString, type Token } from '../lib/tokens/token';
import { pieceToTokens, schemeOf, tokensToPiece } from '../lib/tokens/tokenize';
import { buildVocabulary, decodeIds, encodeTokens, type Vocabulary } from '../lib/tokens/vocabulary';
import { DATA_DIR, needNottingham, needPianoMidi, NOTTINGHAM, PIANO_MIDI } from './helpers';

const REMI = DEFAULT_TOKENIZER_CONFIG;
/** remi as saved before meterEveryBar: the time signature only where it changes. */
const CHANGES_ONLY: TokenizerConfig = { ...REMI, meterEveryBar: false };
const SMALL = { units: 24, embeddingDim: 8, layers: 1, dropout: 0 };

/** A note as the tokens place it: onset in steps from the start, instrument rank, pitch, and the index of its duration token. */
interface Placed {
  readonly onset: number;
  readonly rank: number;
  readonly pitch: number;
  readonly durAt: number;
}

/**
 * The rules of well-formed remi, read independently of the state machine:
 * returns the first few broken ones (empty when none). Also lists the notes.
 */
function check(tokens: readonly Token[], config: TokenizerConfig): { broken: string[]; notes: Placed[] } {
  const broken: string[] = [];
  const notes: Placed[] = [];
  const scheme = schemeOf(config);
  const fail = (i: number, why: string): void => {
    if (broken.length < 5) broken.push(`token ${i} (${tokenToString(tokens[i])}): ${why}`);
  };
  if (tokens[0]?.kind !== 'bos') fail(0, 'the first token is not <s>');
  let meter = '';
  let barLength = barSteps(config, [4, 4]);
  let barStart = -1;
  let bars = 0;
  let position = -1;
  let run = 0; // empty bars in a row (a bar with a meter change starts a new run)
  let tempo = -1;
  let rank = -1;
  let last: readonly [number, number] = [-1, -1]; // (rank, pitch) of the last note at this position
  const closeBar = (i: number): void => {
    if (bars > 0 && position < 0 && ++run > config.maxEmptyBars) fail(i, `more than ${config.maxEmptyBars} empty bars in a row`);
    if (position >= 0) run = 0;
  };
  tokens.forEach((t, i) => {
    if (i > 0 && !scheme.mayFollow(tokens[i - 1], t)) fail(i, `may not follow ${tokenToString(tokens[i - 1])}`);
    if (t.kind === 'bos' && i > 0) fail(i, 'a second <s>');
    if (t.kind === 'bar') {
      closeBar(i);
      barStart += bars > 0 ? barLength : 1;
      bars++;
      position = -1;
      if (bars === 1 && tokens[i + 1]?.kind !== 'ts') fail(i, 'the first bar has no time signature');
      else if (config.meterEveryBar && tokens[i + 1]?.kind !== 'ts') fail(i, 'a bar has no time signature (meterEveryBar)');
    } else if (t.kind === 'ts') {
      const m = `${t.numerator}/${t.denominator}`;
      if (m === meter && !config.meterEveryBar) fail(i, 'the meter in force again');
      if (m !== meter) run = 0;
      meter = m;
      barLength = barSteps(config, [t.numerator, t.denominator]);
    } else if (t.kind === 'pos') {
      if (tempo < 0 && (t.position !== 0 || tokens[i + 1]?.kind !== 'tempo')) fail(i, 'the first position is not p:0 with a tempo');
      if (t.position <= position) fail(i, `position after ${position} in the bar`);
      if (t.position >= barLength) fail(i, `position beyond the bar (${barLength} steps)`);
      position = t.position;
      last = [-1, -1];
    } else if (t.kind === 'tempo') {
      if (t.bpm === tempo) fail(i, 'the tempo in force again');
      tempo = t.bpm;
    } else if (t.kind === 'program') {
      const r = t.drum ? 128 : t.program;
      if (r === rank) fail(i, 'the instrument in force again');
      rank = r;
    } else if (t.kind === 'event') {
      if (rank < 0) fail(i, 'a note before any instrument');
      const p = t.pitches[0];
      if (rank < last[0] || (rank === last[0] && p <= last[1])) fail(i, 'notes at one position not in instrument, then pitch order');
      last = [rank, p];
      notes.push({ onset: barStart + position, rank, pitch: p, durAt: i + 2 });
    }
  });
  if (tokens.length > 1 && scheme.needsMore(tokens[tokens.length - 1])) fail(tokens.length - 1, 'the last note is unfinished');
  return { broken, notes };
}

/**
 * What re-encoding the decoded tokens gives: the tokens themselves, but a note
 * that a later note of its pitch and instrument cuts short (the decoder ends
 * it there) has the duration bin nearest to what is left (computed in beats,
 * as the decoder and encoder do, so a tie between two bins goes the way
 * floating point rounds it).
 */
function reencodedAs(tokens: readonly Token[], notes: readonly Placed[], config: TokenizerConfig): string[] {
  const out = tokens.map(tokenToString);
  const bins = durationBins(config);
  const spb = config.stepsPerBeat;
  notes.forEach((n, k) => {
    const dur = tokens[n.durAt];
    const cut = notes.slice(k + 1).find((m) => m.rank === n.rank && m.pitch === n.pitch && m.onset > n.onset);
    if (dur.kind === 'dur' && cut && n.onset + dur.steps > cut.onset)
      out[n.durAt] = `d:${nearestBin(bins, (cut.onset / spb - n.onset / spb) * spb)}`;
  });
  return out;
}

function acceptsCorpus(dir: string, config: TokenizerConfig = REMI): void {
  const vocab = buildVocabulary([], config);
  for (const piece of loadMidiFolder(dir).pieces) {
    const tokens = pieceToTokens(piece, config);
    assert.deepEqual(check(tokens, config).broken, [], piece.name);
    const at = firstRefused(vocab, encodeTokens(vocab, tokens, 'error'));
    assert.equal(
      at,
      -1,
      `${piece.name}: ${tokens
        .slice(Math.max(0, at - 8), at + 1)
        .map(tokenToString)
        .join(' ')} is refused`,
    );
  }
}

test('the grammar accepts every encoded piece of the project corpus, and the rules hold there', () => acceptsCorpus(DATA_DIR));
test('the same with the meter only where it changes (remi models saved before meterEveryBar)', () => acceptsCorpus(DATA_DIR, CHANGES_ONLY));
test('the grammar accepts every encoded piece of piano-midi', { skip: needPianoMidi }, () => acceptsCorpus(PIANO_MIDI));
test('the grammar accepts every encoded piece of Nottingham', { skip: needNottingham }, () => acceptsCorpus(NOTTINGHAM));

test('the grammar keeps positions inside the bar and after the last one, and the meter, tempo and instrument from repeating', () => {
  const vocab = buildVocabulary([], CHANGES_ONLY);
  const id = (s: string): number => {
    const j = vocab.tokens.findIndex((t) => tokenToString(t) === s);
    assert.ok(j >= 0, s);
    return j;
  };
  const state = (...s: string[]) => s.reduce((g, x) => g.after(id(x)), grammarStart(vocab));
  const allowed = (g: ReturnType<typeof state>): Set<string> =>
    new Set(vocab.tokens.filter((_, j) => g.allowed()[j] > 0).map(tokenToString));
  const open = ['<s>', '|', 'ts:4/4', 'p:0', 't:123', 'i:0', 'n:60', 'v:3', 'd:12'];
  let a = allowed(state(...open, 'p:40', 'n:62', 'v:3', 'd:12'));
  assert.ok(a.has('p:41') && a.has('p:47') && a.has('|'));
  assert.ok(!a.has('p:40') && !a.has('p:10') && !a.has('p:48'), 'not backwards, not at or past 48 steps in 4/4');
  assert.ok(a.has('n:63') && !a.has('n:62') && !a.has('n:50'), 'higher pitches only at one position');
  assert.ok(a.has('i:1') && a.has('i:drums') && !a.has('i:0'), 'later instruments only');
  a = allowed(state(...open, '|'));
  assert.ok(!a.has('ts:4/4') && a.has('ts:3/4') && a.has('p:47') && !a.has('p:48'));
  a = allowed(state(...open, '|', 'ts:3/4'));
  assert.ok(a.has('p:35') && !a.has('p:36'), '36 steps in 3/4');
  a = allowed(state(...open, 'p:5'));
  assert.ok(!a.has('t:123') && a.has('t:98') && !a.has('i:0') && a.has('i:5') && a.has('n:10'));
  // The opening: a meter, then p:0 with a tempo, an instrument before the first note.
  assert.deepEqual(
    [...allowed(state('<s>', '|'))].every((s) => s.startsWith('ts:')),
    true,
  );
  assert.deepEqual([...allowed(state('<s>', '|', 'ts:4/4'))], ['p:0']);
  assert.ok([...allowed(state('<s>', '|', 'ts:4/4', 'p:0'))].every((s) => s.startsWith('t:')));
  a = allowed(state('<s>', '|', 'ts:4/4', 'p:0', 't:123'));
  assert.ok(a.has('i:0') && a.has('p:1') && [...a].every((s) => !s.startsWith('n:')));
  // Empty bars: at most maxEmptyBars in a row; a meter change starts a new count.
  const empty = Array.from({ length: REMI.maxEmptyBars }, () => '|');
  assert.ok(allowed(state(...open, ...empty)).has('|'));
  assert.ok(!allowed(state(...open, ...empty, '|')).has('|'));
  assert.ok(allowed(state(...open, ...empty, '|', 'ts:3/4')).has('|'));
});

test('with meterEveryBar, every bar states its meter: the one in force or a new one, and the same meter does not restart the count of empty bars', () => {
  const vocab = buildVocabulary([], REMI);
  assert.equal(REMI.meterEveryBar, true, 'the default');
  const id = (s: string): number => vocab.tokens.findIndex((t) => tokenToString(t) === s);
  const state = (...s: string[]) => s.reduce((g, x) => g.after(id(x)), grammarStart(vocab));
  const allowed = (g: ReturnType<typeof state>): Set<string> =>
    new Set(vocab.tokens.filter((_, j) => g.allowed()[j] > 0).map(tokenToString));
  const open = ['<s>', '|', 'ts:4/4', 'p:0', 't:123', 'i:0', 'n:60', 'v:3', 'd:12'];
  const afterBar = allowed(state(...open, '|'));
  assert.ok([...afterBar].every((s) => s.startsWith('ts:')) && afterBar.has('ts:4/4') && afterBar.has('ts:3/4'), [...afterBar].join(' '));
  assert.ok(allowed(state(...open, '|', 'ts:4/4')).has('p:47') && !allowed(state(...open, '|', 'ts:4/4')).has('p:48'));
  assert.ok(allowed(state(...open, '|', 'ts:3/4')).has('p:35') && !allowed(state(...open, '|', 'ts:3/4')).has('p:36'));
  const empty = Array.from({ length: REMI.maxEmptyBars }, () => ['|', 'ts:4/4']).flat();
  assert.ok(allowed(state(...open, ...empty)).has('|'));
  assert.ok(!allowed(state(...open, ...empty, '|', 'ts:4/4')).has('|'), 'one empty bar too many, though each states its meter');
  assert.ok(allowed(state(...open, ...empty, '|', 'ts:3/4')).has('|'), 'a meter change starts a new count');
});

/** Generation with the prev-token masks only (what lib did before the state machine), for comparison. */
function sampleWithoutState(model: MusicModel, vocab: Vocabulary, primer: readonly number[], events: number, seed: number): Token[] {
  const masks = grammarMasks(vocab);
  const w = readInferenceWeights(model);
  try {
    const rng = createRng(seed);
    let r = advance(w, initialState(w), primer[0]);
    for (const id of primer.slice(1)) r = advance(w, r.state, id);
    const ids = [...primer];
    let n = 0;
    while (n < events || schemeOf(vocab.config).needsMore(vocab.tokens[ids[ids.length - 1]])) {
      const next = sampleToken(r.logits, { temperature: 1.5, topK: 0, topP: 0.95 }, rng, masks[ids[ids.length - 1]]);
      ids.push(next);
      if (vocab.tokens[next].kind === 'event') n++;
      r = advance(w, r.state, next);
    }
    return decodeIds(vocab, ids);
  } finally {
    w.dispose();
  }
}

test('an untrained remi model writes only well-formed remi, which decodes and re-encodes to itself; prev-token masks alone do not', async () => {
  await initBackend();
  const vocab = buildVocabulary([], REMI);
  const model = newModel(vocab, SMALL);
  const pieces = loadMidiFolder(DATA_DIR).pieces;
  try {
    let notes = 0;
    let cut = 0;
    for (let seed = 0; seed < 24; seed++) {
      // From nothing (the controls) mostly; every fourth seed continues an excerpt of the data, every eighth with controls added.
      const controls = seed % 8 === 7 ? { timeSignature: [5, 4] as const, bpm: 70 } : {};
      const primer =
        seed % 4 === 3
          ? primerFromPieces(pieces, vocab, 40, createRng(seed))
          : controlsPrimer(vocab, seed % 2 ? { timeSignature: [7, 8] } : {});
      const g = generateMusic(model, vocab, primer, { sampling: { temperature: 1.5, topP: 1 }, controls, run: { length: 120, seed } });
      const { broken, notes: placed } = check(g.tokens, REMI);
      assert.deepEqual(broken, [], `seed ${seed}`);
      assert.equal(firstRefused(vocab, g.ids), -1, `seed ${seed}: the grammar refuses its own output`);
      const expected = reencodedAs(g.tokens, placed, REMI);
      cut += expected.filter((s, i) => s !== tokenToString(g.tokens[i])).length;
      notes += placed.length;
      const again = pieceToTokens(tokensToPiece(g.tokens, REMI), REMI).map(tokenToString);
      assert.deepEqual(again, expected, `seed ${seed}`);
    }
    assert.ok(notes > 2000, `${notes} notes`);
    assert.ok(cut < notes / 10, `${cut} of ${notes} notes cut short by a later one of their pitch`);
    // Without the state machine, the same model breaks the rules in most pieces.
    let brokenPieces = 0;
    const why: string[] = [];
    for (let seed = 0; seed < 8; seed++) {
      // A primer that opens the first bar in full (a piece from nothing without a meter is only `<s> |`).
      const { broken } = check(sampleWithoutState(model, vocab, controlsPrimer(vocab, { timeSignature: [4, 4] }).ids, 120, seed), REMI);
      if (broken.length > 0) brokenPieces++;
      why.push(...broken);
    }
    assert.ok(brokenPieces >= 6, `${brokenPieces} of 8 pieces break a rule`);
    assert.ok(why.some((w) => w.includes('position beyond the bar')) && why.some((w) => w.includes('position after')), why.join('\n'));
  } finally {
    model.net.dispose();
  }
});

test('a long silence across a tempo or meter event that keeps the bin in force is shortened like any other, so the grammar accepts it', () => {
  for (const config of [REMI, CHANGES_ONLY]) {
    const vocab = buildVocabulary([], config);
    const notes = [
      { pitch: 60, start: 0, duration: 1, velocity: 80 },
      { pitch: 62, start: 160, duration: 1, velocity: 80 },
    ];
    const pieces = [
      makePiece('same tempo bin', notes, {
        tempos: [
          { beat: 0, bpm: 120 },
          { beat: 40, bpm: 120.5 },
        ],
      }),
      makePiece('same meter', notes, {
        timeSignatures: [
          { beat: 0, numerator: 4, denominator: 4 },
          { beat: 40, numerator: 16, denominator: 16 },
        ],
      }),
    ];
    for (const piece of pieces) {
      const tokens = pieceToTokens(piece, config);
      assert.deepEqual(check(tokens, config).broken, [], piece.name);
      assert.equal(firstRefused(vocab, encodeTokens(vocab, tokens, 'error')), -1, `${piece.name}: ${tokens.map(tokenToString).join(' ')}`);
      assert.ok(tokens.filter((t) => t.kind === 'bar').length <= config.maxEmptyBars + 2, piece.name);
    }
  }
});
