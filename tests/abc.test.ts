import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { abcTuneToPiece, chordPitches, keySignature, parseAbc, slugify, type AbcTune } from '../scripts/abc';
import { UserError } from '../lib/core/errors';
import { parseMidi, readMidiFile } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { corpusTable, loadCorpus, renderTune } from '../scripts/render-corpus';
import { DATA_DIR } from './helpers';

const ABC = path.join(DATA_DIR, 'abc');
const corpus = loadCorpus(ABC);
const tune = (title: string): AbcTune => {
  const e = corpus.find((c) => c.tune.title === title);
  assert.ok(e, `tune "${title}" is in data/abc`);
  return e.tune;
};
/** Melody pitches sounding in [from, to) beats. */
const pitchesBetween = (t: AbcTune, from: number, to: number): number[] =>
  t.notes.filter((n) => n.start >= from - 1e-9 && n.start < to - 1e-9).map((n) => n.pitch);
const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

test('every tune of data/abc parses cleanly and is documented', () => {
  assert.ok(corpus.length >= 45, `at least 45 tunes (got ${corpus.length})`);
  for (const { tune: t } of corpus) {
    assert.deepEqual(t.warnings, [], `${t.title}: no rhythm warnings`);
    for (const field of ['R', 'O', 'C', 'S', 'M', 'L', 'Q', 'K']) {
      assert.ok(t.fields[field], `${t.title}: has ${field}:`);
    }
    assert.ok(t.notes.length >= 20, `${t.title}: has notes`);
    assert.ok(
      t.notes.every((n) => n.duration > 0 && n.pitch >= 40 && n.pitch <= 96),
      `${t.title}: sane notes`,
    );
  }
  const types = new Set(corpus.map((c) => c.tune.fields.R));
  for (const kind of ['jig', 'reel', 'hornpipe', 'waltz', 'air', 'hymn', 'classical theme']) assert.ok(types.has(kind), kind);
  assert.equal(new Set(corpus.map((c) => c.fileName)).size, corpus.length, 'unique file names');
});

test('a hand-checked short tune: Mary Had a Little Lamb', () => {
  const t = tune('Mary Had a Little Lamb');
  // 26 notes (E D C D | E E E2 | D D D2 | E G G2 | E D C D | E E E E | D D E D | C4), played twice.
  assert.equal(t.notes.length, 52);
  assert.equal(t.lengthBeats, 64);
  assert.deepEqual(
    t.notes.slice(0, 10).map((n) => n.pitch),
    [64, 62, 60, 62, 64, 64, 64, 62, 62, 62],
  );
  assert.deepEqual(
    t.notes.slice(0, 4).map((n) => n.start),
    [0, 1, 2, 3],
  );
  assert.equal(t.notes[6].duration, 2, 'E2 is a half note');
  assert.deepEqual(t.timeSignatures, [{ beat: 0, numerator: 4, denominator: 4 }]);
  assert.equal(t.bpm, 112);
});

test('key signatures, modes and bar-local accidentals', () => {
  assert.deepEqual(keySignature('G'), { C: 0, D: 0, E: 0, F: 1, G: 0, A: 0, B: 0 });
  assert.deepEqual(keySignature('Edor'), { C: 1, D: 0, E: 0, F: 1, G: 0, A: 0, B: 0 });
  assert.deepEqual(keySignature('Ador'), keySignature('G'));
  assert.deepEqual(keySignature('Gmix'), keySignature('C'));
  assert.deepEqual(keySignature('F#m'), { C: 1, D: 0, E: 0, F: 1, G: 1, A: 0, B: 0 });
  assert.deepEqual(keySignature('Bb'), { C: 0, D: 0, E: -1, F: 0, G: 0, A: 0, B: -1 });
  assert.equal(keySignature('H#lyd'), undefined);

  // Für Elise: "e^de B=dc" — ^d then =d inside one bar.
  const elise = tune('Fur Elise');
  assert.deepEqual(pitchesBetween(elise, 1.5, 3), [76, 75, 76, 71, 74, 72]);
  // Mountain King, K:Bm: bar 2 "=FC=F2 E=CE2", then bar 3 returns to the key's F# and C#.
  const king = tune('In the Hall of the Mountain King');
  assert.deepEqual(pitchesBetween(king, 4, 8), [65, 61, 65, 64, 60, 64]);
  assert.deepEqual(pitchesBetween(king, 8, 12), [59, 61, 62, 64, 66, 62, 66, 71]);
  // Minuet in G: "^c2 Bc A2" — the accidental holds for the second c of the bar.
  const minuet = tune('Minuet in G');
  const bBar = minuet.notes.filter((n) => near(n.start, 96 + 9) || near(n.start, 96 + 10) || near(n.start, 96 + 10.5));
  assert.deepEqual(
    bBar.map((n) => n.pitch),
    [73, 71, 73],
  );
  // Modes: Drowsy Maggie (E dorian) has C#; Cock o' the North (A mixolydian) has G natural; Scarborough Fair (D dorian) has B natural.
  assert.ok(tune('Drowsy Maggie').notes.some((n) => n.pitch === 73) && !tune('Drowsy Maggie').notes.some((n) => n.pitch % 12 === 0));
  assert.ok(
    tune("Cock o' the North").notes.some((n) => n.pitch === 67) && !tune("Cock o' the North").notes.some((n) => n.pitch % 12 === 8),
  );
  assert.ok(tune('Scarborough Fair').notes.some((n) => n.pitch === 71) && !tune('Scarborough Fair').notes.some((n) => n.pitch % 12 === 10));
});

