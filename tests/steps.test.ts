/**
 * Steps (lib/tokens/steps.ts): remi tokens cut into one group per note, bar
 * or start, with the look-back one and two bars earlier. Hand-built
 * sequences with every field expected; real pieces cut and put back
 * together; the look-back checked against a plain re-reading of the history
 * and against the incremental reader; the vocabularies refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMidiFolder } from '../lib/midi/read';
import { DEFAULT_TOKENIZER_CONFIG, defaultTokenizerConfig } from '../lib/tokens/config';
import {
  codeSize,
  copyBack,
  copyId,
  endsStep,
  LOOKBACK_FLAGS,
  LOOKBACK_SLOTS,
  padId,
  startId,
  STEP_SLOTS,
  stepReader,
  toSteps,
  type StepOptions,
  type Steps,
} from '../lib/tokens/steps';
import { pieceToTokens } from '../lib/tokens/tokenize';
import { buildVocabulary, encodeTokens, type Vocabulary } from '../lib/tokens/vocabulary';
import { DATA_DIR, needPianoMidi, PIANO_MIDI } from './helpers';

const VOCAB = buildVocabulary([], DEFAULT_TOKENIZER_CONFIG);
const PAD = padId(VOCAB);

/** Ids of space-separated token strings. */
function ids(text: string): number[] {
  return text
    .split(' ')
    .filter((s) => s !== '')
    .map((s) => {
      const id = VOCAB.index.get(s);
      assert.ok(id !== undefined, `no token ${s}`);
      return id;
    });
}

/** A look-back row from two (pos, pitch, dur) triples written as text ('-' for a missing note). */
function lookRow(one: string, two: string): number[] {
  const triple = (s: string): number[] => (s === '-' ? [PAD, PAD, PAD] : ids(s));
  return [...triple(one), ...triple(two)];
}

/** Group s's tokens as text. */
function groupText(st: Steps, s: number): string {
  return Array.from(st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s]), (id) => VOCAB.keys[id]).join(' ');
}

interface Expected {
  readonly group: string;
  readonly start: number;
  readonly look: readonly [string, string];
  readonly flags: readonly [number, number];
}

function checkSteps(tokens: string, expected: readonly Expected[]): void {
  const st = toSteps(VOCAB, ids(tokens));
  assert.equal(st.count, expected.length);
  expected.forEach((e, s) => {
    assert.equal(groupText(st, s), e.group, `group ${s}`);
    assert.equal(st.lengths[s], ids(e.group).length, `length ${s}`);
    assert.deepEqual(
      [...st.groups.subarray(s * STEP_SLOTS + st.lengths[s], (s + 1) * STEP_SLOTS)],
      new Array<number>(STEP_SLOTS - st.lengths[s]).fill(PAD),
      `padding ${s}`,
    );
    assert.equal(st.starts[s], e.start, `start ${s}`);
    assert.deepEqual(
      [...st.lookback.subarray(s * LOOKBACK_SLOTS, (s + 1) * LOOKBACK_SLOTS)],
      lookRow(...e.look),
      `look-back after group ${s} (${e.group})`,
    );
    assert.deepEqual(
      [...st.flags.subarray(s * LOOKBACK_FLAGS, (s + 1) * LOOKBACK_FLAGS)],
      [...e.flags],
      `flags after group ${s} (${e.group})`,
    );
  });
}

const NONE: readonly [string, string] = ['-', '-'];

test('pad and start ids follow the vocabulary; endsStep: bos, dur, ts', () => {
  assert.equal(PAD, VOCAB.tokens.length);
  assert.equal(startId(VOCAB), VOCAB.tokens.length + 1);
  const ending = VOCAB.tokens.filter(endsStep).map((t) => t.kind);
  assert.deepEqual([...new Set(ending)].sort(), ['bos', 'dur', 'ts']);
});

test('the start token alone is one step with nothing to look back at', () => {
  checkSteps('<s>', [{ group: '<s>', start: 0, look: NONE, flags: [0, 0] }]);
  assert.equal(toSteps(VOCAB, []).count, 0);
});

