/**
 * The remi scheme: round trips MIDI → tokens → MIDI on real corpora and on
 * multi-track, drum, meter and tempo cases; a vocabulary fixed by design;
 * the grammar; transposition of training windows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { makeTransposer, transposeWindow } from '../lib/data/transpose';
import { pitchedPositions } from '../lib/tokens/token';
import { loadMidiFolder, parseMidi } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { DEFAULT_TOKENIZER_CONFIG, defaultTokenizerConfig, type TokenizerConfig } from '../lib/tokens/config';
import { durationBins, nearestBin, velocityBin } from '../lib/tokens/remi-bins';
import { tokenToString, type Token } from '../lib/tokens/token';
import { pieceToTokens, schemeOf, tokensToPiece } from '../lib/tokens/tokenize';
import { loadVocabulary, saveVocabulary } from '../lib/tokens/vocab-file';
import { buildVocabulary, encodeTokens } from '../lib/tokens/vocabulary';
import { DATA_DIR, needNottingham, needPianoMidi, NOTTINGHAM, PIANO_MIDI } from './helpers';

const REMI = DEFAULT_TOKENIZER_CONFIG;

/** What must survive a round trip, per note: pitch, grid onset, duration bin, velocity bin, instrument. */
function noteKeys(piece: Piece, config: TokenizerConfig): string[] {
  const durs = durationBins(config);
  const spb = config.stepsPerBeat;
  return piece.notes.map((n) => {
    const inst = n.drum ? 'drums' : String(n.program ?? piece.program);
    return `${inst}/${n.pitch}/${Math.round(n.start * spb)}/${nearestBin(durs, n.duration * spb)}/${velocityBin(config, n.velocity)}`;
  });
}

/** Share of the original notes found again (as a multiset) after MIDI → tokens → MIDI → Piece. */
function roundTripShare(piece: Piece, config: TokenizerConfig): number {
  const back = parseMidi(pieceToMidiBytes(tokensToPiece(pieceToTokens(piece, config), config)), 'back', {
    includeDrums: true,
    sustain: false,
  });
  const left = new Map<string, number>();
  for (const k of noteKeys(back, config)) left.set(k, (left.get(k) ?? 0) + 1);
  let found = 0;
  for (const k of noteKeys(piece, config)) {
    const c = left.get(k) ?? 0;
    if (c > 0) {
      found++;
      left.set(k, c - 1);
    }
  }
  return found / piece.notes.length;
}

function corpusRoundTrip(dir: string): { notes: number; share: number } {
  const pieces = loadMidiFolder(dir).pieces;
  let notes = 0;
  let kept = 0;
  for (const p of pieces) {
    notes += p.notes.length;
    kept += roundTripShare(p, REMI) * p.notes.length;
  }
  return { notes, share: kept / notes };
}

test(
  'round trip on piano-midi: at least 99 % of notes come back exact (pitch, onset, duration and velocity bins, instrument)',
  { skip: needPianoMidi },
  () => {
    const r = corpusRoundTrip(PIANO_MIDI);
    assert.ok(r.notes > 500_000, `${r.notes} notes`);
    assert.ok(r.share >= 0.99, `${(r.share * 100).toFixed(3)} % of ${r.notes} notes`);
  },
);

test('round trip on Nottingham: at least 99 % of notes come back exact', { skip: needNottingham }, () => {
  const r = corpusRoundTrip(NOTTINGHAM);
  assert.ok(r.share >= 0.99, `${(r.share * 100).toFixed(3)} % of ${r.notes} notes`);
});

test('round trip on the project corpus keeps every note, the tempo and the meter', () => {
  for (const p of loadMidiFolder(DATA_DIR).pieces) {
    assert.equal(roundTripShare(p, REMI), 1, p.name);
    const back = tokensToPiece(pieceToTokens(p, REMI), REMI);
    assert.deepEqual(
      back.timeSignatures.map((t) => [t.beat, t.numerator, t.denominator]),
      p.timeSignatures.map((t) => [t.beat, t.numerator, t.denominator]),
      p.name,
    );
  }
});

const n = (pitch: number, start: number, duration: number, velocity: number, program?: number, drum?: boolean): Note => ({
  pitch,
  start,
  duration,
  velocity,
  ...(program === undefined ? {} : { program }),
  ...(drum ? { drum: true } : {}),
});

