/**
 * Fuzzing the input side: a seeded mutator damages real MIDI files
 * (data/, tests/fixtures/midi, ../shared/data when present) with byte flips,
 * inserts, cuts, chunk-length edits, huge delta times, tempo and ppq
 * extremes, track-count edits and chunks spliced from other files. Every
 * mutant goes through read → tokenize (remi and timed) → encode → primer, and
 * must either load or be skipped with a one-line MidiFileError; its time and
 * its tokens must stay within a small multiple of its notes.
 *
 * MUSICGEN_FUZZ=10000 runs more mutants (default 1000), MUSICGEN_FUZZ_SEED
 * another seed; a failure names the mutant's seed file and index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listFiles } from '../lib/core/files';
import { createRng, deriveSeed, type Rng } from '../lib/core/rng';
import { primerFromPiece } from '../lib/generate/primer';
import { loadMidiFolder, parseMidi, MIDI_EXTENSIONS } from '../lib/midi/read';
import { MidiFileError } from '../lib/midi/smf';
import { defaultTokenizerConfig } from '../lib/tokens/config';
import { pieceToTokens } from '../lib/tokens/tokenize';
import { loadVocabulary } from '../lib/tokens/vocab-file';
import { buildVocabulary, encodePiece } from '../lib/tokens/vocabulary';
import { assertExit0, DATA_DIR, lastJson, MIDI_FIXTURES, NOTTINGHAM, PIANO_MIDI, FOLK_MODEL, runCli } from './helpers';

const COUNT = Number(process.env.MUSICGEN_FUZZ ?? 1000);
const SEED = Number(process.env.MUSICGEN_FUZZ_SEED ?? 13);
const REMI = defaultTokenizerConfig('remi');
const TIMED = defaultTokenizerConfig('timed');

/** Seed files: every file of data/ and the fixtures, and an even sample of the shared corpora. */
function seedFiles(): { name: string; bytes: Uint8Array }[] {
  const sample = (dir: string, every: number): string[] =>
    fs.existsSync(dir)
      ? listFiles(dir, MIDI_EXTENSIONS)
          .filter((_, i) => i % every === 0)
          .map(String)
      : [];
  const files = [...sample(DATA_DIR, 1), ...sample(MIDI_FIXTURES, 1), ...sample(NOTTINGHAM, 25), ...sample(PIANO_MIDI, 12)];
  return files.map((f) => ({ name: path.relative(path.dirname(DATA_DIR), f), bytes: fs.readFileSync(f) }));
}

// ---------------------------------------------------------------- the mutator

const u32 = (b: Uint8Array, p: number): number => ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
const put32 = (b: Uint8Array, p: number, v: number): void => {
  if (p + 4 <= b.length) b.set([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff], p);
};
const splice = (b: Uint8Array, at: number, remove: number, insert: ArrayLike<number> = []): Uint8Array =>
  Uint8Array.from([...b.subarray(0, at), ...Array.from(insert), ...b.subarray(at + remove)]);

/** Chunk positions (id at `at`, data from at + 8 for `len` bytes), as far as the chunk headers can be followed. */
function chunks(b: Uint8Array): { at: number; len: number; track: boolean }[] {
  const out: { at: number; len: number; track: boolean }[] = [];
  for (let p = 0; p + 8 <= b.length && out.length < 1000;) {
    const len = u32(b, p + 4);
    out.push({ at: p, len, track: String.fromCharCode(...b.subarray(p, p + 4)) === 'MTrk' });
    p += 8 + len;
  }
  return out;
}

/** Offsets of the delta times of a track's events (stops at the first thing it cannot follow). */
function deltas(b: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  let p = start;
  let running = 0;
  const vlq = (): number => {
    let v = 0;
    for (let i = 0; i < 4 && p < end; i++) {
      const c = b[p++];
      v = v * 128 + (c & 0x7f);
      if (!(c & 0x80)) return v;
    }
    return -1;
  };
  while (p < end && out.length < 5000) {
    out.push(p);
    if (vlq() < 0 || p >= end) break;
    const s = b[p];
    if (s === 0xff || s === 0xf0 || s === 0xf7) {
      p += s === 0xff ? 2 : 1;
      const len = vlq();
      if (len < 0) break;
      p += len;
    } else {
      if (s & 0x80) ((running = s), p++);
      p += running >> 4 === 0xc || running >> 4 === 0xd ? 1 : 2;
    }
  }
  return out;
}

/** A VLQ of up to 4 bytes. */
function vlq(v: number): number[] {
  const out = [v & 0x7f];
  for (let x = v >>> 7; x > 0; x >>>= 7) out.unshift((x & 0x7f) | 0x80);
  return out;
}

