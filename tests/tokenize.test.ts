import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMidiFolder, parseMidi } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { makePiece } from '../lib/core/piece';
import { defaultTokenizerConfig, validateTokenizerConfig } from '../lib/tokens/config';

/** These tests are about the timed and classic schemes (remi has its own file). */
const TIMED = defaultTokenizerConfig('timed');
import { pieceToTokens, tokensToPiece } from '../lib/tokens/tokenize';
import { quantizeNotes, type GridNote } from '../lib/tokens/grid';
import { tokenFromString, tokenToString } from '../lib/tokens/token';
import { buildVocabulary, decodeIds, encodePiece, encodeTokens } from '../lib/tokens/vocabulary';
import { loadVocabulary, saveVocabulary } from '../lib/tokens/vocab-file';
import { HAVE_NOTTINGHAM, HAVE_PIANO_MIDI, NOTTINGHAM, FOLK_MODEL, needNottingham } from './helpers';

const key = (g: GridNote): string => `${g.pitch}/${g.onset}/${g.duration}`;

test('MIDI → tokens → MIDI reproduces ≥ 99 % of notes exactly on the Nottingham files', { skip: needNottingham }, () => {
  const report = loadMidiFolder(NOTTINGHAM);
  assert.ok(report.pieces.length >= 1000, `loaded ${report.pieces.length}`);
  let total = 0;
  let kept = 0;
  for (const piece of report.pieces) {
    const original = quantizeNotes(piece.notes, TIMED);
    // Through real MIDI bytes on both sides: tokens → Piece → MIDI file → Piece.
    const bytes = pieceToMidiBytes(tokensToPiece(pieceToTokens(piece, TIMED), TIMED));
    const back = new Set(quantizeNotes(parseMidi(bytes, piece.name).notes, TIMED).map(key));
    total += original.length;
    for (const g of original) if (back.has(key(g))) kept++;
  }
  assert.ok(kept / total >= 0.99, `${kept}/${total} = ${((100 * kept) / total).toFixed(3)} % reproduced`);
});

test('timed tokens group simultaneous equal-length notes into one chord event', () => {
  const piece = makePiece('t', [
    { pitch: 48, start: 0, duration: 2, velocity: 80 },
    { pitch: 52, start: 0, duration: 2, velocity: 80 },
    { pitch: 55, start: 0, duration: 2, velocity: 80 },
    { pitch: 72, start: 0, duration: 0.5, velocity: 80 },
    { pitch: 74, start: 0.5, duration: 0.25, velocity: 80 },
  ]);
  assert.deepEqual(pieceToTokens(piece, TIMED).map(tokenToString), ['c:48.52.55', 'd:8', 'n:72', 'd:2', 's:2', 'n:74', 'd:1']);
  const classic = pieceToTokens(piece, defaultTokenizerConfig('classic')).map(tokenToString);
  assert.deepEqual(classic, ['c:48.52.55.72', 'n:74']);
});

test('token strings round-trip and malformed ones are rejected', () => {
  for (const s of ['s:16', 'd:3', 'n:60', 'c:48.52.55', '<s>', '|', 'ts:6/8', 'p:0', 'p:143', 't:120', 'v:7', 'i:0', 'i:127', 'i:drums'])
    assert.equal(tokenToString(tokenFromString(s)), s);
  for (const s of ['x:1', 'n:60.64', 'c:60', 'c:64.60', 'n:200', 's:0', 'ts:3/5', 'ts:0/4', 't:0', 'i:128', 'v:128', 'i:drum'])
    assert.throws(() => tokenFromString(s), /malformed token/);
});