test('repeats and first/second endings are unrolled', () => {
  const abc = (body: string): AbcTune => parseAbc(`X:1\nT:t\nM:2/4\nL:1/4\nK:C\n${body}\n`, 't.abc')[0];
  const pitches = (t: AbcTune): number[] => t.notes.map((n) => n.pitch);
  assert.deepEqual(pitches(abc('|:C D|E F:|G A|]')), pitches(abc('C D|E F|C D|E F|G A|]')));
  assert.deepEqual(pitches(abc('|:C D|1 E F:|2 G A||c2|]')), pitches(abc('C D|E F|C D|G A|c2|]')));
  assert.deepEqual(pitches(abc('|:C D|[1 E F:|[2 G A||')), pitches(abc('C D|E F|C D|G A|')));
  assert.deepEqual(pitches(abc('|:C D::E F:|')), pitches(abc('C D|C D|E F|E F|')));

  // Real tune: Soldier's Joy, pickup + AABB with endings = 1 pickup + 32 bars of 2/4.
  const joy = tune("Soldier's Joy");
  assert.equal(joy.lengthBeats, 1.5 + 0.5 + 64);
  // Second time through A, the second ending "d2dd d2de" replaces "d2df d2dB" (bar 16 starts at beat 2 + 15*2).
  assert.deepEqual(pitchesBetween(joy, 16, 18), [74, 74, 78, 74, 74, 71]);
  assert.deepEqual(pitchesBetween(joy, 32, 34), [74, 74, 74, 74, 74, 76]);
  // The Irish Washerwoman plays AABB: 32 bars of 6/8 after the pickup, the A part's notes twice.
  const iw = tune('The Irish Washerwoman');
  assert.equal(iw.lengthBeats, 2 + 96);
  assert.equal(pitchesBetween(iw, 3, 26).length, 46);
  assert.deepEqual(pitchesBetween(iw, 3, 26), pitchesBetween(iw, 27, 50));
  assert.deepEqual(pitchesBetween(iw, 26, 27), [74, 72], 'the pickup "dc" is played again before the repeat');
  assert.deepEqual(pitchesBetween(iw, 50, 51), [79, 81], 'then the B part\'s pickup "ga"');
});

test('chord symbols become block chords held until the next symbol', () => {
  assert.deepEqual(chordPitches('G'), [43, 47, 50]);
  assert.deepEqual(chordPitches('D7'), [50, 54, 57, 60]);
  assert.deepEqual(chordPitches('F#m'), [42, 45, 49]);
  assert.deepEqual(chordPitches('Bb'), [46, 50, 53]);
  assert.deepEqual(chordPitches('G/B'), [35, 43, 47, 50]);
  assert.equal(chordPitches('Hm'), undefined);
  // The Kesh: pickup of 1/8 → bar 1 at beat 3 (6/8 bars of 3 beats), "G" for a bar, then "D" for a bar.
  const kesh = tune('The Kesh');
  assert.deepEqual(kesh.chords[0], { symbol: 'G', pitches: [43, 47, 50], start: 3, duration: 3 });
  assert.deepEqual(kesh.chords[1], { symbol: 'D', pitches: [50, 54, 57], start: 6, duration: 3 });
  const last = kesh.chords[kesh.chords.length - 1];
  assert.equal(last.start + last.duration, kesh.lengthBeats, 'the last chord lasts to the end');
  const piece = abcTuneToPiece(kesh);
  assert.equal(
    piece.notes.filter((n) => n.velocity === 60).length,
    kesh.chords.reduce((a, c) => a + c.pitches.length, 0),
  );
  assert.equal(piece.notes.filter((n) => n.velocity === 90).length, kesh.notes.length);
});

