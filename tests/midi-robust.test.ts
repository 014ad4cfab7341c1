/**
 * Robustness of MIDI loading on deliberately damaged and unusual files
 * (tests/fixtures/midi, written by tests/fixtures/make-fixtures.ts): every good
 * file loads with the right notes, every bad one is skipped with an exact
 * one-line reason, and nothing crashes, hangs or blows up memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMidiFolder, parseMidi, readMidiFile, type MidiReadOptions } from '../lib/midi/read';
import { writeMidiFile } from '../lib/midi/write';
import { primerFromPiece } from '../lib/generate/primer';
import { defaultTokenizerConfig } from '../lib/tokens/config';
import { pieceToTokens } from '../lib/tokens/tokenize';
import { loadVocabulary } from '../lib/tokens/vocab-file';
import { MidiFileError } from '../lib/midi/smf';
import { UserError } from '../lib/core/errors';
import type { Piece } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { buildFixtures, longFile } from './fixtures/make-fixtures';
import { assertExit0, lastJson, MIDI_FIXTURES, FOLK_MODEL, ROOT, runCli, startProcess } from './helpers';
import { header, note, off, on, smf, track } from './fixtures/smf';

/** [pitch, start, duration, velocity] per note, in the Piece's order. */
type Row = [number, number, number, number];
const rows = (p: Piece): Row[] => p.notes.map((n) => [n.pitch, n.start, n.duration, n.velocity]);
const load = (file: string, opts: MidiReadOptions = {}): Piece => readMidiFile(path.join(MIDI_FIXTURES, file), opts, file);
const reasonOf = (file: string, opts: MidiReadOptions = {}): string => {
  try {
    load(file, opts);
  } catch (e) {
    assert.ok(e instanceof MidiFileError, `${file}: ${String(e)}`);
    return e.message;
  }
  return assert.fail(`${file} loaded but should be skipped`);
};

/** What the loader must do with each bad fixture: skip it with exactly this reason. */
const EXPECTED_SKIPS: Record<string, string> = {
  'drums-only.mid': 'only drum notes (channel 10), which are excluded by default',
  'empty.mid': 'empty file (0 bytes)',
  'format2.mid': 'MIDI format 2 (independent sequences) is not supported',
  'header-length-4.mid': 'bad header: MThd length is 4, expected 6',
  'header-length-wrong.mid': 'bad header: MThd length is 10 but a track chunk (MTrk) starts after 6 bytes',
  'huge-delta.mid': 'too long: notes reach beat 268435456, past the limit of 100000 beats (a damaged delta time?)',
  'meta-only.mid': 'no notes (no note-on events in any track)',
  'never-end-zero.mid': 'all 3 notes have zero length, 3 of them without a note-off',
  'random-bytes.mid': 'not a MIDI file (no MThd header)',
  'running-status-first.mid': 'corrupt track 1 of 1: running status with no previous status byte at byte 23',
  'smpte.mid': 'SMPTE time division is not supported (25 fps, 40 ticks per frame)',
  'tempo-storm.mid': 'too many tempo and time-signature changes (299 for 1 note; at most 4 per note + 256)',
  'track-length-long.mid': 'corrupt track 1 of 2: 28 bytes follow End of Track at byte 50 (a wrong chunk length?)',
  'track-length-short.mid': 'corrupt: 8 bytes after the last of the 1 declared tracks (byte 42) are not a chunk (a wrong chunk length?)',
  'track-length-zero.mid': 'corrupt: 20 bytes after the last of the 2 declared tracks (byte 58) are not a chunk (a wrong chunk length?)',
  'truncated.mid': 'truncated: track 3 of 3 declares 77 bytes but only 37 remain',
};

/** Files that load with something dropped or read differently, and the report's one line for each. */
const EXPECTED_WARNINGS: [string, string][] = [
  ['extra-track.mid', 'the header declares 1 track but the file holds 2: all were read'],
  ['good-format1-drums.mid', '8 drum notes (channel 10) left out, as drums are by default'],
  ['never-end-mixed.mid', '2 notes without a note-off, ended at the next note-on of the pitch or the track end'],
  ['never-end-only.mid', '4 notes without a note-off, ended at the next note-on of the pitch or the track end'],
  ['zero-length-notes.mid', '2 zero-length notes left out (note-on and note-off at the same tick)'],
];