test('vocabulary is sorted, saved and loaded identically, and encodes/decodes', { skip: needNottingham }, () => {
  const pieces = loadMidiFolder(NOTTINGHAM).pieces.slice(0, 60);
  const vocab = buildVocabulary(pieces, TIMED);
  const kinds = vocab.tokens.map((t) => t.kind);
  assert.deepEqual(
    kinds,
    [...kinds].sort((a, b) => ['shift', 'dur', 'event'].indexOf(a) - ['shift', 'dur', 'event'].indexOf(b)),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
  saveVocabulary(path.join(dir, 'vocab.json'), vocab);
  const back = loadVocabulary(path.join(dir, 'vocab.json'));
  assert.deepEqual(back.keys, vocab.keys);
  assert.deepEqual(back.counts, vocab.counts);
  assert.deepEqual(back.config, vocab.config);
  const ids = encodePiece(back, pieces[3]);
  assert.deepEqual(decodeIds(back, ids).map(tokenToString), pieceToTokens(pieces[3], TIMED).map(tokenToString));
});

test('unknown symbols follow the policy: nearest, skip, error', () => {
  const vocab = buildVocabulary(
    [
      makePiece('v', [
        { pitch: 60, start: 0, duration: 1, velocity: 80 },
        { pitch: 64, start: 1, duration: 2, velocity: 80 },
        { pitch: 48, start: 3, duration: 1, velocity: 80 },
        { pitch: 52, start: 3, duration: 1, velocity: 80 },
      ]),
    ],
    TIMED,
  );
  const unknown = [tokenFromString('n:61'), tokenFromString('d:4'), tokenFromString('c:48.52.57'), tokenFromString('d:3')];
  assert.deepEqual(decodeIds(vocab, encodeTokens(vocab, unknown, 'nearest')).map(tokenToString), ['n:60', 'd:4', 'c:48.52', 'd:4']);
  assert.deepEqual(encodeTokens(vocab, unknown, 'skip'), []);
  assert.throws(() => encodeTokens(vocab, unknown, 'error'), /token n:61 is not in the model's vocabulary/);
});

test('a damaged vocabulary file is a one-line error naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
  const f = path.join(dir, 'vocab.json');
  const cases: [string, string][] = [
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed"},"tokens":["n:60","n:50"],"counts":[1,1]}',
      'tokens must be sorted and distinct (tokens[1] "n:50" is out of order)',
    ],
    ['{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed"},"tokens":["n:60"]}', 'counts must be an array (got undefined)'],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed","stepsPerBeat":0},"tokens":["n:60"],"counts":[1]}',
      'tokenizer.stepsPerBeat must be an integer in [1, 48] (got 0)',
    ],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed"},"tokens":["n:60","x:1"],"counts":[1,1]}',
      'tokens[1]: malformed token "x:1"',
    ],
    [
      '{"format":"musicgen-vocab/2","tokenizer":{"scheme":"timed"},"tokens":["n:60"],"counts":[1]}',
      'format must be "musicgen-vocab/1" (is this a musicgen vocab.json?) (got "musicgen-vocab/2")',
    ],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed"},"tokens":["n:60"],"counts":[-1]}',
      'counts[0] must be an integer in [0, 9007199254740991] (got -1)',
    ],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{},"tokens":["n:60"],"counts":[1]}',
      'tokenizer.scheme must be "remi", "timed" or "classic" (got undefined)',
    ],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"remi2"},"tokens":["n:60"],"counts":[1]}',
      'tokenizer.scheme must be "remi", "timed" or "classic" (got "remi2")',
    ],
    [
      '{"format":"musicgen-vocab/1","tokenizer":{"scheme":"timed","stepsPerBeat":"4"},"tokens":["n:60"],"counts":[1]}',
      'tokenizer.stepsPerBeat must be an integer in [1, 48] (got "4")',
    ],
    ['{oops', 'not valid JSON (damaged or truncated?)'],
  ];
  for (const [text, reason] of cases) {
    fs.writeFileSync(f, text);
    assert.throws(
      () => loadVocabulary(f),
      (e: Error) => e.message === `${f}: ${reason}`,
      reason,
    );
  }
});

test('shared data folders are present on CI', { skip: !process.env.CI && 'only checked on CI' }, () => {
  assert.ok(HAVE_NOTTINGHAM, 'CI must have ../shared/data/nottingham');
  assert.ok(HAVE_PIANO_MIDI, 'CI must have ../shared/data/piano-midi');
});

test('a long silence costs a few tokens in every scheme: timed shortens it by whole beats, remi by whole bars', () => {
  // Notes at beat 0 and 50000.5, a tempo change at 30000 and a meter change (to 3/4) at 40000 between them.
  const piece = makePiece(
    'gap',
    [
      { pitch: 60, start: 0, duration: 1, velocity: 80 },
      { pitch: 62, start: 50_000.5, duration: 1, velocity: 80 },
    ],
    {
      tempos: [
        { beat: 0, bpm: 120 },
        { beat: 30_000, bpm: 60 },
      ],
      timeSignatures: [
        { beat: 0, numerator: 4, denominator: 4 },
        { beat: 40_000, numerator: 3, denominator: 4 },
      ],
    },
  );
  const timed = pieceToTokens(piece, TIMED);
  assert.deepEqual(timed.map(tokenToString), [
    'n:60',
    'd:4',
    's:16',
    's:16',
    's:16',
    's:16',
    's:16',
    's:16',
    's:16',
    's:14',
    'n:62',
    'd:4',
  ]);
  const back = tokensToPiece(timed, TIMED).notes;
  assert.equal(back[1].start, 31.5, 'the onset keeps its place in the beat');
  const remi = defaultTokenizerConfig('remi');
  const tokens = pieceToTokens(piece, remi);
  // Three silences (to the tempo change, the meter change and the note), each at most maxEmptyBars empty bars (`| ts:4/4`) and two more.
  assert.ok(tokens.filter((t) => t.kind === 'bar').length <= 3 * (remi.maxEmptyBars + 2), `remi: ${tokens.length} tokens`);
  assert.ok(tokens.length < 80, `remi: ${tokens.length} tokens`);
  const decoded = tokensToPiece(tokens, remi);
  const meter = decoded.timeSignatures[decoded.timeSignatures.length - 1];
  assert.deepEqual([meter.numerator, meter.denominator], [3, 4]);
  assert.equal((decoded.notes[1].start - meter.beat) % 3, 1.5, 'the onset keeps its place in the 3/4 bar');
  assert.deepEqual(
    decoded.tempos.map((t) => t.bpm),
    [123, 59],
    'the tempo bins nearest 120 and 60',
  );
});

test('maxSilenceBeats: a vocab.json saved before it loads with the default, and it is checked', () => {
  const old = loadVocabulary(path.join(FOLK_MODEL, 'vocab.json'));
  assert.equal(old.config.scheme, 'timed');
  assert.equal(old.config.maxSilenceBeats, 32);
  assert.throws(
    () => validateTokenizerConfig({ ...TIMED, maxSilenceBeats: 0 }),
    /maxSilenceBeats must be an integer in \[1, 4096\] \(got 0\)/,
  );
});
