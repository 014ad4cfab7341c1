import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { UserError } from '../lib/core/errors';
import { loadMidiFolder } from '../lib/midi/read';
import {
  DATASETS,
  downloadBytes,
  downloadDataset,
  extractMidiFromZip,
  safeRelativePath,
  selectNottingham,
} from '../scripts/download-dataset';
import { NOTTINGHAM, needNottingham } from './helpers';

const SAMPLES = ['jigs10.mid', 'reelsa-c10.mid', 'waltzes5.mid'];

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-download-'));
}

function sample(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(NOTTINGHAM, name)));
}

test('extracts only MIDI entries, byte for byte, keeping nested folders', { skip: needNottingham }, () => {
  const [a, b, c] = SAMPLES.map(sample);
  const zip = zipSync({
    'jigs10.mid': a,
    'more/deeper/reelsa-c10.mid': b,
    'more/WALTZ.MIDI': c,
    'README.txt': new TextEncoder().encode('not music'),
    'more/notes.abc': new TextEncoder().encode('X:1\nT:x\nK:C\nC|'),
    'fake.mid': new TextEncoder().encode('this is text, not MIDI'),
    '__MACOSX/more/._WALTZ.MIDI': new Uint8Array([0, 5, 22, 7]),
  });
  const out = tempDir();
  try {
    const report = extractMidiFromZip(zip, out);
    assert.deepEqual([...report.written].sort(), ['jigs10.mid', 'more/WALTZ.MIDI', 'more/deeper/reelsa-c10.mid']);
    assert.deepEqual(fs.readFileSync(path.join(out, 'jigs10.mid')), Buffer.from(a));
    assert.deepEqual(fs.readFileSync(path.join(out, 'more', 'deeper', 'reelsa-c10.mid')), Buffer.from(b));
    assert.deepEqual(fs.readFileSync(path.join(out, 'more', 'WALTZ.MIDI')), Buffer.from(c));
    assert.ok(!fs.existsSync(path.join(out, 'README.txt')), 'the non-MIDI entry is ignored');
    assert.ok(!fs.existsSync(path.join(out, 'more', 'notes.abc')));
    assert.ok(!fs.existsSync(path.join(out, 'fake.mid')), 'a .mid entry without a MIDI header is skipped');
    assert.ok(!fs.existsSync(path.join(out, '__MACOSX')));
    assert.equal(report.ignored, 2);
    const reasons = new Map(report.skipped.map((s) => [s.entry, s.reason]));
    assert.match(reasons.get('fake.mid') ?? '', /no MThd header/);
    assert.match(reasons.get('__MACOSX/more/._WALTZ.MIDI') ?? '', /macOS|hidden/);
    // No temporary files are left behind by the atomic writes, and the folder loads as MIDI.
    const load = loadMidiFolder(out);
    assert.equal(load.pieces.length, 3);
    assert.deepEqual(load.skipped, []);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a zip-slip entry cannot write outside the output folder', () => {
  const midi = minimalMidi();
  const zip = zipSync({ '../evil.mid': midi, 'a/../../evil2.mid': midi, '/abs/evil3.mid': midi, 'ok.mid': midi });
  const parent = tempDir();
  const out = path.join(parent, 'out');
  try {
    const report = extractMidiFromZip(zip, out);
    assert.deepEqual(report.written, ['ok.mid']);
    assert.equal(report.skipped.length, 3);
    for (const s of report.skipped) assert.match(s.reason, /unsafe path/);
    assert.deepEqual(fs.readdirSync(parent), ['out']);
    assert.deepEqual(fs.readdirSync(out), ['ok.mid']);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
  assert.equal(safeRelativePath('a/./b//c.mid'), 'a/b/c.mid');
  assert.equal(safeRelativePath('a\\..\\..\\x.mid'), undefined);
  assert.equal(safeRelativePath('C:/x.mid'), undefined);
});

test('the Nottingham selection keeps MIDI/*.mid only, flattened', () => {
  assert.equal(selectNottingham('nottingham-dataset-master/MIDI/jigs10.mid'), 'jigs10.mid');
  assert.equal(selectNottingham('nottingham-dataset-master/MIDI/melody/jigs10.mid'), undefined);
  assert.equal(selectNottingham('nottingham-dataset-master/MIDI/chords/jigs10.mid'), undefined);
  assert.equal(selectNottingham('nottingham-dataset-master/ABC_cleaned/jigs.abc'), undefined);
  assert.equal(selectNottingham('nottingham-dataset-master/MIDI/'), undefined);
  assert.equal(DATASETS.nottingham.select, selectNottingham);
  assert.match(DATASETS.nottingham.url, /^https:\/\/github\.com\/jukedeck\/nottingham-dataset\//);
});

test('a file that is not a zip gives a clear error', () => {
  const out = tempDir();
  try {
    assert.throws(
      () => extractMidiFromZip(new TextEncoder().encode('<html>not found</html>'), out),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /^not a readable zip archive/);
        return true;
      },
    );
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('offline: a one-line error that says so', async () => {
  const offline = (async () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND github.com'), { code: 'ENOTFOUND' }) });
  }) as unknown as typeof fetch;
  await assert.rejects(downloadBytes('https://github.com/x.zip', { fetchImpl: offline }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.message, 'cannot download https://github.com/x.zip: host not found (ENOTFOUND) — are you offline? (or pass --zip FILE)');
    return true;
  });
});

test('downloads a dataset zip over HTTP and extracts it (local server)', async () => {
  const midi = minimalMidi();
  const zip = zipSync({
    'nottingham-dataset-master/MIDI/one.mid': midi,
    'nottingham-dataset-master/MIDI/melody/one.mid': midi,
    'nottingham-dataset-master/README.md': new TextEncoder().encode('# readme'),
  });
  const server = http.createServer((req, res) => {
    if (req.url === '/dataset.zip') {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip.length });
      res.end(Buffer.from(zip));
    } else {
      res.writeHead(404, 'Not Found');
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const out = tempDir();
  try {
    const report = await downloadDataset(DATASETS.nottingham, out, { url: `http://127.0.0.1:${port}/dataset.zip` });
    assert.deepEqual(report.written, ['one.mid']);
    assert.equal(report.ignored, 2);
    assert.deepEqual(fs.readFileSync(path.join(out, 'one.mid')), Buffer.from(midi));
    await assert.rejects(downloadBytes(`http://127.0.0.1:${port}/missing.zip`), /HTTP 404 Not Found$/);
  } finally {
    server.close();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

/** The smallest valid single-track MIDI file with one note (hand-assembled). */
function minimalMidi(): Uint8Array {
  const track = [0x00, 0x90, 60, 100, 0x83, 0x60, 0x80, 60, 0, 0x00, 0xff, 0x2f, 0x00];
  return new Uint8Array([
    ...[0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0],
    ...[0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, track.length],
    ...track,
  ]);
}