/** Puts `insert` into track chunk `c` at `at` (replacing `remove` bytes); fixes the chunk length unless `keepLength`. */
function editTrack(
  b: Uint8Array,
  c: { at: number; len: number },
  at: number,
  remove: number,
  insert: number[],
  keepLength: boolean,
): Uint8Array {
  const out = splice(b, at, remove, insert);
  if (!keepLength) put32(out, c.at + 4, Math.max(0, c.len + insert.length - remove));
  return out;
}

/** Calls `edit` with a track chunk and an offset in its data (anywhere in the file when there is no whole track). */
function inTrack(b: Uint8Array, r: (n: number) => number, edit: (c: { at: number; len: number }, at: number) => Uint8Array): Uint8Array {
  const cs = chunks(b).filter((x) => x.track && x.len > 0 && x.at + 8 + x.len <= b.length);
  if (cs.length === 0) return b.length > 0 ? edit({ at: 0, len: b.length - 8 }, r(b.length)) : b;
  const c = cs[r(cs.length)];
  return edit(c, c.at + 8 + r(c.len));
}

type Mutation = (b: Uint8Array, r: (n: number) => number, other: Uint8Array) => Uint8Array;

const MUTATIONS: Record<string, Mutation> = {
  flip: (b, r) => (b.length > 0 && (b[r(b.length)] ^= 1 << r(8)), b),
  byte: (b, r) => (b.length > 0 && (b[r(b.length)] = [0, 0x7f, 0x80, 0xff, r(256)][r(5)]), b),
  insert: (b, r) =>
    inTrack(b, r, (c, at) =>
      editTrack(
        b,
        c,
        at,
        0,
        Array.from({ length: 1 + r(16) }, () => r(256)),
        r(2) === 0,
      ),
    ),
  cut: (b, r) => inTrack(b, r, (c, at) => editTrack(b, c, at, Math.min(1 + r(64), c.at + 8 + c.len - at), [], r(2) === 0)),
  event: (b, r) => {
    // A delta time or a data byte of one event changed, the structure kept.
    const c = chunks(b).filter((x) => x.track)[0];
    const ds = c ? deltas(b, c.at + 8, Math.min(b.length, c.at + 8 + c.len)) : [];
    if (!c || ds.length === 0) return b;
    let p = ds[r(ds.length)];
    if (r(2) === 0 && !(b[p] & 0x80)) return ((b[p] = r(128)), b);
    while (p < b.length && b[p] & 0x80) p++;
    p++;
    if (p < b.length && b[p] >= 0x80 && b[p] < 0xf0) p++;
    if (p < b.length && b[p] < 0x80) b[p] = r(128);
    return b;
  },
  truncate: (b, r) => b.subarray(0, r(b.length + 1)),
  chunkLength: (b, r) => {
    const cs = chunks(b);
    if (cs.length === 0) return b;
    const c = cs[r(cs.length)];
    put32(b, c.at + 4, [0, c.len - 1 - r(8), c.len + 1 + r(8), 0xffffffff, r(2 ** 31), c.len * 2][r(6)] >>> 0);
    return b;
  },
  hugeDelta: (b, r) => {
    const c = chunks(b).filter((x) => x.track)[0];
    const ds = c ? deltas(b, c.at + 8, Math.min(b.length, c.at + 8 + c.len)) : [];
    if (!c || ds.length === 0) return b;
    const at = ds[r(ds.length)];
    let old = 1;
    while (old < 4 && b[at + old - 1] & 0x80) old++;
    return editTrack(b, c, at, old, vlq([0x0fffffff, 0x00200000 + r(0x0fe00000), 1000 + r(100000)][r(3)]), r(4) === 0);
  },
  tempo: (b, r) => {
    const cs = chunks(b).filter((x) => x.track);
    if (cs.length === 0) return b;
    const c = cs[r(cs.length)];
    const us = [1, 0xffffff, 0, r(0x1000000)][r(4)];
    const ev = [...vlq(r(3) === 0 ? 0x0fffffff : r(1000)), 0xff, 0x51, 0x03, us >> 16, (us >> 8) & 0xff, us & 0xff];
    const many = r(4) === 0 ? 50 + r(400) : 1; // a tempo storm
    return editTrack(b, c, c.at + 8, 0, Array.from({ length: many }, () => ev).flat(), r(5) === 0);
  },
  ppq: (b, r) => (
    b.length >= 14 &&
      b.set(
        [
          [0, 1],
          [0x7f, 0xff],
          [0, 0],
          [0xe7, 0x28],
          [r(256), r(256)],
        ][r(5)],
        12,
      ),
    b
  ),
  tracks: (b, r) => {
    if (b.length < 12) return b;
    const n = (b[10] << 8) | b[11];
    const cs = chunks(b).filter((x) => x.track && x.at + 8 + x.len <= b.length);
    const c = cs.length > 0 ? cs[r(cs.length)] : undefined;
    const op = r(4);
    if (op === 0 || !c)
      return (
        b.set(
          [
            [0, 0],
            [0xff, 0xff],
            [(n + 1) >> 8, (n + 1) & 0xff],
            [(n - 1) >> 8, (n - 1) & 0xff],
          ][r(4)],
          10,
        ),
        b
      );
    const chunk = b.slice(c.at, c.at + 8 + c.len);
    if (op === 1) return splice(b, c.at, 8 + c.len); // a track chunk removed, the count left
    return splice(b, op === 2 ? c.at : b.length, 0, chunk); // a track chunk repeated (in place or at the end), the count left
  },
  splice: (b, r, other) => {
    const cs = chunks(other).filter((x) => x.track && x.at + 8 + x.len <= other.length);
    if (cs.length === 0) return b;
    const c = cs[r(cs.length)];
    const ends = chunks(b)
      .map((x) => x.at + 8 + x.len)
      .filter((e) => e <= b.length);
    // Between two chunks (the header's track count left as it was), or anywhere.
    const at = r(2) === 0 && ends.length > 0 ? ends[r(ends.length)] : r(b.length + 1);
    return splice(b, at, 0, other.subarray(c.at, c.at + 8 + c.len));
  },
};
const KINDS = Object.keys(MUTATIONS);