test('a multi-track piece comes back with one track per instrument, drums on channel 10', () => {
  const piece = makePiece(
    'band',
    [
      n(60, 0, 1, 100, 0),
      n(64, 0, 1, 90, 0),
      n(40, 0, 2, 80, 33),
      n(36, 0, 0.25, 110, 0, true),
      n(42, 0.5, 0.25, 70, 0, true),
      n(43, 2, 1, 80, 33),
      n(67, 3, 1, 60, 0),
    ],
    { program: 0 },
  );
  const tokens = pieceToTokens(piece, REMI);
  const bytes = pieceToMidiBytes(tokensToPiece(tokens, REMI));
  const back = parseMidi(bytes, 'back', { includeDrums: true });
  assert.equal(roundTripShare(piece, REMI), 1);
  const instruments = new Set(back.notes.map((x) => (x.drum ? 'drums' : `program ${x.program}`)));
  assert.deepEqual([...instruments].sort(), ['drums', 'program 0', 'program 33']);
  // Tracks: the file has one track chunk per instrument.
  const tracks = new Set<number>();
  for (let t = 0; t < 8; t++) {
    try {
      if (parseMidi(bytes, 'x', { includeDrums: true, tracks: [t] }).notes.length > 0) tracks.add(t);
    } catch {
      /* no notes in that track */
    }
  }
  assert.equal(tracks.size, 3);
  assert.ok(
    back.notes.filter((x) => x.drum).every((x) => [36, 42].includes(x.pitch)),
    'drum notes keep their sounds',
  );
  // Without --include-drums the drum track is left out on reading.
  assert.equal(
    parseMidi(bytes, 'x').notes.some((x) => x.drum),
    false,
  );
});

test('decoding keeps only the changes in force: a change that a later one at its beat undoes is dropped, and the first holds from beat 0', () => {
  const notes = Array.from({ length: 24 }, (_, i) => n(60 + (i % 5), i, 0.5, 80));
  const piece = makePiece('changes', notes, {
    tempos: [
      { beat: 0, bpm: 120 },
      { beat: 8, bpm: 70 },
    ],
  });
  const tokens = pieceToTokens(piece, REMI);
  const tempoAt = tokens.flatMap((t, i) => (t.kind === 'tempo' ? [i] : []));
  assert.equal(tempoAt.length, 2);
  const first = tokens[tempoAt[0]];
  // 120 at 0, 70 at 8, then 120 again at 8: the last at beat 8 wins and repeats the one in force, so only 120 from 0 is left.
  const undone = [...tokens.slice(0, tempoAt[1] + 1), first, ...tokens.slice(tempoAt[1] + 1)];
  assert.deepEqual(
    tokensToPiece(undone, REMI).tempos.map((t) => t.beat),
    [0],
  );
  // Without the opening tempo, the change at beat 8 holds from beat 0 (once, not again at 8).
  const late = tokens.filter((_, i) => i !== tempoAt[0]);
  const back = tokensToPiece(late, REMI).tempos;
  assert.deepEqual(
    back.map((t) => t.beat),
    [0],
  );
  assert.equal(back[0].bpm, tokensToPiece(tokens, REMI).tempos[1].bpm);
});

test('tempo and time-signature changes come back where they were', () => {
  const notes = Array.from({ length: 24 }, (_, i) => n(60 + (i % 5), i, 0.5, 80));
  const piece = makePiece('changes', notes, {
    tempos: [
      { beat: 0, bpm: 120 },
      { beat: 8, bpm: 70 },
    ],
    timeSignatures: [
      { beat: 0, numerator: 4, denominator: 4 },
      { beat: 8, numerator: 3, denominator: 4 },
      { beat: 14, numerator: 6, denominator: 8 },
    ],
  });
  const back = tokensToPiece(pieceToTokens(piece, REMI), REMI);
  assert.deepEqual(
    back.timeSignatures.map((t) => [t.beat, t.numerator, t.denominator]),
    [
      [0, 4, 4],
      [8, 3, 4],
      [14, 6, 8],
    ],
  );
  assert.deepEqual(
    back.tempos.map((t) => t.beat),
    [0, 8],
  );
  assert.ok(Math.abs(back.tempos[1].bpm - 70) / 70 < 0.05, `tempo ${back.tempos[1].bpm}`);
  assert.equal(roundTripShare(piece, REMI), 1);
  const strings = pieceToTokens(piece, REMI).map(tokenToString);
  assert.deepEqual(strings.slice(0, 4), ['<s>', '|', 'ts:4/4', 'p:0']);
  const bars = strings.flatMap((s, i) => (s === '|' ? [strings[i + 1]] : []));
  assert.deepEqual(
    bars,
    ['ts:4/4', 'ts:4/4', 'ts:3/4', 'ts:3/4', 'ts:6/8', 'ts:6/8', 'ts:6/8', 'ts:6/8'],
    'every bar states its meter (meterEveryBar, the default)',
  );
  // Without meterEveryBar (remi models saved before it), a meter token only where the meter changes; the same piece comes back.
  const changesOnly: TokenizerConfig = { ...REMI, meterEveryBar: false };
  assert.deepEqual(
    pieceToTokens(piece, changesOnly)
      .map(tokenToString)
      .filter((s) => s.startsWith('ts:')),
    ['ts:4/4', 'ts:3/4', 'ts:6/8'],
  );
  assert.equal(roundTripShare(piece, changesOnly), 1);
  assert.deepEqual(tokensToPiece(pieceToTokens(piece, changesOnly), changesOnly), back);
});