/** Every good fixture and the exact notes it must give with default options. */
const EXPECTED_NOTES: Record<string, Row[]> = {
  // Both track chunks are read although the header declares one.
  'extra-track.mid': [
    [60, 0, 1, 80],
    [64, 0, 1, 80],
    [62, 1, 1, 81],
    [66, 1, 1, 81],
    [64, 2, 1, 82],
  ],
  'good-format0.mid': [
    [72, 0, 1, 80],
    [74, 1, 1, 81],
    [76, 2, 1, 82],
    [77, 3, 1, 83],
    [79, 4, 1, 84],
    [60, 5, 2, 64],
    [64, 5, 2, 64],
  ],
  // The drum track (channel 10) is left out by default.
  'good-format1-drums.mid': [
    [67, 0, 1, 80],
    [69, 1, 1, 81],
    [71, 2, 1, 82],
    [72, 3, 1, 83],
  ],
  'good-header-padded.mid': [
    [60, 0, 1, 80],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
  ],
  'good-piano-strings.mid': [
    [48, 0, 3, 60],
    [60, 0, 1, 80],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
    [55, 3, 3, 60],
    [65, 3, 1, 83],
    [67, 4, 1, 84],
    [69, 5, 1, 85],
  ],
  'good-running-status.mid': [
    [60, 0, 0.5, 90],
    [64, 0, 0.5, 90],
    [67, 0, 0.5, 90],
    [62, 1, 0.5, 90],
    [65, 1, 0.5, 90],
    [69, 1, 0.5, 90],
    [64, 2, 0.5, 90],
    [67, 2, 0.5, 90],
    [71, 2, 0.5, 90],
  ],
  'good-tempo-extremes.mid': [
    [60, 0, 1, 80],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
    [65, 3, 1, 83],
    [67, 4, 1, 84],
    [69, 5, 1, 85],
    [71, 6, 1, 86],
    [72, 7, 1, 87],
  ],
  'good-unknown-chunk.mid': [
    [62, 0, 1, 80],
    [64, 1, 1, 81],
    [66, 2, 1, 82],
  ],
  // Note-on velocity 0 ends the note; pitch 60 re-struck three times pairs correctly.
  'good-zero-padding.mid': [
    [60, 0, 1, 80],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
  ],
  'good-velocity0-noteoff.mid': [
    [60, 0, 0.75, 70],
    [60, 1, 0.75, 71],
    [62, 2, 0.75, 72],
    [60, 3, 0.75, 73],
  ],
  // 72 never ends: ended at the track end (beat 4); 76 likewise (beat 3 → 4).
  'never-end-mixed.mid': [
    [60, 0, 1, 80],
    [72, 0, 4, 100],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
    [76, 3, 1, 100],
  ],
  // No note-offs at all: each note ends at the next note-on of its pitch, the last ones at the track end.
  'never-end-only.mid': [
    [60, 0, 1, 100],
    [60, 1, 1, 100],
    [64, 1, 2, 100],
    [60, 2, 1, 100],
  ],
  // on 60 @0, on 60 @0.5, off @1, off @1.5: first in, first out (as @tonejs/midi pairs them).
  'overlap-same-pitch.mid': [
    [60, 0, 1, 100],
    [60, 0.5, 1, 90],
    [64, 2, 1, 80],
  ],
  // The two zero-length notes (62 and 65) are dropped.
  'zero-length-notes.mid': [
    [60, 0, 1, 100],
    [64, 1, 1, 100],
  ],
};

test('committed fixtures are exactly what make-fixtures.ts builds, and small', () => {
  const built = buildFixtures();
  const onDisk = fs
    .readdirSync(MIDI_FIXTURES)
    .filter((f) => f.endsWith('.mid'))
    .sort();
  assert.deepEqual(onDisk, [...built.keys()].sort());
  let total = 0;
  for (const [name, bytes] of built) {
    const disk = fs.readFileSync(path.join(MIDI_FIXTURES, name));
    assert.ok(Buffer.from(bytes).equals(disk), `${name} is stale: run npx tsx tests/fixtures/make-fixtures.ts`);
    total += disk.length;
  }
  assert.ok(total < 200 * 1024, `fixtures take ${total} bytes`);
  assert.deepEqual(onDisk, Object.keys({ ...EXPECTED_SKIPS, ...EXPECTED_NOTES }).sort(), 'every fixture has an expectation');
});