/** Mutant `i`: one or two mutations of a seed file, the same for the same seed and index. */
function mutant(seeds: readonly { name: string; bytes: Uint8Array }[], i: number): { from: string; kinds: string[]; bytes: Uint8Array } {
  const rng: Rng = createRng(deriveSeed(SEED, i));
  const r = (n: number): number => Math.floor(rng.next() * Math.max(0, n));
  const seed = seeds[r(seeds.length)];
  let b = Uint8Array.from(seed.bytes);
  const kinds: string[] = [];
  for (let k = 0, n = 1 + r(2); k < n; k++) {
    const kind = KINDS[r(KINDS.length)];
    kinds.push(kind);
    b = MUTATIONS[kind](b, r, seeds[r(seeds.length)].bytes);
  }
  return { from: seed.name, kinds, bytes: b };
}

// ---------------------------------------------------------------- the test

test(`${COUNT} mutated MIDI files: each loads or is skipped with a one-line reason, in bounded time and tokens`, (t) => {
  const seeds = seedFiles();
  const remiVocab = buildVocabulary([], REMI);
  const pretrained = loadVocabulary(path.join(FOLK_MODEL, 'vocab.json'));
  const heap0 = process.memoryUsage().heapUsed;
  const reasons = new Map<string, number>();
  let loaded = 0;
  let warned = 0;
  let worstMs = 0;
  let worstRatio = 0;
  let worst = '';
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const m = mutant(seeds, i);
    const where = `mutant ${i} (seed ${SEED}, ${m.from}, ${m.kinds.join('+')})`;
    const start = performance.now();
    let warnings = 0;
    let piece;
    try {
      piece = parseMidi(m.bytes, 'fuzz', { onWarning: () => warnings++ });
    } catch (e) {
      assert.ok(e instanceof MidiFileError, `${where} threw ${e instanceof Error ? e.stack : String(e)}`);
      assert.match(e.message, /^[\x20-\x7e\u2013]+$/, `${where}: one printable line`);
      const kind = e.message.split(/[:(]/)[0].replace(/\d+/g, 'N').trim();
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
      continue;
    }
    loaded++;
    if (warnings > 0) warned++;
    const notes = piece.notes.length;
    const changes = piece.tempos.length + piece.timeSignatures.length;
    assert.ok(notes > 0 && changes <= 4 * notes + 258, `${where}: ${notes} notes, ${changes} tempo/meter changes`);
    // remi: ≤ 5 tokens a note, ≤ 10 bars a gap (8 empty + 2) of 2 tokens each (| and its meter), 12 a tempo or meter change; timed: ≤ 2 a note, ≤ 8 shifts a gap.
    const remi = pieceToTokens(piece, REMI);
    const timed = pieceToTokens(piece, TIMED);
    assert.ok(remi.length <= 25 * notes + 12 * changes + 16, `${where}: remi ${remi.length} tokens for ${notes} notes, ${changes} changes`);
    assert.ok(timed.length <= 10 * notes, `${where}: timed ${timed.length} tokens for ${notes} notes`);
    assert.equal(encodePiece(remiVocab, piece).length, remi.length, `${where}: every remi token is in the fixed vocabulary`);
    assert.equal(encodePiece(buildVocabulary([piece], TIMED), piece).length, timed.length, where);
    assert.ok(primerFromPiece(piece, pretrained, 64).ids.length > 0, `${where}: a primer for the pretrained model`);
    const ms = performance.now() - start;
    const ratio = remi.length / notes;
    if (ms > worstMs) worstMs = ms;
    if (ratio > worstRatio) [worstRatio, worst] = [ratio, where];
    // Per file: a fixed cost and ~1 ms a note at most, even on a busy machine (typical: a few ms in all).
    assert.ok(ms < 2000 + notes, `${where}: ${ms.toFixed(0)} ms for ${notes} notes`);
  }
  const ms = performance.now() - t0;
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 1e6;
  t.diagnostic(
    `${COUNT} mutants of ${seeds.length} files in ${(ms / 1000).toFixed(1)} s: ${loaded} loaded (${warned} with warnings), ${COUNT - loaded} skipped`,
  );
  t.diagnostic(
    `slowest ${worstMs.toFixed(0)} ms; most remi tokens per note ${worstRatio.toFixed(1)} (${worst}); heap +${heapMB.toFixed(0)} MB`,
  );
  t.diagnostic(
    `skip reasons: ${[...reasons]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(' | ')}`,
  );
  assert.ok(loaded > COUNT / 10 && reasons.size >= 8, `loaded ${loaded}, reason kinds ${[...reasons.keys()].join(' | ')}`);
  assert.ok(heapMB < 500, `heap grew ${heapMB.toFixed(0)} MB`);
});