test('bars, notes with pos tempo program, chords, a repeated bar, an empty bar, 2 bars back, a sequence ending mid-group', () => {
  const bar1 = 'p:0 n:60 v:5 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:6';
  checkSteps(`<s> | ts:4/4 p:0 t:123 i:0 ${bar1.slice(4)} | ts:4/4 ${bar1} | ts:4/4 | ts:4/4 p:0 n:60 v:5 d:12 n:67 v:4 d:12 p:12 n:62`, [
    { group: '<s>', start: 0, look: NONE, flags: [0, 0] },
    // Bar 1 (bar 0, before the first bar token, is empty).
    { group: '| ts:4/4', start: 1, look: NONE, flags: [0, 0] },
    { group: 'p:0 t:123 i:0 n:60 v:5 d:12', start: 3, look: NONE, flags: [0, 0] },
    { group: 'n:64 v:4 d:12', start: 9, look: NONE, flags: [0, 0] },
    { group: 'p:12 n:62 v:5 d:6', start: 12, look: NONE, flags: [0, 0] },
    // Bar 2 repeats bar 1: the next note of bar 1 each time (the chord's second note has the pos in force, p:0).
    { group: '| ts:4/4', start: 16, look: ['p:0 n:60 d:12', '-'], flags: [0, 0] },
    { group: 'p:0 n:60 v:5 d:12', start: 18, look: ['p:0 n:64 d:12', '-'], flags: [1, 0] },
    { group: 'n:64 v:4 d:12', start: 22, look: ['p:12 n:62 d:6', '-'], flags: [1, 0] },
    { group: 'p:12 n:62 v:5 d:6', start: 25, look: NONE, flags: [1, 0] },
    // Bar 3 is empty.
    { group: '| ts:4/4', start: 29, look: ['p:0 n:60 d:12', 'p:0 n:60 d:12'], flags: [0, 0] },
    // Bar 4: bar 3 (one back) is empty, bar 2 (two back) is looked at.
    { group: '| ts:4/4', start: 31, look: ['-', 'p:0 n:60 d:12'], flags: [0, 0] },
    { group: 'p:0 n:60 v:5 d:12', start: 33, look: ['-', 'p:0 n:64 d:12'], flags: [0, 1] },
    { group: 'n:67 v:4 d:12', start: 37, look: ['-', 'p:12 n:62 d:6'], flags: [0, 0] },
    // Cut mid-note: the last group is short and adds no note.
    { group: 'p:12 n:62', start: 40, look: ['-', 'p:12 n:62 d:6'], flags: [0, 0] },
  ]);
});

test('the look-back is aligned by position: a chord in one bar does not shift what comes next from the other', () => {
  checkSteps('| ts:4/4 p:0 n:60 v:5 d:12 n:64 v:5 d:12 p:12 n:62 v:5 d:6 | ts:4/4 p:0 n:60 v:5 d:12 p:12 n:62 v:5 d:6 p:24 n:65 v:5 d:6', [
    { group: '| ts:4/4', start: 0, look: NONE, flags: [0, 0] },
    { group: 'p:0 n:60 v:5 d:12', start: 2, look: NONE, flags: [0, 0] },
    { group: 'n:64 v:5 d:12', start: 6, look: NONE, flags: [0, 0] },
    { group: 'p:12 n:62 v:5 d:6', start: 9, look: NONE, flags: [0, 0] },
    { group: '| ts:4/4', start: 13, look: ['p:0 n:60 d:12', '-'], flags: [0, 0] },
    // The chord's second note is what bar 1 played next at p:0.
    { group: 'p:0 n:60 v:5 d:12', start: 15, look: ['p:0 n:64 d:12', '-'], flags: [1, 0] },
    // Bar 2 skipped it: after p:12 bar 1 has nothing more (by note index this would be bar 1's p:12 n:62 again).
    { group: 'p:12 n:62 v:5 d:6', start: 19, look: NONE, flags: [0, 0] },
    { group: 'p:24 n:65 v:5 d:6', start: 23, look: NONE, flags: [0, 0] },
  ]);
});

test('a group longer than STEP_SLOTS tokens is split; a new piece (<s>) forgets the bars before it', () => {
  const st = toSteps(VOCAB, ids('p:0 p:1 p:2 p:3 p:4 p:5 p:6 p:7 p:8 p:9 d:1'));
  assert.deepEqual([...st.lengths], [8, 3]);
  assert.deepEqual([...st.starts], [0, 8]);
  checkSteps('| ts:4/4 p:0 n:60 v:5 d:12 <s> | ts:4/4 p:0 n:60 v:5 d:12', [
    { group: '| ts:4/4', start: 0, look: NONE, flags: [0, 0] },
    { group: 'p:0 n:60 v:5 d:12', start: 2, look: NONE, flags: [0, 0] },
    { group: '<s>', start: 6, look: NONE, flags: [0, 0] },
    { group: '| ts:4/4', start: 7, look: NONE, flags: [0, 0] },
    { group: 'p:0 n:60 v:5 d:12', start: 9, look: NONE, flags: [0, 0] },
  ]);
});