test('loadMidiFolder loads every good fixture and skips every bad one with the exact reason', () => {
  const progress: string[] = [];
  const report = loadMidiFolder(MIDI_FIXTURES, {}, (done, total, file) => progress.push(`${done}/${total} ${file}`));
  const names = Object.keys({ ...EXPECTED_SKIPS, ...EXPECTED_NOTES }).sort();
  assert.equal(report.files, names.length);
  assert.equal(progress.length, names.length);
  assert.equal(progress[progress.length - 1], `${names.length}/${names.length} zero-length-notes.mid`);
  assert.deepEqual(
    report.skipped,
    Object.entries(EXPECTED_SKIPS).map(([file, reason]) => ({ file, reason })),
  );
  for (const s of report.skipped) assert.match(s.reason, /^[\x20-\x7e\u2013]+$/, `one printable line: ${s.reason}`);
  assert.deepEqual(
    report.warnings.map((w) => [w.file, w.warning]),
    EXPECTED_WARNINGS,
  );
  assert.deepEqual(
    report.pieces.map((p) => p.name),
    Object.keys(EXPECTED_NOTES).sort(),
  );
  for (const p of report.pieces) assert.deepEqual(rows(p), EXPECTED_NOTES[p.name], p.name);
});

test('a missing folder is a UserError naming it; a single file can be loaded as the root', () => {
  assert.throws(
    () => loadMidiFolder(path.join(MIDI_FIXTURES, 'nope')),
    (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, `cannot read ${path.join(MIDI_FIXTURES, 'nope')}: no such file or folder`);
      return true;
    },
  );
  const one = loadMidiFolder(path.join(MIDI_FIXTURES, 'truncated.mid'));
  assert.deepEqual(
    [one.files, one.pieces.length, one.skipped],
    [1, 0, [{ file: 'truncated.mid', reason: EXPECTED_SKIPS['truncated.mid'] }]],
  );
});

test('metadata: tempo, time signature and program of good files', () => {
  const f0 = load('good-format0.mid');
  assert.deepEqual(f0.tempos, [{ beat: 0, bpm: 100 }]);
  assert.deepEqual(f0.timeSignatures, [{ beat: 0, numerator: 3, denominator: 4 }]);
  assert.equal(f0.program, 73);
  const ps = load('good-piano-strings.mid');
  assert.deepEqual(ps.timeSignatures, [{ beat: 0, numerator: 6, denominator: 8 }]);
  assert.equal(ps.tempos.length, 1);
  assert.ok(Math.abs(ps.tempos[0].bpm - 72) < 1e-3, `tempo ${ps.tempos[0].bpm}`);
  // No tempo or time signature in the file: MIDI's defaults.
  const rs = load('good-running-status.mid');
  assert.deepEqual([rs.tempos, rs.timeSignatures], [[{ beat: 0, bpm: 120 }], [{ beat: 0, numerator: 4, denominator: 4 }]]);
});