test('mutants as files: a folder of them loads, and inspects, with every file loaded or skipped with a reason', async (t) => {
  const seeds = seedFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midi-fuzz-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const n = Math.min(COUNT, 200);
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `m${String(i).padStart(4, '0')}.mid`), mutant(seeds, COUNT + i).bytes);
  const t0 = performance.now();
  const report = loadMidiFolder(dir);
  const ms = performance.now() - t0;
  t.diagnostic(
    `${n} files: ${report.pieces.length} loaded, ${report.skipped.length} skipped, ${report.warnings.length} warnings, ${ms.toFixed(0)} ms`,
  );
  assert.equal(report.files, n);
  assert.equal(report.pieces.length + report.skipped.length, n);
  for (const s of report.skipped) assert.match(s.reason, /^[\x20-\x7e\u2013]+$/, `${s.file}: ${s.reason}`);
  for (const w of report.warnings) assert.match(w.warning, /^[\x20-\x7e\u2013]+$/, `${w.file}: ${w.warning}`);
  assert.ok(ms < 30_000, `${ms} ms`);
  const r = await runCli(['inspect', dir, '--scheme', 'timed', '--json']);
  assertExit0(r);
  const j = lastJson(r);
  assert.deepEqual([j.files, j.loaded, j.skipped], [n, report.pieces.length, report.skipped]);
});

test('storms: 15 MB of sustain-pedal or tempo events, or 2 million empty track chunks, for one note, are refused at once', () => {
  const tracks = new Uint8Array(22 + 2e6 * 8);
  tracks.set([0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 1, 0, 1, 0, 96, 0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, 8, 0, 0x90, 60, 100, 1, 0x90, 60, 0]);
  for (let p = 30; p < tracks.length; p += 8) tracks.set([0x4d, 0x54, 0x72, 0x6b], p);
  const t0 = performance.now();
  assert.throws(() => parseMidi(tracks.subarray(0, tracks.length - 8), 'tracks'), /^MidiFileError: corrupt: more than 65535 track chunks$/);
  assert.ok(performance.now() - t0 < 3000, `tracks: ${performance.now() - t0} ms`);
  for (const [name, event] of [
    ['pedal', [0x01, 0xb0, 64, 127]],
    ['tempo', [0x01, 0xff, 0x51, 0x03, 0x07, 0xa1, 0x20]],
  ] as const) {
    const head = [0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, 0];
    const note = [0x00, 0x90, 60, 100, 0x00, 0x90, 60, 0];
    const count = Math.floor(15e6 / event.length);
    const bytes = new Uint8Array(head.length + note.length + count * event.length);
    bytes.set(head);
    bytes.set(note, head.length);
    for (let i = 0, p = head.length + note.length; i < count; i++, p += event.length) bytes.set(event, p);
    put32(bytes, 18, bytes.length - head.length);
    const t0 = performance.now();
    assert.throws(
      () => parseMidi(bytes, name),
      (e: Error) => e instanceof MidiFileError && /^too many tempo, time-signature and sustain-pedal events/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 2000, `${name}: ${performance.now() - t0} ms`);
  }
});
