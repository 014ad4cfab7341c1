import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMidiFolder, parseMidi, pieceToMidiBytes } from '../lib/midi';
import { makePiece } from '../lib/music';
import { DEFAULT_TOKENIZER_CONFIG, pieceToTokens, quantizeNotes, tokensToPiece, type GridNote } from '../lib/tokenize';
import { tokenFromString, tokenToString } from '../lib/tokens';
import { buildVocabulary, decodeIds, encodePiece, encodeTokens, loadVocabulary, saveVocabulary } from '../lib/vocab';
import { HAVE_NOTTINGHAM, NOTTINGHAM, needNottingham } from './helpers';

const key = (g: GridNote): string => `${g.pitch}/${g.step}/${g.steps}`;

test('MIDI → tokens → MIDI reproduces ≥ 99 % of notes exactly on the Nottingham files', { skip: needNottingham }, () => {
  const report = loadMidiFolder(NOTTINGHAM);
  assert.ok(report.pieces.length >= 1000, `loaded ${report.pieces.length}`);
  let total = 0;
  let kept = 0;
  for (const piece of report.pieces) {
    const original = quantizeNotes(piece.notes);
    // Through real MIDI bytes on both sides: tokens → Piece → MIDI file → Piece.
    const bytes = pieceToMidiBytes(tokensToPiece(pieceToTokens(piece)));
    const back = new Set(quantizeNotes(parseMidi(bytes, piece.name).notes).map(key));
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
  assert.deepEqual(pieceToTokens(piece).map(tokenToString), ['c:48.52.55', 'd:8', 'n:72', 'd:2', 's:2', 'n:74', 'd:1']);
  const classic = pieceToTokens(piece, { ...DEFAULT_TOKENIZER_CONFIG, scheme: 'classic' }).map(tokenToString);
  assert.deepEqual(classic, ['c:48.52.55.72', 'n:74']);
});

test('token strings round-trip and malformed ones are rejected', () => {
  for (const s of ['s:16', 'd:3', 'n:60', 'c:48.52.55']) assert.equal(tokenToString(tokenFromString(s)), s);
  for (const s of ['x:1', 'n:60.64', 'c:60', 'c:64.60', 'n:200', 's:0']) assert.throws(() => tokenFromString(s), /malformed token/);
});

test('vocabulary is sorted, saved and loaded identically, and encodes/decodes', { skip: needNottingham }, () => {
  const pieces = loadMidiFolder(NOTTINGHAM).pieces.slice(0, 60);
  const vocab = buildVocabulary(pieces);
  const kinds = vocab.tokens.map((t) => t.kind);
  assert.deepEqual(kinds, [...kinds].sort((a, b) => ['shift', 'dur', 'event'].indexOf(a) - ['shift', 'dur', 'event'].indexOf(b)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
  saveVocabulary(path.join(dir, 'vocab.json'), vocab);
  const back = loadVocabulary(path.join(dir, 'vocab.json'));
  assert.deepEqual(back.keys, vocab.keys);
  assert.deepEqual(back.counts, vocab.counts);
  assert.deepEqual(back.config, vocab.config);
  const ids = encodePiece(back, pieces[3]);
  assert.deepEqual(decodeIds(back, ids).map(tokenToString), pieceToTokens(pieces[3]).map(tokenToString));
});

test('unknown symbols follow the policy: nearest, skip, error', () => {
  const vocab = buildVocabulary([makePiece('v', [
    { pitch: 60, start: 0, duration: 1, velocity: 80 },
    { pitch: 64, start: 1, duration: 2, velocity: 80 },
    { pitch: 48, start: 3, duration: 1, velocity: 80 },
    { pitch: 52, start: 3, duration: 1, velocity: 80 },
  ])]);
  const unknown = [tokenFromString('n:61'), tokenFromString('d:4'), tokenFromString('c:48.52.57'), tokenFromString('d:3')];
  assert.deepEqual(decodeIds(vocab, encodeTokens(vocab, unknown, 'nearest')).map(tokenToString), ['n:60', 'd:4', 'c:48.52', 'd:4']);
  assert.deepEqual(encodeTokens(vocab, unknown, 'skip'), []);
  assert.throws(() => encodeTokens(vocab, unknown, 'error'), /token n:61 is not in the model's vocabulary/);
});

test('a damaged vocabulary file is a one-line error naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
  const f = path.join(dir, 'vocab.json');
  fs.writeFileSync(f, '{"format":"musicgen-vocab/1","tokenizer":{},"tokens":["n:60","n:50"]}');
  assert.throws(() => loadVocabulary(f), (e: Error) => e.message === `${f}: tokens are not sorted and distinct`);
  fs.writeFileSync(f, '{oops');
  assert.throws(() => loadVocabulary(f), (e: Error) => e.message === `${f}: not valid JSON`);
});

test('shared data folder is present on CI', { skip: !process.env.CI && 'only checked on CI' }, () => {
  assert.ok(HAVE_NOTTINGHAM, 'CI must have ../shared/data/nottingham');
});