test('huge tempo changes (≈3.6 ↔ 10000 bpm every beat) leave onsets and durations in beats exact', () => {
  const p = load('good-tempo-extremes.mid');
  p.notes.forEach((n, i) => assert.deepEqual([n.start, n.duration], [i, 1]));
  // The tempo map is kept (10000 bpm clamped to 1000), one change per beat.
  assert.deepEqual(
    p.tempos.map((t) => t.beat),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(
    p.tempos.map((t) => Math.round(t.bpm * 1000) / 1000),
    [3.576, 1000, 3.576, 1000, 3.576, 1000, 3.576, 1000],
  );
});

test('drum-only files are skipped by default and load with includeDrums', () => {
  assert.equal(reasonOf('drums-only.mid'), EXPECTED_SKIPS['drums-only.mid']);
  const p = load('drums-only.mid', { includeDrums: true });
  assert.deepEqual(rows(p), [
    [36, 0, 0.5, 100],
    [38, 0.5, 0.5, 100],
    [42, 1, 0.5, 100],
  ]);
  assert.equal(p.program, 0);
  const withDrums = load('good-format1-drums.mid', { includeDrums: true });
  assert.equal(withDrums.notes.length, 4 + 8);
  assert.deepEqual([...new Set(withDrums.notes.map((n) => n.pitch))].sort(), [36, 42, 67, 69, 71, 72]);
  assert.equal(withDrums.program, 40, 'program of the first kept note (violin track)');
});

test('tracks and programs options select notes by file track index and program', () => {
  const piano: Row[] = [
    [60, 0, 1, 80],
    [62, 1, 1, 81],
    [64, 2, 1, 82],
    [65, 3, 1, 83],
    [67, 4, 1, 84],
    [69, 5, 1, 85],
  ];
  const strings: Row[] = [
    [48, 0, 3, 60],
    [55, 3, 3, 60],
  ];
  assert.deepEqual(rows(load('good-piano-strings.mid', { tracks: [1] })), piano);
  const s = load('good-piano-strings.mid', { tracks: [2] });
  assert.deepEqual([rows(s), s.program], [strings, 48]);
  assert.deepEqual(rows(load('good-piano-strings.mid', { programs: [48] })), strings);
  assert.deepEqual(rows(load('good-piano-strings.mid', { programs: [0] })), piano);
  assert.equal(load('good-piano-strings.mid', { tracks: [1, 2] }).notes.length, 8);
  assert.equal(
    reasonOf('good-piano-strings.mid', { tracks: [0] }),
    'no notes in the selected tracks/programs (notes are in tracks 1, 2 with programs 0, 48)',
  );
  assert.equal(load('good-format1-drums.mid', { programs: [40] }).notes.length, 4);
  assert.equal(
    reasonOf('good-format1-drums.mid', { includeDrums: true, tracks: [0] }),
    'no notes in the selected tracks/programs (notes are in tracks 1, 2 with programs 0, 40)',
  );
});

test('a note-on without a note-off takes the next note-off of its pitch (first in, first out)', () => {
  // on 60 @0 (never ended), then a proper 60 @1–1.5: FIFO pairs the first on with that off;
  // the second on is then unended and ends at the track end (beat 2).
  const bytes = smf(header(0, 1, 96), track([on(0, 0, 60), on(96, 0, 60), off(144, 0, 60)], { tailTicks: 48 }));
  assert.deepEqual(rows(parseMidi(bytes, 'x')), [
    [60, 0, 1.5, 100],
    [60, 1, 1, 100],
  ]);
  // A note-off with nothing sounding is ignored.
  const stray = smf(header(0, 1, 96), track([off(0, 0, 62), ...note(0, 96, 0, 62)]));
  assert.deepEqual(rows(parseMidi(stray, 'x')), [[62, 0, 1, 100]]);
});

test('a very long file (200k notes) loads in linear time with bounded memory; limits skip with a reason', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-long-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'long.mid');
  fs.writeFileSync(file, longFile(200_000));
  const size = fs.statSync(file).size;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const report = loadMidiFolder(dir);
  const ms = performance.now() - t0;
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 1e6;
  t.diagnostic(`200k notes, ${size} bytes: ${ms.toFixed(0)} ms, heap +${heapMB.toFixed(0)} MB`);
  assert.deepEqual(report.skipped, []);
  const notes = report.pieces[0].notes;
  assert.equal(notes.length, 200_000);
  assert.deepEqual([notes[199_999].start, notes[199_999].duration], [199_999 / 4, 1]);
  // @tonejs/midi's quadratic note pairing took ~19 s here; ours is linear.
  assert.ok(ms < 5000, `took ${ms} ms`);
  assert.ok(heapMB < 200, `heap grew ${heapMB} MB`);
  assert.deepEqual(loadMidiFolder(dir, { maxNotes: 100_000 }).skipped, [
    { file: 'long.mid', reason: 'too many notes (more than 100000 note-ons)' },
  ]);
  assert.deepEqual(loadMidiFolder(dir, { maxBytes: 1_000_000 }).skipped, [
    { file: 'long.mid', reason: `file too large (${size} bytes > 1000000)` },
  ]);
});