test('triplets, broken rhythm and ties', () => {
  // Harvest Home bar 1 "DA(3FGA DAFA" starts at beat 4 (pickup of 2/8 in 4/4).
  const hh = tune('Harvest Home');
  const bar = hh.notes.filter((n) => n.start >= 4 - 1e-9 && n.start < 8 - 1e-9);
  assert.deepEqual(
    bar.map((n) => n.pitch),
    [62, 69, 66, 67, 69, 62, 69, 66, 69],
  );
  for (const n of bar.slice(2, 5)) assert.ok(near(n.duration, 1 / 3), 'a triplet eighth lasts 1/3 beat');
  assert.ok(near(bar[5].start, 6));
  // Rights of Man: "B>cA>G" → 3/4 + 1/4 beats.
  const rom = tune('The Rights of Man');
  assert.deepEqual(
    rom.notes.slice(2, 6).map((n) => n.duration),
    [0.75, 0.25, 0.75, 0.25],
  );
  // My Bonnie: "B,4-|B,4" is one note of 4 beats.
  const bonnie = tune('My Bonnie Lies over the Ocean');
  const low = bonnie.notes.find((n) => n.pitch === 59);
  assert.ok(low);
  assert.equal(low.duration, 4);
});

test('bad input gives a one-line error naming the file, tune and line', () => {
  const bad = (text: string, re: RegExp): void => {
    assert.throws(
      () => parseAbc(text, 'bad.abc'),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'));
        return true;
      },
    );
  };
  bad('X:1\nT:Oops\nM:4/4\nK:G\nABc &d|\n', /^bad\.abc: tune X:1 "Oops", line 5: unexpected character "&"/);
  bad('X:2\nT:Key\nK:Q\nABc|\n', /tune X:2 "Key", line 3: unknown key K:Q/);
  bad('X:3\nT:Chord\nK:C\n"Xm7"C4|\n', /line 4: unknown chord symbol "Xm7"/);
  bad('X:4\nT:NoKey\nC D E|\n', /line 3: expected a header field before K:/);
  bad('no tunes here\n', /bad\.abc: no tunes/);
});

test('rhythm mistakes are reported as warnings', () => {
  const t = (body: string): AbcTune => parseAbc(`X:1\nT:t\nM:6/8\nL:1/8\nK:G\n${body}\n`, 't.abc')[0];
  assert.deepEqual(t('|:GAB cde|dcB A3:|').warnings, []);
  assert.match(t('|:GAB cde|dcB A3|GAB c2e f|dcB A3:|').warnings[0], /line 6: bar is 7\/8 long, M:6\/8 wants 6\/8/);
  // A pickup that is not balanced by the closing bar throws the bar grid off after the repeat.
  assert.match(t('|:D|GAB cde|dcB A3:|').warnings.join(' '), /off the bar grid/);
  assert.equal(slugify("Cock o' the North"), 'cock-o-the-north');
  assert.equal(slugify('Frère Jacques!'), 'frere-jacques');
});

test('render → MIDI → read back keeps every note, the tempo and the meter', () => {
  for (const title of ['The Kesh', 'Minuet in G', 'Fur Elise', 'Canon in D']) {
    const t = tune(title);
    const piece = abcTuneToPiece(t);
    const back = parseMidi(pieceToMidiBytes(piece), title);
    assert.equal(back.notes.length, piece.notes.length, title);
    back.notes.forEach((n, i) => {
      const m = piece.notes[i];
      assert.equal(n.pitch, m.pitch);
      assert.ok(Math.abs(n.start - m.start) <= 1 / 480 && Math.abs(n.duration - m.duration) <= 1 / 480, `${title} note ${i}`);
      assert.ok(Math.abs(n.velocity - m.velocity) <= 1);
    });
    assert.ok(Math.abs(back.tempos[0].bpm - t.bpm) < 0.01);
    assert.deepEqual(back.timeSignatures, t.timeSignatures);
  }
});

test('the committed data/*.mid files are the deterministic rendering of data/abc', () => {
  for (const { tune: t, fileName } of corpus) {
    const file = path.join(DATA_DIR, fileName);
    assert.ok(fs.existsSync(file), `${fileName} exists (run npm run corpus)`);
    const bytes = renderTune(t);
    assert.deepEqual(renderTune(t), bytes, 'same bytes twice');
    assert.ok(Buffer.from(bytes).equals(fs.readFileSync(file)), `${fileName} is up to date (run npm run corpus)`);
    const piece = readMidiFile(file);
    assert.equal(piece.notes.filter((n) => n.velocity === 90).length, t.notes.length, fileName);
  }
  const readme = fs.readFileSync(path.join(DATA_DIR, 'README.md'), 'utf8');
  assert.ok(readme.includes(corpusTable(corpus)), 'data/README.md table is up to date (run npm run corpus)');
});