test('stepReader refuses an id outside the vocabulary', () => {
  assert.throws(() => stepReader(VOCAB).read([PAD]), new RangeError(`token id ${PAD} is outside the vocabulary (size ${PAD})`));
});

test('a vocabulary without meterEveryBar and a timed vocabulary are refused', () => {
  const noMeter = buildVocabulary([], { ...DEFAULT_TOKENIZER_CONFIG, meterEveryBar: false });
  const message = "steps need a remi vocabulary with meterEveryBar (a time signature after every bar ends the bar's step)";
  assert.throws(() => toSteps(noMeter, []), new RangeError(message));
  assert.throws(() => stepReader(noMeter), new RangeError(message));
  const timed = buildVocabulary(loadMidiFolder(DATA_DIR).pieces.slice(0, 2), defaultTokenizerConfig('timed'));
  assert.throws(() => toSteps(timed, []), new RangeError('steps need a remi vocabulary (got the "timed" scheme)'));
});

/** The look-back after each prefix end, by re-reading the whole history every time (the definition, without the incremental state). */
function plainLookback(vocab: Vocabulary, seq: readonly number[], ends: readonly number[]): { lookback: number[]; flags: number[] } {
  const pad = padId(vocab);
  const lookback: number[] = [];
  const flags: number[] = [];
  for (const end of ends) {
    let bars: number[][][] = [[]];
    let pos = pad;
    let pitch = -1;
    for (let i = 0; i < end; i++) {
      const t = vocab.tokens[seq[i]];
      if (t.kind === 'bos') bars = [[]];
      if (t.kind === 'bar') bars.push([]);
      if (t.kind === 'bos' || t.kind === 'bar') [pos, pitch] = [pad, -1];
      else if (t.kind === 'pos') pos = seq[i];
      else if (t.kind === 'event') pitch = seq[i];
      else if (t.kind === 'dur' && pitch >= 0) {
        bars[bars.length - 1].push([pos, pitch, seq[i]]);
        pitch = -1;
      }
    }
    const b = bars.length - 1;
    const n = bars[b].length;
    // Aligned by position: after c notes at the position in force, the (c+1)-th note there one and two bars back, or their first note after it.
    const at = (id: number): number => {
      const t = vocab.tokens[id];
      return t !== undefined && t.kind === 'pos' ? t.position : -1;
    };
    const c = bars[b].filter((note) => note[0] === pos).length;
    for (let k = 1; k <= 2; k++) {
      const back = bars[b - k] ?? [];
      const there = back.filter((note) => at(note[0]) === at(pos));
      lookback.push(...(there[c] ?? back.find((note) => at(note[0]) > at(pos)) ?? [pad, pad, pad]));
    }
    for (let k = 1; k <= 2; k++) {
      const back = bars[b - k] ?? [];
      flags.push(n > 0 && back.length >= n && bars[b].every((note, j) => note.join() === back[j].join()) ? 1 : 0);
    }
  }
  return { lookback, flags };
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pieceIds = (vocab: Vocabulary, dir: string): number[][] =>
  loadMidiFolder(dir).pieces.map((p) => encodeTokens(vocab, pieceToTokens(p, vocab.config)));

test('real pieces: groups give back the ids, end where a step ends, and are short', (t) => {
  let tokens = 0;
  let steps = 0;
  let notes = 0;
  for (const seq of pieceIds(VOCAB, DATA_DIR)) {
    const st = toSteps(VOCAB, seq);
    assert.ok(Math.max(...st.lengths) <= 7, 'no group is split (at most pos tempo pos program pitch vel dur)');
    const back: number[] = [];
    for (let s = 0; s < st.count; s++) {
      const group = st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s]);
      assert.ok(!group.includes(PAD));
      back.push(...group);
      if (s < st.count - 1)
        assert.ok(endsStep(VOCAB.tokens[group[group.length - 1]]), `group ${s} ends at ${VOCAB.keys[group[group.length - 1]]}`);
    }
    assert.deepEqual(back, seq);
    tokens += seq.length;
    steps += st.count;
    notes += seq.filter((id) => VOCAB.tokens[id].kind === 'event').length;
  }
  const figures = `${(tokens / steps).toFixed(2)} tokens and ${(notes / steps).toFixed(2)} notes per step (${tokens} tokens, ${steps} steps)`;
  t.diagnostic(figures);
  assert.ok(tokens / steps < 4.2, figures);
  assert.ok(notes / steps > 0.7, figures);
});

