/**
 * The multi-instrument corpus of scripts/multi-corpus.ts: each Nottingham tune
 * arranged for a seeded band of 3–6 programs, which its written file keeps
 * (programs per 1,000 notes = band × 1000 ÷ notes, exactly), tunes differing
 * in band; a tune without chords is skipped with a line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRng } from '../lib/core/rng';
import { instrumentOf } from '../lib/core/piece';
import { programsPer1000Notes } from '../lib/evaluate/structure';
import { loadMidiFolder, parseMidi, readMidiFile } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { ARPEGGIO, arrange, BASS, buildMultiCorpus, CHORDS, MELODY, PADS } from '../scripts/multi-corpus';
import { NOTTINGHAM, needNottingham } from './helpers';

const TUNES = ['ashover1.mid', 'jigs10.mid', 'reelsa-c5.mid', 'waltzes1.mid', 'hpps1.mid', 'morris1.mid', 'reelsh-l19.mid'];

test('a Nottingham tune read whole is one program: 1000 ÷ its notes per 1,000 notes', { skip: needNottingham }, () => {
  const jig = readMidiFile(path.join(NOTTINGHAM, 'jigs10.mid'));
  assert.equal(jig.notes.length, 252, 'a melody of 144 notes and chords of 108');
  assert.equal(programsPer1000Notes(jig), 1000 / 252);
});

test('arrange: a band of 3–6 distinct programs from the lists, the melody and chords as written, seeded', { skip: needNottingham }, () => {
  const src = path.join(NOTTINGHAM, 'jigs10.mid');
  const melody = readMidiFile(src, { tracks: [0] });
  const chords = readMidiFile(src, { tracks: [1] });
  const sizes = new Set<number>();
  for (let seed = 1; seed <= 150; seed++) {
    const { piece, band } = arrange('jigs10.mid', melody, chords, createRng(seed));
    sizes.add(band.length);
    assert.ok(band.length >= 3 && band.length <= 6, `band ${band.join(',')}`);
    assert.equal(new Set(band).size, band.length, 'no program twice');
    assert.ok(MELODY.includes(band[0]) && CHORDS.includes(band[1]) && BASS.includes(band[2]), `lead, chords, bass: ${band.join(',')}`);
    assert.ok(
      band.slice(3).every((p) => MELODY.includes(p) || PADS.includes(p) || ARPEGGIO.includes(p)),
      `extras ${band.join(',')}`,
    );
    const played = new Set(piece.notes.map((n) => instrumentOf(n, piece).program));
    assert.deepEqual([...played].sort(), [...band].sort(), 'every program of the band plays, and no other');
    // The melody and the chords are there as written, on the lead and chord programs.
    assert.equal(piece.notes.filter((n) => n.program === band[0]).length, melody.notes.length);
    assert.equal(piece.notes.filter((n) => n.program === band[1]).length, chords.notes.length);
    assert.ok(
      piece.notes.filter((n) => n.program === band[2]).every((n) => n.pitch >= 28 && n.pitch <= 46),
      'the bass sits low',
    );
    // Written and read back, the file keeps the band: exactly band × 1000 ÷ notes.
    const back = parseMidi(pieceToMidiBytes(piece), 'back');
    assert.equal(back.notes.length, piece.notes.length);
    assert.equal(programsPer1000Notes(back), (band.length * 1000) / piece.notes.length);
  }
  assert.deepEqual([...sizes].sort(), [3, 4, 5, 6], 'every band size comes up in 150 seeds');
  const a = arrange('jigs10.mid', melody, chords, createRng(7));
  const b = arrange('jigs10.mid', melody, chords, createRng(7));
  assert.deepEqual(pieceToMidiBytes(a.piece), pieceToMidiBytes(b.piece), 'the same seed writes the same file');
});

test(
  'buildMultiCorpus: one file per tune with chords, a melody-only tune skipped with a line, bands differ',
  { skip: needNottingham },
  () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multi-corpus-'));
    try {
      const src = path.join(tmp, 'src');
      fs.mkdirSync(src);
      for (const f of TUNES) fs.copyFileSync(path.join(NOTTINGHAM, f), path.join(src, f));
      const lines: string[] = [];
      const out = path.join(tmp, 'out');
      const r = buildMultiCorpus(src, out, 1, (l) => lines.push(l));
      assert.equal(r.files, TUNES.length - 1);
      assert.deepEqual(lines, ['skipped reelsh-l19.mid: no notes in the selected tracks/programs (notes are in tracks 0 with programs 0)']);
      const { pieces } = loadMidiFolder(out);
      assert.equal(pieces.length, r.files);
      assert.equal(
        pieces.reduce((n, p) => n + p.notes.length, 0),
        r.notes,
      );
      const bands = pieces.map((p) => [...new Set(p.notes.map((n) => instrumentOf(n, p).program))].sort((x, y) => x - y).join(','));
      assert.ok(new Set(bands).size >= 5, `bands ${bands.join(' | ')}`);
      assert.equal(new Set(bands.flatMap((b) => b.split(','))).size, r.programs);
      for (const p of pieces) {
        const size = new Set(p.notes.map((n) => instrumentOf(n, p).program)).size;
        assert.ok(size >= 3 && size <= 6, `${p.name}: ${size} programs`);
        assert.equal(programsPer1000Notes(p), (size * 1000) / p.notes.length);
      }
      // The same seed writes the same files.
      const again = path.join(tmp, 'again');
      buildMultiCorpus(src, again, 1);
      for (const f of fs.readdirSync(out)) assert.deepEqual(fs.readFileSync(path.join(again, f)), fs.readFileSync(path.join(out, f)), f);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
