/**
 * MIDI from the wild: karaoke files (.kar), RIFF-wrapped MIDI
 * (.rmi, or .mid), stray bytes after the last track and tracks without End of
 * Track load with exactly the notes of the file they were made from, each
 * thing read differently on one warning line; files whose notes could be
 * lost stay skipped. The cases are made at test time (tests/fixtures/wild.ts)
 * from data/ and the fixtures, and from every file of the shared corpora
 * when they are here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listFiles } from '../lib/core/files';
import type { Piece } from '../lib/core/piece';
import { loadMidiFolder, MIDI_EXTENSIONS, parseMidi } from '../lib/midi/read';
import { MidiFileError } from '../lib/midi/smf';
import { DATA_DIR, lastJson, MIDI_FIXTURES, needNottingham, needPianoMidi, NOTTINGHAM, PIANO_MIDI, runCli, assertExit0 } from './helpers';
import { chunkSpans, riffWrapped, TRAILERS, withoutEndOfTrack, withTrailer } from './fixtures/wild';

/** One made file: its name (the extension matters), bytes, and the warnings it adds to those of the file it was made from. */
interface WildCase {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly warnings: readonly string[];
}

const KINDS = ['rmi', 'riff-mid', 'kar', 'trailer', 'no-end-all', 'no-end-last'] as const;

/** The case of `kind` made from `bytes` (the trailer picked by `i`), or undefined when it cannot be made (a track without End of Track). */
function wildCase(kind: (typeof KINDS)[number], base: string, bytes: Uint8Array, i: number): WildCase | undefined {
  const tracks = countTracks(bytes);
  switch (kind) {
    case 'rmi':
      return { name: `${base}.rmi`, bytes: riffWrapped(bytes), warnings: [] };
    case 'riff-mid':
      return { name: `${base}.riff.mid`, bytes: riffWrapped(bytes, false), warnings: [] };
    case 'kar':
      return { name: `${base}.kar`, bytes, warnings: [] };
    case 'trailer': {
      const trailer = TRAILERS[i % TRAILERS.length];
      return { name: `${base}.junk.mid`, bytes: withTrailer(bytes, trailer), warnings: [trailerWarning(bytes, trailer)] };
    }
    case 'no-end-all':
    case 'no-end-last': {
      const cut = withoutEndOfTrack(bytes, kind === 'no-end-all' ? 'all' : 'last');
      if (!cut) return undefined;
      const warning =
        kind === 'no-end-all' && tracks > 1
          ? `${tracks} of ${tracks} tracks have no End of Track event: each read to the end of its chunk`
          : `track ${tracks} of ${tracks} has no End of Track event: read to the end of its chunk`;
      return { name: `${base}.${kind}.midi`, bytes: cut, warnings: [warning] };
    }
  }
}

/** Track chunks in a file. */
const countTracks = (b: Uint8Array): number =>
  chunkSpans(b).filter(([at]) => Buffer.from(b.subarray(at, at + 4)).toString('latin1') === 'MTrk').length;

/** The warning for the bytes from the end of the last chunk of `b` on, `trailer` appended (zero padding before it included). */
function trailerWarning(b: Uint8Array, trailer: readonly number[]): string {
  const spans = chunkSpans(b);
  const from = spans[spans.length - 1][1];
  const n = b.length + trailer.length - from;
  return `ignored ${n} byte${n === 1 ? '' : 's'} after the last track chunk (from byte ${from}): not a MIDI chunk`;
}

/** Everything of a piece but its name. */
const content = (p: Piece): Piece => ({ ...p, name: '' });

/** Reads `bytes` with its warnings, or the reason it is skipped. */
function read(bytes: Uint8Array, name: string): { piece?: Piece; warnings: string[]; reason?: string } {
  const warnings: string[] = [];
  try {
    return { piece: parseMidi(bytes, name, { onWarning: (w) => warnings.push(w) }), warnings };
  } catch (e) {
    assert.ok(e instanceof MidiFileError, String(e));
    return { warnings, reason: e.message };
  }
}

/**
 * Writes the cases of `kinds` made from each file into `dir`, loads the folder
 * and checks each case: the original's notes, tempos, meters and program
 * exactly, and its warnings plus the case's. Returns how many cases.
 */