test('randomly damaged files never crash or hang: a Piece or a one-line MidiFileError', () => {
  const seeds = [...buildFixtures().entries()].filter(([name]) => name.startsWith('good-')).map(([, b]) => b);
  const rng = createRng(7);
  const r = (n: number): number => Math.floor(rng.next() * n);
  let loaded = 0;
  const kinds = new Set<string>();
  const t0 = performance.now();
  for (let i = 0; i < 3000; i++) {
    let b = Uint8Array.from(seeds[i % seeds.length]);
    for (let j = 0; j <= r(3); j++) {
      const at = r(b.length);
      const op = r(3);
      if (op === 0) b[at] = r(256);
      else if (op === 1) b = b.subarray(0, at);
      else b.fill(0xff, at, at + 1 + r(5));
    }
    try {
      parseMidi(b, 'fuzz');
      loaded++;
    } catch (e) {
      assert.ok(e instanceof MidiFileError, `mutation ${i} threw ${String(e)}`);
      assert.match(e.message, /^[\x20-\x7e\u2013]+$/);
      kinds.add(e.message.split(/[:(]/)[0]);
    }
  }
  const ms = performance.now() - t0;
  assert.ok(loaded > 0 && kinds.size >= 8, `loaded ${loaded}, reason kinds ${[...kinds].join(' | ')}`);
  assert.ok(ms < 5000, `3000 damaged files took ${ms} ms`);
});

test('the 32-byte file with a 268-million-beat delta is skipped at once by inspect and refused as a --primer', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-huge-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const huge = path.join(dir, 'huge-delta.mid');
  for (const f of ['huge-delta.mid', 'good-format0.mid', 'extra-track.mid'])
    fs.copyFileSync(path.join(MIDI_FIXTURES, f), path.join(dir, f));
  assert.equal(fs.statSync(huge).size, 32);
  for (const scheme of ['remi', 'timed']) {
    const t0 = performance.now();
    const r = await runCli(['inspect', dir, '--scheme', scheme, '--json']);
    assertExit0(r);
    const j = lastJson(r);
    assert.deepEqual([j.files, j.loaded, j.skipped], [3, 2, [{ file: 'huge-delta.mid', reason: EXPECTED_SKIPS['huge-delta.mid'] }]]);
    assert.deepEqual(
      j.warnings,
      [{ file: 'extra-track.mid', warning: EXPECTED_WARNINGS[0][1] }],
      'what was read differently is reported too',
    );
    assert.ok(performance.now() - t0 < 30_000, `inspect --scheme ${scheme} took ${performance.now() - t0} ms`);
  }
  const text = Object.values(await runCli(['inspect', dir])).join('\n');
  for (const line of [`skipped huge-delta.mid: ${EXPECTED_SKIPS['huge-delta.mid']}`, `warning extra-track.mid: ${EXPECTED_WARNINGS[0][1]}`])
    assert.ok(text.includes(line), text);
  const out = path.join(dir, 'out.mid');
  const r = await runCli(['generate', '--model', FOLK_MODEL, '--primer', huge, '--out', out, '--length', '8']);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1], /--primer .*huge-delta\.mid: too long: notes reach beat 268435456, past the limit of 100000 beats/);
  assert.ok(!/^\s+at /m.test(r.stderr), `no stack trace: ${r.stderr}`);
  assert.ok(!fs.existsSync(out));
  // Loaded anyway (no beat limit), it costs a few tokens in every scheme, and as a primer.
  const piece = parseMidi(fs.readFileSync(huge), 'huge', { maxBeats: Infinity });
  assert.deepEqual(rows(piece), [[60, 268435455, 1, 100]]);
  const counts = (['remi', 'timed', 'classic'] as const).map((scheme) => pieceToTokens(piece, defaultTokenizerConfig(scheme)).length);
  // remi: at most maxEmptyBars empty bars of two tokens each (| and its meter), then the note's bar.
  assert.ok(counts[0] <= 30 && counts[1] <= 12 && counts[2] === 1, `remi, timed, classic: ${counts.join(', ')} tokens`);
  assert.ok(primerFromPiece(piece, loadVocabulary(path.join(FOLK_MODEL, 'vocab.json')), 64).ids.length <= 12);
});

/** Runs a shell command line in the project root (the way to pass argument bytes that are not UTF-8). */
async function shell(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return startProcess('sh', ['-c', line], { timeoutMs: 120_000 }).done;
}