test('real pieces: the look-back equals a plain re-reading of the history, and the step-by-step reader agrees with toSteps', () => {
  const rand = random(21);
  const pieces = pieceIds(VOCAB, DATA_DIR);
  const seen = { flags: 0, notes: 0 };
  for (let trial = 0; trial < 60; trial++) {
    const piece = pieces[Math.floor(rand() * pieces.length)];
    const from = Math.floor(rand() * piece.length);
    const seq = piece.slice(from, from + 1 + Math.floor(rand() * 400));
    const st = toSteps(VOCAB, seq);
    const ends = Array.from({ length: st.count }, (_, s) => st.starts[s] + st.lengths[s]);
    const plain = plainLookback(VOCAB, seq, ends);
    assert.deepEqual([...st.lookback], plain.lookback, `look-back, trial ${trial}`);
    assert.deepEqual([...st.flags], plain.flags, `flags, trial ${trial}`);
    seen.flags += plain.flags.filter((f) => f === 1).length;
    seen.notes += plain.lookback.filter((id) => id !== PAD).length;
    const reader = stepReader(VOCAB);
    for (let s = 0; s < st.count; s++) {
      const r = reader.read([...st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s])]);
      assert.deepEqual([...r.lookback], [...st.lookback.subarray(s * LOOKBACK_SLOTS, (s + 1) * LOOKBACK_SLOTS)]);
      assert.deepEqual([...r.flags], [...st.flags.subarray(s * LOOKBACK_FLAGS, (s + 1) * LOOKBACK_FLAGS)]);
    }
  }
  assert.ok(seen.flags > 100 && seen.notes > 1000, `the slices exercise the look-back: ${JSON.stringify(seen)}`);
});

test('piano-midi: tokens per step, repeat flags, and time on 20,000 tokens', { skip: needPianoMidi }, (t) => {
  const pieces = pieceIds(VOCAB, PIANO_MIDI);
  let tokens = 0;
  let steps = 0;
  let notes = 0;
  let split = 0;
  const flagged = [0, 0];
  let either = 0;
  for (const seq of pieces) {
    const st = toSteps(VOCAB, seq);
    tokens += seq.length;
    steps += st.count;
    notes += seq.filter((id) => VOCAB.tokens[id].kind === 'event').length;
    for (let s = 0; s < st.count - 1; s++) if (!endsStep(VOCAB.tokens[st.groups[s * STEP_SLOTS + st.lengths[s] - 1]])) split++;
    for (let s = 0; s < st.count; s++) {
      const [f1, f2] = [st.flags[s * 2], st.flags[s * 2 + 1]];
      flagged[0] += f1;
      flagged[1] += f2;
      either += f1 === 1 || f2 === 1 ? 1 : 0;
    }
  }
  const pct = (n: number): string => `${((100 * n) / steps).toFixed(1)} %`;
  t.diagnostic(
    `${pieces.length} pieces: ${(tokens / steps).toFixed(2)} tokens and ${(notes / steps).toFixed(2)} notes per step, ${split} groups split at ${STEP_SLOTS} tokens (runs of tempo-only positions); flag 1 bar back ${pct(flagged[0])}, 2 bars back ${pct(flagged[1])}, either ${pct(either)} of ${steps} steps`,
  );
  assert.ok(tokens / steps < 4.2 && notes / steps > 0.7 && split < steps / 1000);
  // Linear time: 20,000 tokens of real piano in well under a second.
  const long = pieces.flat().slice(0, 20_000);
  const t0 = performance.now();
  const st = toSteps(VOCAB, long);
  const ms = performance.now() - t0;
  t.diagnostic(`toSteps on ${long.length} tokens (${st.count} steps): ${ms.toFixed(1)} ms`);
  assert.ok(ms < 1000, `${ms} ms`);
});

const COPYING: StepOptions = { lookback: true, copy: true };

/** Group s's code as text, copy ids as `copy:1` / `copy:2`. */
function codeText(st: Steps, s: number): string {
  return Array.from(st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s]), (id) =>
    copyBack(VOCAB, id) > 0 ? `copy:${copyBack(VOCAB, id)}` : VOCAB.keys[id],
  ).join(' ');
}

test('copy ids follow the vocabulary, and pad and start follow them', () => {
  const V = VOCAB.tokens.length;
  assert.deepEqual([copyId(VOCAB, 1), copyId(VOCAB, 2)], [V, V + 1]);
  assert.deepEqual([codeSize(VOCAB, COPYING), padId(VOCAB, COPYING), startId(VOCAB, COPYING)], [V + 2, V + 2, V + 3]);
  assert.deepEqual([copyBack(VOCAB, V - 1), copyBack(VOCAB, V), copyBack(VOCAB, V + 1), copyBack(VOCAB, V + 2)], [0, 1, 2, 0]);
});