function checkCases(files: readonly string[], kinds: (i: number) => readonly (typeof KINDS)[number][], dir: string): number {
  const expected = new Map<string, { piece: Piece; warnings: string[] }>();
  files.forEach((file, i) => {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const original = read(bytes, file);
    if (!original.piece) return;
    for (const kind of kinds(i)) {
      const c = wildCase(kind, `${i}-${path.basename(file, path.extname(file))}`, bytes, Math.floor(i / KINDS.length));
      if (!c) continue;
      fs.writeFileSync(path.join(dir, c.name), c.bytes);
      expected.set(c.name, { piece: original.piece, warnings: [...original.warnings, ...c.warnings].sort() });
    }
  });
  const report = loadMidiFolder(dir);
  assert.deepEqual(report.skipped, []);
  assert.equal(report.pieces.length, expected.size);
  for (const p of report.pieces) {
    const want = expected.get(p.name);
    assert.ok(want, p.name);
    assert.deepEqual(content(p), content(want.piece), `${p.name}: the original's notes`);
    assert.deepEqual(
      report.warnings
        .filter((w) => w.file === p.name)
        .map((w) => w.warning)
        .sort(),
      want.warnings,
      `${p.name}: warnings`,
    );
  }
  return expected.size;
}

const tmp = (t: { after: (f: () => void) => void }): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-wild-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('.kar and .rmi count as MIDI files', () => {
  assert.deepEqual(MIDI_EXTENSIONS, ['.mid', '.midi', '.kar', '.rmi']);
});

test('every kind of wild case made from each file of data/ and the good fixtures loads with its notes and one warning per thing read differently', (t) => {
  const files = [
    ...listFiles(DATA_DIR, ['.mid']),
    ...listFiles(MIDI_FIXTURES, ['.mid']).filter((f) => path.basename(String(f)).startsWith('good-')),
  ].map(String);
  const n = checkCases(files, () => KINDS, tmp(t));
  t.diagnostic(`${n} cases from ${files.length} files`);
  assert.ok(n >= files.length * 5, `${n} cases`);
});

for (const [corpus, dir, skip] of [
  ['Nottingham', NOTTINGHAM, needNottingham],
  ['piano-midi', PIANO_MIDI, needPianoMidi],
] as const) {
  test(`each file of the ${corpus} corpus, made into one wild case in turn, loads with exactly its notes`, { skip }, (t) => {
    const files = listFiles(dir, ['.mid']).map(String);
    const n = checkCases(files, (i) => [KINDS[i % KINDS.length]], tmp(t));
    t.diagnostic(`${n} cases from ${files.length} files`);
    assert.equal(n, files.length);
  });
}

test('a mixed folder loads entirely: one warning line per thing read differently, other files counted as passed over', async (t) => {
  const dir = tmp(t);
  const good = new Uint8Array(fs.readFileSync(path.join(DATA_DIR, 'greensleeves.mid')));
  const cut = withoutEndOfTrack(good, 'last');
  assert.ok(cut);
  const files: Record<string, Uint8Array> = {
    'a.mid': good,
    'b.kar': good,
    'c.rmi': riffWrapped(good),
    'd.mid': riffWrapped(good, false),
    'e.mid': withTrailer(good, [0x0a, 0x0a]),
    'f.midi': cut,
    'sub/G.KAR': good,
    'notes.txt': Buffer.from('not music'),
    'sub/cover.jpg': Buffer.from([0xff, 0xd8]),
    '.hidden.mid': good,
  };
  fs.mkdirSync(path.join(dir, 'sub'));
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  const report = loadMidiFolder(dir);
  const lines = [
    `e.mid: ${trailerWarning(good, [0x0a, 0x0a])}`,
    `f.midi: track ${countTracks(good)} of ${countTracks(good)} has no End of Track event: read to the end of its chunk`,
  ];
  assert.deepEqual([report.files, report.passedOver, report.skipped], [7, 2, []]);
  assert.deepEqual(
    report.pieces.map((p) => p.name),
    ['a.mid', 'b.kar', 'c.rmi', 'd.mid', 'e.mid', 'f.midi', 'sub/G.KAR'],
  );
  for (const p of report.pieces) assert.deepEqual(content(p), content(report.pieces[0]), p.name);
  assert.deepEqual(
    report.warnings.map((w) => `${w.file}: ${w.warning}`),
    lines,
  );
  const r = await runCli(['inspect', dir, '--json']);
  assertExit0(r);
  const j = lastJson(r);
  assert.deepEqual([j.files, j.passedOver, j.loaded, j.skipped], [7, 2, 7, []]);
  const text = await runCli(['inspect', dir]);
  const out = (text.stdout + text.stderr).split('\n');
  for (const line of [...lines.map((l) => `warning ${l}`), 'passed over 2 files whose names do not end in .mid, .midi, .kar or .rmi']) {
    assert.equal(out.filter((l) => l === line).length, 1, `${line}\n${out.join('\n')}`);
  }
  // A folder of other files only says so, instead of just "0 MIDI files".
  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'readme.txt'), 'x');
  const none = await runCli(['inspect', other]);
  assert.match(
    none.stdout + none.stderr,
    /passed over 1 file whose name does not end in \.mid, \.midi, \.kar or \.rmi\n(.*\n)*0 MIDI files/,
  );
});