test('names that are not UTF-8: found and read by their bytes, shown as \\xNN; given on the command line, as --out too', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-names-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bytes = (s: string): Buffer => Buffer.from(s, 'latin1'); // one byte per character: \xe9, \xff stay single bytes
  const folder = Buffer.concat([bytes(dir), bytes('/caf\xe9')]);
  fs.mkdirSync(folder);
  fs.copyFileSync(path.join(MIDI_FIXTURES, 'good-format0.mid'), Buffer.concat([folder, bytes('/x\xff.mid')]));
  const report = loadMidiFolder(dir);
  assert.deepEqual([report.pieces.map((p) => p.name), report.skipped], [['caf\\xe9/x\\xff.mid'], []]);
  assert.deepEqual(
    loadMidiFolder(folder).pieces.map((p) => p.name),
    ['x\\xff.mid'],
  );
  // Written by its bytes (atomically, nothing else left in the folder).
  const out = Buffer.concat([folder, bytes('/o\xff.mid')]);
  writeMidiFile(out, report.pieces[0]);
  assert.deepEqual(rows(readMidiFile(out)), rows(report.pieces[0]));
  assert.deepEqual(
    fs
      .readdirSync(folder, { encoding: 'buffer' })
      .map((b) => b.toString('latin1'))
      .sort(),
    ['o\xff.mid', 'x\xff.mid'],
  );
  // On the command line: Node decodes the bytes to U+FFFD; /proc/self/cmdline still has them (Linux).
  if (process.platform !== 'linux') return t.skip('recovering argument bytes needs /proc/self/cmdline');
  const cli = `exec "${process.execPath}" --import tsx lib/cli/main.ts`;
  const name = `"$(printf '%s/caf\\351')"`;
  const inspect = await shell(`cd "${ROOT}" && ${cli} inspect ${name.replace('%s', dir)} --json`);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.deepEqual([lastJson({ ...inspect, signal: null }).loaded, lastJson({ ...inspect, signal: null }).skipped], [2, []]);
  const gen = await shell(
    `cd "${ROOT}" && ${cli} generate --model "${FOLK_MODEL}" --length 8 --seed 1 --out "$(printf '%s/g\\377.mid' "${dir}")"`,
  );
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(
    fs.readdirSync(dir, { encoding: 'buffer' }).some((b) => b.equals(bytes('g\xff.mid'))),
    'the name as typed',
  );
  // Into a new folder that is not UTF-8 either: that folder is made (no look-alike beside it) and the message shows the bytes.
  const before = fs.readdirSync(dir, { encoding: 'buffer' }).length;
  const sub = await shell(
    `cd "${ROOT}" && ${cli} generate --model "${FOLK_MODEL}" --length 8 --seed 1 --out "$(printf '%s/sub\\376/g\\377.mid' "${dir}")"`,
  );
  assert.equal(sub.code, 0, sub.stderr);
  assert.equal(fs.readdirSync(dir, { encoding: 'buffer' }).length, before + 1, 'one new folder');
  assert.deepEqual(fs.readdirSync(Buffer.concat([bytes(dir), bytes('/sub\xfe')]), { encoding: 'buffer' }), [bytes('g\xff.mid')]);
  assert.match(sub.stdout + sub.stderr, /wrote \S+\/sub\\xfe\/g\\xff\.mid: /);
});

test('symbolic links: linked files and folders are followed (a loop once), a broken link or a device is skipped with the reason', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-links-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const real = path.join(dir, 'real');
  fs.mkdirSync(real);
  fs.copyFileSync(path.join(MIDI_FIXTURES, 'good-format0.mid'), path.join(real, 'a.mid'));
  fs.symlinkSync(path.join(real, 'a.mid'), path.join(dir, 'link.mid'));
  fs.symlinkSync(real, path.join(dir, 'linked-folder'));
  fs.symlinkSync(dir, path.join(real, 'loop'));
  fs.symlinkSync(path.join(dir, 'nowhere.mid'), path.join(dir, 'broken.mid'));
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'broken-folder'));
  fs.symlinkSync('/dev/null', path.join(dir, 'null.mid'));
  const report = loadMidiFolder(dir);
  // linked-folder and real are one folder: its file is listed once, under the name the walk meets first.
  assert.deepEqual(
    report.pieces.map((p) => p.name),
    ['link.mid', 'linked-folder/a.mid'],
  );
  assert.deepEqual(report.skipped, [
    { file: 'broken.mid', reason: 'broken symbolic link (no such file or folder)' },
    { file: 'null.mid', reason: 'not a regular file' },
  ]);
  assert.equal(report.files, report.pieces.length + report.skipped.length);
  // A link given as the root is followed too.
  assert.deepEqual(
    loadMidiFolder(path.join(dir, 'link.mid')).pieces.map((p) => p.name),
    ['link.mid'],
  );
});
