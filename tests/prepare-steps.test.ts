/**
 * `musicgen prepare --family note` (lib/data/prepare-steps.ts): beside each token shard, a step shard holds
 * the steps lib/tokens/steps.ts toSteps cuts each piece into (the group codes, lengths, look-back and
 * flags), with the options and ids recorded in the manifest and checked field by field when it is read;
 * a folder prepared again without steps loses its step shards; bad input is one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DATA_DIR, assertExit0, lastJson, oneLineError, runCli } from './helpers';
import { openPrepared } from '../lib/data/prepared-data';
import { STEP_RECORD_BYTES } from '../lib/data/prepare-steps';
import { readManifest } from '../lib/data/shard-format';
import { LOOKBACK_FLAGS, LOOKBACK_SLOTS, STEP_SLOTS, toSteps, type StepOptions } from '../lib/tokens/steps';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-prepare-steps-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Checks every piece's step records against toSteps of its ids; returns the copy ids seen. */
function checkSteps(dir: string, options: StepOptions): number {
  const prep = openPrepared(dir);
  let copies = 0;
  try {
    const m = prep.manifest;
    assert.ok(m.steps, 'the manifest has steps');
    assert.deepEqual({ lookback: m.steps.lookback, copy: m.steps.copy }, options);
    const V = m.vocabSize;
    assert.equal(m.steps.codeSize, V + (options.copy ? 2 : 0));
    assert.equal(m.steps.start, m.steps.pad + 1);
    const shards = m.steps.shards.map((s) => fs.readFileSync(path.join(dir, s.file)));
    m.pieces.forEach((p, i) => {
      const want = toSteps(prep.vocab, prep.reader.pieceIds(i), options);
      assert.equal(p.steps?.count, want.count, p.name);
      const at = (p.steps?.offset ?? 0) * STEP_RECORD_BYTES;
      const buf = shards[p.shard];
      for (let s = 0; s < want.count; s++) {
        const r = at + s * STEP_RECORD_BYTES;
        for (let j = 0; j < STEP_SLOTS; j++)
          assert.equal(buf.readUInt16LE(r + 2 * j), want.groups[s * STEP_SLOTS + j], `${p.name} step ${s}`);
        for (let j = 0; j < LOOKBACK_SLOTS; j++) assert.equal(buf.readUInt16LE(r + 16 + 2 * j), want.lookback[s * LOOKBACK_SLOTS + j]);
        assert.equal(buf.readUInt8(r + 28), want.lengths[s]);
        for (let j = 0; j < LOOKBACK_FLAGS; j++) assert.equal(buf.readUInt8(r + 29 + j), want.flags[s * LOOKBACK_FLAGS + j]);
        if (want.groups[s * STEP_SLOTS] >= V && want.groups[s * STEP_SLOTS] < V + 2) copies++;
      }
    });
  } finally {
    prep.reader.close();
  }
  return copies;
}

test("prepare --family note writes each piece's steps as toSteps cuts them (copy ids and the look-back), and --no-copy without", async () => {
  const out = path.join(tmp, 'note');
  const r = await runCli(['prepare', '--data', DATA_DIR, '--out', out, '--family', 'note', '--threads', '1', '--json']);
  assertExit0(r);
  assert.ok((lastJson(r).steps as number) > 10_000);
  assert.ok(checkSteps(out, { lookback: true, copy: true }) > 100, 'folk tunes repeat bars: many copies');
  // The same folder again without copy ids: only the merge runs again, and the steps change with it.
  assertExit0(await runCli(['prepare', '--data', DATA_DIR, '--out', out, '--family', 'note', '--no-copy', '--threads', '1']));
  assert.equal(checkSteps(out, { lookback: true, copy: false }), 0);
  // And without steps: the step shards go, the manifest has none, and the token shards are as before.
  assertExit0(await runCli(['prepare', '--data', DATA_DIR, '--out', out, '--threads', '1']));
  assert.equal(readManifest(out).steps, undefined);
  assert.deepEqual(
    fs.readdirSync(out).filter((f) => f.startsWith('steps-')),
    [],
  );
});

test("the manifest's steps are checked field by field, and the step shards' sizes; bad flags are one line", async () => {
  const out = path.join(tmp, 'checked');
  assertExit0(await runCli(['prepare', '--data', DATA_DIR, '--out', out, '--family', 'note', '--threads', '1']));
  const file = path.join(out, 'manifest.json');
  const saved = fs.readFileSync(file, 'utf8');
  /** The manifest's fields these edits touch. */
  type Editable = { steps: { copy: unknown; codeSize: unknown; shards: { steps: number }[] }; pieces: { steps: { count: unknown } }[] };
  const broken: [(m: Editable) => void, RegExp][] = [
    [(m) => (m.steps.copy = 'yes'), /manifest\.json: steps\.copy must be true or false \(got "yes"\)/],
    [(m) => (m.steps.codeSize = 12), /manifest\.json: steps\.codeSize must be an integer in \[507, 507\]/],
    [(m) => (m.pieces[3].steps.count = 1e9), /manifest\.json: pieces\[3\]\.steps\.offset \+ steps\.count must be within step shard 0/],
    [(m) => (m.steps.shards[0].steps += 1), /steps-0000\.bin: \d+ bytes, but manifest\.json gives \d+ steps/],
  ];
  try {
    for (const [edit, message] of broken) {
      const m = JSON.parse(saved) as Editable;
      edit(m);
      fs.writeFileSync(file, JSON.stringify(m));
      assert.throws(() => readManifest(out), message);
    }
  } finally {
    fs.writeFileSync(file, saved);
  }
  oneLineError(
    await runCli(['prepare', '--data', DATA_DIR, '--out', path.join(tmp, 'x'), '--family', 'note', '--scheme', 'timed']),
    /--family note: steps need the remi scheme/,
  );
  oneLineError(await runCli(['prepare', '--data', DATA_DIR, '--out', path.join(tmp, 'x'), '--no-copy']), /--no-copy needs --family note/);
  oneLineError(
    await runCli(['prepare', '--data', DATA_DIR, '--out', path.join(tmp, 'x'), '--family', 'notes']),
    /--family must be "token" or "note"/,
  );
});
