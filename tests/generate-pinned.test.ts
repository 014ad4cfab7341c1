/**
 * Generated files are pinned: the same seed and settings give the same bytes
 * they gave when these hashes were recorded (main 5b1d3c7, before the module
 * layout changed), through the CLI as a user runs it. A change that alters
 * what the shipped models compute, how they sample or how the piece is
 * written fails here; one that means to must say so and record new hashes.
 * Since a remi piece keeps its meter and band (lib/generate/keep.ts), two
 * hashes are newer: a piece from nothing now opens with the model's own
 * meter, and a continuation keeps its excerpt's; with --meter-changes and
 * --new-instruments the excerpt's continuation is byte for byte the old one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA_DIR, ROOT, assertExit0, runCli } from './helpers';

const PIANO = path.join(ROOT, 'models', 'piano');
const FOLK = path.join(ROOT, 'models', 'folk');

/** Settings and the sha256 of the MIDI file they wrote. */
const PINNED: readonly { readonly name: string; readonly args: readonly string[]; readonly sha256: string }[] = [
  {
    name: 'piano from nothing, opening with its own meter and keeping it',
    args: ['--model', PIANO, '--seed', '5', '--length', '60'],
    sha256: 'c3f7bc21d32aa9e283f86b311d0fa240e1eaf7f042e0ccff4a778a15ddb92d39',
  },
  {
    name: 'piano under every control, top-k, top-p, temperature and context',
    args: [
      '--model',
      PIANO,
      '--seed',
      '6',
      '--length',
      '60',
      '--time-signature',
      '3/4',
      '--bpm',
      '90',
      '--programs',
      '0,40',
      '--dynamics',
      'mf',
      '--context',
      '64',
      '--top-p',
      '0.9',
      '--top-k',
      '20',
      '--temperature',
      '0.9',
    ],
    sha256: '326dfa05ecb5ac56462f69a8e921c54a581b2a1167c9512ec23998b8bbac155e',
  },
  {
    name: 'piano continuing a transposed primer file',
    args: ['--model', PIANO, '--seed', '9', '--length', '40', '--transpose=-2', '--primer', path.join(DATA_DIR, 'fur-elise.mid')],
    sha256: 'fd3228beded187888abc48d0d38426d088a726444659d68ea42525c2d460c3a5',
  },
  {
    name: 'piano continuing an excerpt of the data, keeping its meter and band',
    args: ['--model', PIANO, '--seed', '10', '--length', '30', '--data', DATA_DIR, '--primer-length', '40'],
    sha256: 'a44ae98a505d124b5b42a9e7f236219c8e1a4c2582b4316d2bd093ff016118d4',
  },
  {
    name: 'piano continuing an excerpt of the data, free to change meter and instruments (as before keeping)',
    args: [
      '--model',
      PIANO,
      '--seed',
      '10',
      '--length',
      '30',
      '--data',
      DATA_DIR,
      '--primer-length',
      '40',
      '--meter-changes',
      '--new-instruments',
    ],
    sha256: 'fdd01de0a564676e04ed2ec0b95b1f776a86f1e1f4ac5534d3877ac883921300',
  },
  {
    name: 'folk from an excerpt of data/',
    args: ['--model', FOLK, '--seed', '7', '--length', '50', '--data', DATA_DIR],
    sha256: 'dfa72b5ce2561775572ee68acfde74df85c3bf7c7ec808d6d84e48ac838e584d',
  },
  {
    name: 'folk by its former name, as old commands give it',
    args: ['--model', 'pretrained', '--seed', '7', '--length', '50', '--data', DATA_DIR],
    sha256: 'dfa72b5ce2561775572ee68acfde74df85c3bf7c7ec808d6d84e48ac838e584d',
  },
  {
    name: 'folk continuing a transposed primer file',
    args: [
      '--model',
      FOLK,
      '--seed',
      '8',
      '--length',
      '50',
      '--transpose',
      '3',
      '--primer',
      path.join(DATA_DIR, 'greensleeves.mid'),
      '--primer-length',
      '20',
    ],
    sha256: '1873636b4bbb758b1c1c3ad47a5c5e8f456c7701665ff8930f82362321722eac',
  },
];

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-pinned-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

for (const [i, p] of PINNED.entries()) {
  test(`generate writes the pinned bytes: ${p.name}`, async () => {
    const out = path.join(tmp, `${i}.mid`);
    const r = await runCli(['generate', ...p.args, '--out', out]);
    assertExit0(r);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(out)).digest('hex');
    assert.equal(sha, p.sha256, `${p.name}: the generated file changed`);
  });
}