test('a note that is its look-back note again is coded as a copy and its velocity; bar −1 before bar −2; anything else is spelled out', () => {
  const bar1 = 'p:0 n:60 v:5 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:6';
  const bar2 = 'p:0 n:60 v:3 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:3';
  const bar3 = 'p:0 n:60 v:5 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:6';
  const bar4 = 'p:0 t:123 n:60 v:5 d:12 p:6 n:64 v:4 d:12';
  const seq = ids(`<s> | ts:4/4 ${bar1} | ts:4/4 ${bar2} | ts:4/4 ${bar3} | ts:4/4 ${bar4}`);
  const st = toSteps(VOCAB, seq, COPYING);
  const codes = Array.from({ length: st.count }, (_, s) => codeText(st, s));
  assert.deepEqual(codes, [
    '<s>',
    '| ts:4/4',
    ...bar1.split(/ (?=p:|n:64)/),
    '| ts:4/4',
    // Bar 2: the chord's notes again, with velocities of their own; p:12's duration differs.
    'copy:1 v:3',
    'copy:1 v:4',
    'p:12 n:62 v:5 d:3',
    '| ts:4/4',
    'copy:1 v:5',
    'copy:1 v:4',
    // Bar 2 (one back) has d:3 at p:12, bar 1 (two back) has d:6.
    'copy:2 v:5',
    '| ts:4/4',
    // A tempo token of its own: spelled out. Then p:6: bars −1 and −2 have nothing there (their next note is at p:12).
    'p:0 t:123 n:60 v:5 d:12',
    'p:6 n:64 v:4 d:12',
  ]);
  // The look-back and flags are those of the spelled-out steps, and each step stands for its tokens.
  const plain = toSteps(VOCAB, seq);
  // (with copy ids the empty slot's id is 2 higher)
  assert.deepEqual(
    Array.from(st.lookback, (id) => (id === padId(VOCAB, COPYING) ? PAD : id)),
    [...plain.lookback],
  );
  assert.deepEqual(st.flags, plain.flags);
  assert.deepEqual(st.starts, plain.starts);
  assert.deepEqual(st.spans, plain.lengths);
  assert.deepEqual([...st.lengths].slice(6, 9), [2, 2, 4]);
});

test('copies need the look-back; a copy with nothing to copy is refused', () => {
  assert.throws(
    () => stepReader(VOCAB, { lookback: false, copy: true }),
    new RangeError('copy ids need the look-back (they copy its notes)'),
  );
  const reader = stepReader(VOCAB, COPYING);
  reader.read(ids('<s>'));
  assert.equal(reader.copyOf(1), null);
  assert.throws(() => reader.expand([copyId(VOCAB, 2), ...ids('v:5')]), new RangeError('copy:2 has no note of bar −2 to copy here'));
  // Without copy ids, the copy ids' places are ordinary ids to the reader's coder (never produced).
  assert.deepEqual(stepReader(VOCAB).encode(ids('p:0 n:60 v:5 d:12')), ids('p:0 n:60 v:5 d:12'));
});

test('real pieces: coded with copies, step by step expansion gives back the ids, and coding the expansion gives back the code', (t) => {
  let notes = 0;
  let copies = 0;
  for (const seq of pieceIds(VOCAB, DATA_DIR)) {
    const st = toSteps(VOCAB, seq, COPYING);
    const reader = stepReader(VOCAB, COPYING);
    const back: number[] = [];
    for (let s = 0; s < st.count; s++) {
      const code = [...st.groups.subarray(s * STEP_SLOTS, s * STEP_SLOTS + st.lengths[s])];
      const group = reader.expand(code);
      assert.deepEqual(reader.encode(group), code, `step ${s}`);
      assert.equal(group.length, st.spans[s]);
      reader.read(group);
      back.push(...group);
      if (copyBack(VOCAB, code[0]) > 0) copies++;
    }
    assert.deepEqual(back, seq);
    notes += seq.filter((id) => VOCAB.tokens[id].kind === 'event').length;
  }
  t.diagnostic(`${copies} of ${notes} notes are copies (${((100 * copies) / notes).toFixed(1)} %)`);
  assert.ok(copies / notes > 0.1, `the folk tunes of data/ repeat notes of the bar before: ${copies} of ${notes}`);
});