test('the sustain pedal lengthens notes on reading (an option, on by default)', () => {
  // Track: pedal down at 0, note C4 from 0 to 240 ticks, pedal up at 960; a second C4 at 720 caps the first.
  const ppq = 480;
  const ev = (delta: number, ...bytes: number[]): number[] => [...vlq(delta), ...bytes];
  const events = [
    ...ev(0, 0xb0, 64, 127),
    ...ev(0, 0x90, 60, 90),
    ...ev(0, 0x90, 67, 90),
    ...ev(240, 0x80, 60, 0),
    ...ev(0, 0x80, 67, 0),
    ...ev(480, 0x90, 60, 90),
    ...ev(120, 0x80, 60, 0),
    ...ev(120, 0xb0, 64, 0),
    ...ev(0, 0xff, 0x2f, 0),
  ];
  const bytes = Uint8Array.from([...header(ppq), ...chunk('MTrk', events)]);
  const held = parseMidi(bytes, 'pedal');
  const dry = parseMidi(bytes, 'pedal', { sustain: false });
  const dur = (p: Piece, pitch: number, start: number): number | undefined =>
    p.notes.find((x) => x.pitch === pitch && x.start === start)?.duration;
  assert.equal(dur(dry, 67, 0), 0.5);
  assert.equal(dur(held, 67, 0), 2, 'held until the pedal comes up at beat 2');
  assert.equal(dur(held, 60, 0), 1.5, 'capped at the next C4 (beat 1.5)');
  assert.equal(dur(held, 60, 1.5), 0.5, 'the later C4 ends with the pedal');
});

test('the vocabulary is fixed by the settings: the same for any corpus, at most 600 tokens', () => {
  const folk = loadMidiFolder(DATA_DIR).pieces.slice(0, 5);
  const a = buildVocabulary(folk, REMI);
  const b = buildVocabulary([makePiece('one', [n(30, 0, 1, 20)])], REMI);
  assert.deepEqual(a.keys, b.keys);
  assert.ok(a.tokens.length <= 600, `${a.tokens.length} tokens`);
  // Any piece encodes without unknown symbols.
  const odd = makePiece('odd', [n(0, 0.37, 13.1, 1, 127), n(127, 5.01, 0.01, 127, 5), n(50, 7, 1, 64, 0, true)], {
    tempos: [{ beat: 0, bpm: 7 }],
    timeSignatures: [{ beat: 0, numerator: 13, denominator: 16 }],
  });
  assert.doesNotThrow(() => encodeTokens(a, pieceToTokens(odd, REMI), 'error'));
});

test('the grammar accepts every encoded piece and decoding tolerates what it forbids', () => {
  const scheme = schemeOf(REMI);
  for (const p of loadMidiFolder(DATA_DIR).pieces) {
    const t = pieceToTokens(p, REMI);
    for (let i = 1; i < t.length; i++)
      assert.ok(scheme.mayFollow(t[i - 1], t[i]), `${p.name}: ${tokenToString(t[i - 1])} → ${tokenToString(t[i])}`);
  }
  const messy: Token[] = [
    { kind: 'event', pitches: [60] },
    { kind: 'dur', steps: 6 },
    { kind: 'vel', bin: 3 },
    { kind: 'bar' },
    { kind: 'event', pitches: [62] },
  ];
  const piece = tokensToPiece(messy, REMI);
  assert.deepEqual(
    piece.notes.map((x) => x.pitch),
    [60, 62],
  );
});