test('what may hide notes stays skipped: stray bytes after a track without End of Track, or holding a track id or an End of Track', () => {
  const good = new Uint8Array(fs.readFileSync(path.join(MIDI_FIXTURES, 'good-format0.mid')));
  const cut = withoutEndOfTrack(good, 'last');
  assert.ok(cut);
  const at = good.length;
  const corrupt = (n: number, p: number): string =>
    `corrupt: ${n} bytes after the last of the 1 declared tracks (byte ${p}) are not a chunk (a wrong chunk length?)`;
  const cases: [string, Uint8Array, string][] = [
    ['after a track without End of Track', withTrailer(cut, [0x0a, 0x0a]), corrupt(2, cut.length)],
    ['holding a track chunk id', withTrailer(good, [0x0a, ...Buffer.from('MTrk')]), corrupt(5, at)],
    ['holding an End of Track', withTrailer(good, [0x0a, 0x00, 0xff, 0x2f, 0x00]), corrupt(5, at)],
    ['a track chunk id cut off by the end of the file', withTrailer(good, Array.from(Buffer.from('MTr'))), corrupt(3, at)],
    ['a track chunk longer than the file', withTrailer(good, [...Buffer.from('MTrk'), 0, 0, 1, 0, 0]), corrupt(9, at)],
  ];
  for (const [what, bytes, reason] of cases) assert.equal(read(bytes, what).reason, reason, what);
  // Read without the stray bytes, the file without End of Track loads, with its warning.
  assert.deepEqual(read(cut, 'cut').warnings, ['track 1 of 1 has no End of Track event: read to the end of its chunk']);
});

test('RIFF files that hold no usable MIDI are skipped with a one-line reason; what is wrong inside says where', () => {
  const good = new Uint8Array(fs.readFileSync(path.join(MIDI_FIXTURES, 'good-format0.mid')));
  const riff = riffWrapped(good, false);
  const wave = Uint8Array.from([...Buffer.from('RIFF'), 4, 0, 0, 0, ...Buffer.from('WAVEfmt ')]);
  const noData = Uint8Array.from([...Buffer.from('RIFF'), 12, 0, 0, 0, ...Buffer.from('RMIDDISP'), 0, 0, 0, 0]);
  const truncated = new Uint8Array(fs.readFileSync(path.join(MIDI_FIXTURES, 'truncated.mid')));
  const cases: [string, Uint8Array, string][] = [
    ['short', Buffer.from('RIFF\x10\0\0\0'), 'truncated: the file ends inside the RIFF header'],
    ['wave', wave, 'not a MIDI file (a RIFF file of form "WAVE", not RMID)'],
    ['no data chunk', noData, 'not a MIDI file (a RIFF RMID file without a data chunk)'],
    [
      'cut',
      riff.subarray(0, riff.length - 10),
      `truncated: the RIFF data chunk declares ${good.length} bytes but only ${riff.length - 10 - 20} remain`,
    ],
    [
      'truncated inside',
      riffWrapped(truncated, false),
      'in the RIFF data chunk (from byte 20): truncated: track 3 of 3 declares 77 bytes but only 37 remain',
    ],
    [
      'not MIDI inside',
      riffWrapped(Buffer.from('hello'), false),
      'in the RIFF data chunk (from byte 20): not a MIDI file (no MThd header)',
    ],
  ];
  for (const [what, bytes, reason] of cases) assert.equal(read(bytes, what).reason, reason, what);
  // Stray bytes inside the data chunk are reported with where they are.
  assert.deepEqual(read(riffWrapped(withTrailer(good, [0x0a]), false), 'x').warnings, [
    `in the RIFF data chunk (from byte 20): ignored 1 byte after the last track chunk (from byte ${good.length}): not a MIDI chunk`,
  ]);
});