test('a long silence is shortened to maxEmptyBars, so a huge gap costs few tokens', () => {
  const piece = makePiece('gap', [n(60, 0, 1, 80), n(62, 1_000_000, 1, 80)]);
  const tokens = pieceToTokens(piece, REMI);
  assert.ok(tokens.length < 40, `${tokens.length} tokens`);
  const back = tokensToPiece(tokens, REMI);
  assert.equal(back.notes[1].start, REMI.maxEmptyBars * 4 + 4, 'the second note follows maxEmptyBars empty bars');
});

test('an excerpt from the middle decodes on its own in its meter and instrument', () => {
  const notes = Array.from({ length: 60 }, (_, i) => n(50 + (i % 7), i * 0.5, 0.5, 70, 41));
  const piece = makePiece('waltz', notes, {
    timeSignatures: [{ beat: 0, numerator: 3, denominator: 4 }],
    tempos: [{ beat: 0, bpm: 90 }],
    program: 41,
  });
  const tokens = pieceToTokens(piece, REMI);
  const part = schemeOf(REMI).excerpt(tokens, Math.floor(tokens.length / 2), tokens.length);
  const back = tokensToPiece(part, REMI);
  assert.deepEqual(
    back.timeSignatures.map((t) => [t.numerator, t.denominator]),
    [[3, 4]],
  );
  assert.ok(back.notes.length > 10 && back.notes.every((x) => x.program === 41));
  assert.ok(Math.abs(back.tempos[0].bpm - 90) < 4);
  // Onsets keep their place in the bar (3 beats per bar).
  const original = new Set(piece.notes.map((x) => `${x.pitch}/${x.start % 3}`));
  assert.ok(back.notes.every((x) => original.has(`${x.pitch}/${x.start % 3}`)));
});

test('transposition moves every pitched note of a window by one shift, keeps drums, and stays in range', () => {
  const vocab = buildVocabulary([], REMI);
  const tr = makeTransposer(vocab, 6);
  const piece = makePiece('t', [n(60, 0, 1, 80), n(64, 0, 1, 80), n(36, 1, 1, 80, 0, true), n(125, 2, 1, 80)]);
  const tokens = pieceToTokens(piece, REMI);
  const ids = Int32Array.from(encodeTokens(vocab, tokens, 'error'));
  const pitched = pitchedPositions(tokens);
  const shifts = new Set<number>();
  for (let seed = 0; seed < 50; seed++) {
    const w = ids.slice();
    const s = transposeWindow(tr, w, pitched, seed);
    shifts.add(s);
    assert.ok(s >= -6 && s <= 2, `shift ${s} keeps pitch 125 within 127`);
    const back = tokensToPiece(w.length ? Array.from(w, (id) => vocab.tokens[id]) : [], REMI);
    assert.deepEqual(
      back.notes.map((x) => (x.drum ? x.pitch : x.pitch - s)),
      piece.notes.map((x) => x.pitch),
    );
  }
  assert.ok(shifts.size > 5, `several shifts drawn: ${[...shifts]}`);
  assert.throws(
    () => makeTransposer(buildVocabulary(loadMidiFolder(DATA_DIR).pieces.slice(0, 3), defaultTokenizerConfig('timed')), 6),
    /transpose needs the remi scheme/,
  );
});

// Minimal SMF writing for the pedal test.
function vlq(v: number): number[] {
  const out = [v & 0x7f];
  for (let x = v >> 7; x > 0; x >>= 7) out.unshift((x & 0x7f) | 0x80);
  return out;
}
function chunk(id: string, body: number[]): number[] {
  const len = body.length;
  return [...id].map((c) => c.charCodeAt(0)).concat([(len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255], body);
}
function header(ppq: number): number[] {
  return chunk('MThd', [0, 0, 0, 1, ppq >> 8, ppq & 255]);
}

test('vocab.json saved before meterEveryBar reads as meter-only-where-it-changes (so old remi models keep their tokens); a bad value is one line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
  try {
    const file = path.join(dir, 'vocab.json');
    saveVocabulary(file, buildVocabulary([], REMI));
    assert.equal(loadVocabulary(file).config.meterEveryBar, true);
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { tokenizer: Record<string, unknown> };
    delete json.tokenizer.meterEveryBar;
    fs.writeFileSync(file, JSON.stringify(json));
    assert.equal(loadVocabulary(file).config.meterEveryBar, false);
    json.tokenizer.meterEveryBar = 'yes';
    fs.writeFileSync(file, JSON.stringify(json));
    assert.throws(() => loadVocabulary(file), { message: `${file}: tokenizer.meterEveryBar must be true or false (got "yes")` });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
