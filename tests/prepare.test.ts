/**
 * Prepared corpora (musicgen prepare, lib/data/prepare-corpus.ts): the ids
 * in the shards are those the in-memory path encodes, split alike; numpy
 * reads the shards with memmap; a stopped preparation goes on without redoing
 * finished files; a bad file is listed with its reason; a broken manifest is
 * one line naming the field; the cache of a MIDI folder is reused, and prepared
 * again after a touch or a change; streamed batches equal the
 * in-memory ones; and training from a prepared folder gives the losses of
 * training from the MIDI folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DATA_DIR, MIDI_FIXTURES, assertExit0, lastJson, oneLineError, runCli, startCli } from './helpers';
import { loadCorpus } from '../lib/midi/corpus';
import { prepareData } from '../lib/data/prepare';
import { prepareCorpus } from '../lib/data/prepare-corpus';
import { openPrepared, piecesInMemory } from '../lib/data/prepared-data';
import { isPreparedFolder, readManifest } from '../lib/data/shard-format';
import { pitchedIds, streamPieces } from '../lib/data/stream-windows';
import { splitByFile } from '../lib/data/dataset';
import { makeTransposer } from '../lib/data/transpose';
import { defaultTokenizerConfig } from '../lib/tokens/config';
import { buildVocabulary } from '../lib/tokens/vocabulary';
import { DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { runBatches } from '../lib/train/batching';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-prepare-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const DATASET = { seqLen: 32, stride: 16, valFraction: 0.1, seed: 1234 };
const split = { valFraction: DATASET.valFraction, seed: DATASET.seed };

for (const scheme of ['remi', 'timed'] as const) {
  test(`prepare data/ (${scheme}): every piece's ids, the split and the vocabulary are the in-memory path's`, async () => {
    const out = path.join(tmp, `data-${scheme}`);
    const r = await runCli(['prepare', '--data', DATA_DIR, '--out', out, '--scheme', scheme, '--threads', '2', '--json']);
    assertExit0(r);
    assert.equal(lastJson(r).pieces, 47);
    const tokenizer = defaultTokenizerConfig(scheme);
    const corpus = loadCorpus([DATA_DIR]);
    const mem = prepareData(corpus.pieces, tokenizer, DATASET);
    const prep = openPrepared(out);
    try {
      assert.deepEqual(prep.vocab.keys, mem.vocab.keys);
      assert.deepEqual(prep.vocab.counts, buildVocabulary(corpus.pieces, tokenizer).counts);
      const m = prep.manifest;
      assert.equal(m.dtype, 'uint16');
      assert.deepEqual(
        m.pieces.map((p) => p.name),
        corpus.pieces.map((p) => p.name),
      );
      const byName = new Map([...mem.train, ...mem.val].map((p) => [p.name, p]));
      m.pieces.forEach((p, i) => {
        assert.deepEqual(prep.reader.pieceIds(i), byName.get(p.name)?.ids, p.name);
        assert.equal(p.split, mem.val.some((v) => v.name === p.name) ? 'val' : 'train', p.name);
        assert.equal(p.notes, corpus.pieces[i].notes.length);
      });
      assert.equal(m.pieces.filter((p) => p.split === 'val').length, mem.val.length);
    } finally {
      prep.reader.close();
    }
  });
}

test('numpy.memmap reads the shards: per-piece lengths and id sums are the TypeScript side', async () => {
  const out = path.join(tmp, 'numpy');
  await prepareCorpus({ folders: [DATA_DIR], out, midi: {}, tokenizer: defaultTokenizerConfig('remi'), split, threads: 1 });
  const py = [
    'import json, sys, numpy as np',
    'd = sys.argv[1]; m = json.load(open(d + "/manifest.json"))',
    'dt = {"uint16": "<u2", "int32": "<i4"}[m["dtype"]]',
    'sh = [np.memmap(d + "/" + s["file"], dtype=dt, mode="r") for s in m["shards"]]',
    'for p in m["pieces"]:',
    '    a = sh[p["shard"]][p["offset"]:p["offset"] + p["length"]]',
    '    print(len(a), int(a.astype(np.int64).sum()), int(a[0]), int(a[-1]))',
  ].join('\n');
  const lines = execFileSync('python3', ['-c', py, out], { encoding: 'utf8' }).trim().split('\n');
  const prep = openPrepared(out);
  try {
    const want = prep.manifest.pieces.map((_, i) => {
      const ids = prep.reader.pieceIds(i);
      return `${ids.length} ${ids.reduce((s, x) => s + x, 0)} ${ids[0]} ${ids[ids.length - 1]}`;
    });
    assert.deepEqual(lines, want);
    assert.equal(lines.length, 47);
  } finally {
    prep.reader.close();
  }
});

test('a stopped preparation goes on where it was: finished files are not tokenized again, and the shards are the same', async () => {
  const whole = path.join(tmp, 'whole');
  const parted = path.join(tmp, 'parted');
  const tokenizer = defaultTokenizerConfig('remi');
  await prepareCorpus({ folders: [DATA_DIR], out: whole, midi: {}, tokenizer, split, threads: 1 });
  const stop = new AbortController();
  const first = await prepareCorpus({
    folders: [DATA_DIR],
    out: parted,
    midi: {},
    tokenizer,
    split,
    threads: 1,
    signal: stop.signal,
    onProgress: (done) => done > 0 && stop.abort(),
  });
  assert.equal(first.stopped, true);
  assert.equal(first.manifest, null);
  assert.equal(fs.existsSync(path.join(parted, 'manifest.json')), false, 'no manifest before the end');
  const second = await prepareCorpus({ folders: [DATA_DIR], out: parted, midi: {}, tokenizer, split, threads: 2 });
  assert.equal(second.reusedFiles, 16, 'the first chunk of 16 files is kept');
  assert.ok(second.notes > 0 && second.notes < 9512, `tokenized ${second.notes} notes again`);
  assert.deepEqual(fs.readFileSync(path.join(parted, 'shard-0000.bin')), fs.readFileSync(path.join(whole, 'shard-0000.bin')));
  assert.deepEqual(readManifest(parted).pieces, readManifest(whole).pieces);
  const third = await prepareCorpus({ folders: [DATA_DIR], out: parted, midi: {}, tokenizer, split, threads: 2 });
  assert.equal(third.reusedFiles, 47);
  assert.equal(third.notes, 0);
  // Other settings into the same folder: nothing is kept, the folder is the timed preparation.
  const timed = await prepareCorpus({
    folders: [DATA_DIR],
    out: parted,
    midi: {},
    tokenizer: defaultTokenizerConfig('timed'),
    split,
    threads: 2,
  });
  assert.equal(timed.reusedFiles, 0);
  assert.equal(timed.notes, 9512);
  assert.equal(readManifest(parted).vocabSize, 99);
  assert.equal(readManifest(parted).tokenizer.scheme, 'timed');
});

test('every file that cannot be used is listed with the reason a MIDI load gives; the rest are prepared', async () => {
  const out = path.join(tmp, 'fixtures');
  const r = await runCli(['prepare', '--data', MIDI_FIXTURES, '--out', out, '--json']);
  assertExit0(r);
  const corpus = loadCorpus([MIDI_FIXTURES]);
  const m = readManifest(out);
  const reasons = (list: readonly { path?: string; file?: string; reason: string }[]): string[] =>
    list.map((f) => `${f.path ?? f.file}: ${f.reason}`).sort();
  assert.deepEqual(reasons(m.failed), reasons(corpus.skipped));
  assert.ok(m.failed.length >= 10, `${m.failed.length} failed`);
  assert.equal(m.pieces.length, corpus.pieces.length);
  for (const f of m.failed) assert.ok(r.stderr.includes(`skipped ${f.path}: ${f.reason}`), f.path);
});

test('a manifest with a wrong field is one line naming the file and the field', async () => {
  const out = path.join(tmp, 'broken');
  await prepareCorpus({ folders: [DATA_DIR], out, midi: {}, tokenizer: defaultTokenizerConfig('remi'), split, threads: 1 });
  const file = path.join(out, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { pieces: { length: unknown }[]; dtype: string };
  m.pieces[3].length = 'many';
  fs.writeFileSync(file, JSON.stringify(m));
  const r = await runCli(['train', '--data', out, '--out', path.join(tmp, 'never'), '--epochs', '1']);
  oneLineError(r, /manifest\.json: pieces\[3\]\.length must be a number \(got "many"\)/);
  m.pieces[3].length = 1e9;
  fs.writeFileSync(file, JSON.stringify(m));
  oneLineError(
    await runCli(['train', '--data', out, '--out', path.join(tmp, 'never')]),
    /manifest\.json: pieces\[3\]\.offset \+ length must be within shard 0 \(36978 tokens; got \d+ \+ 1000000000\)/,
  );
  assert.equal(isPreparedFolder(out), true);
  const other = path.join(tmp, 'other-manifest');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'manifest.json'), JSON.stringify({ name: 'a MIDI folder with a manifest of its own' }));
  assert.equal(isPreparedFolder(other), false, 'a manifest.json of something else is not a prepared folder');
  fs.writeFileSync(file, JSON.stringify({ ...m, pieces: [], dtype: 'int32' }));
  oneLineError(
    await runCli(['train', '--data', out, '--out', path.join(tmp, 'never')]),
    /manifest\.json: dtype must be "uint16" for 505 tokens/,
  );
});

test('streamed batches (shuffled, transposed) and validation batches are the in-memory ones, number for number', async () => {
  const out = path.join(tmp, 'streamed');
  await prepareCorpus({ folders: [DATA_DIR], out, midi: {}, tokenizer: defaultTokenizerConfig('remi'), split, threads: 1 });
  const prep = openPrepared(out);
  try {
    const all = piecesInMemory(
      prep,
      prep.manifest.pieces.map((_, i) => i),
      prep.manifest.pieces.map((p) => p.name),
    );
    const { train, val } = splitByFile(all, 0.1, 1234);
    const config = { ...DEFAULT_MODEL_CONFIG, vocabSize: prep.vocab.tokens.length };
    const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: 8, maxValWindows: 20, seed: 5 };
    const tr = makeTransposer(prep.vocab, 4);
    const streamed = {
      train: streamPieces(
        prep.reader,
        train.map((p) => all.indexOf(p)),
      ),
      val: streamPieces(
        prep.reader,
        val.map((p) => all.indexOf(p)),
      ),
      pitched: pitchedIds(prep.vocab),
    };
    const a = runBatches({ config, vocab: prep.vocab, train, val, dataset: DATASET }, cfg, tr);
    const b = runBatches({ config, vocab: prep.vocab, train: [], val: [], dataset: DATASET, streamed }, cfg, tr);
    assert.equal(b.perEpoch, a.perEpoch);
    assert.equal(b.valWindows, 20);
    const rows = (it: Iterable<{ batch: unknown }>): string[] =>
      [...it].map(({ batch }) => {
        const x = batch as { inputs: Int32Array; targets: Int32Array };
        return `${x.inputs.join()}|${x.targets.join()}`;
      });
    for (const epoch of [0, 3]) {
      const want = rows(a.train(epoch));
      assert.ok(want.length > 100);
      assert.deepEqual(rows(b.train(epoch)), want);
    }
    assert.notDeepEqual(rows(b.train(0)), rows(b.train(1)));
    // Batches passed over (as a resumed run does) are never read; one used later, out of order, is still right.
    const lazy = [...b.train(3)];
    const want = rows(a.train(3));
    assert.deepEqual(rows([lazy[lazy.length - 1]]), want.slice(-1));
    assert.deepEqual(rows([lazy[2]]), want.slice(2, 3));
    assert.deepEqual(rows(b.val()), rows(a.val()));
  } finally {
    prep.reader.close();
  }
});

/** A copy of a few of data/'s files, to change. */
function smallCorpus(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const f of fs
    .readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.mid'))
    .slice(0, 12))
    fs.copyFileSync(path.join(DATA_DIR, f), path.join(dir, f));
  return dir;
}

const TINY = ['--epochs', '2', '--units', '16', '--embedding', '8', '--batch-size', '8', '--seq-len', '32', '--threads', '1', '--json'];

test('training from a prepared folder gives the losses of training from the MIDI folder, and evaluate the same scores', async () => {
  const dir = smallCorpus('same-losses');
  const prepared = path.join(tmp, 'same-losses-prepared');
  assertExit0(await runCli(['prepare', '--data', dir, '--out', prepared]));
  const saved = process.env.MUSICGEN_CACHE;
  process.env.MUSICGEN_CACHE = 'off';
  try {
    const midi = await runCli(['train', '--data', dir, '--out', path.join(tmp, 'm-midi'), ...TINY]);
    assertExit0(midi);
    assert.doesNotMatch(midi.stderr, /streaming/);
    const shards = await runCli(['train', '--data', prepared, '--out', path.join(tmp, 'm-shards'), ...TINY]);
    assertExit0(shards);
    assert.match(shards.stderr, /streaming the training windows from/);
    const a = lastJson(midi);
    const b = lastJson(shards);
    assert.equal(b.trainLoss, a.trainLoss);
    assert.equal(b.valLoss, a.valLoss);
    const history = (m: string): unknown =>
      (JSON.parse(fs.readFileSync(path.join(tmp, m, 'history.json'), 'utf8')) as { trainLoss: number; valLoss: number }[]).map((e) => [
        e.trainLoss,
        e.valLoss,
      ]);
    assert.deepEqual(history('m-shards'), history('m-midi'));
    assert.ok(Number.isFinite(a.valLoss as number));
    // evaluate scores the same validation files from either.
    const model = path.join(tmp, 'm-midi');
    const fromMidi = await runCli(['evaluate', '--model', model, '--train-data', dir, '--samples', '0', '--json']);
    const fromShards = await runCli(['evaluate', '--model', model, '--train-data', prepared, '--samples', '0', '--json']);
    assertExit0(fromShards);
    const score = (r: Awaited<ReturnType<typeof runCli>>): unknown => {
      const { files, tokens, nll, baselineNll, baselineTrainFiles } = lastJson(r);
      assert.ok(typeof nll === 'number' && (files as number) > 0, JSON.stringify(lastJson(r)));
      return [files, tokens, nll, baselineNll, baselineTrainFiles];
    };
    assert.deepEqual(score(fromShards), score(fromMidi));
  } finally {
    if (saved === undefined) delete process.env.MUSICGEN_CACHE;
    else process.env.MUSICGEN_CACHE = saved;
  }
});

test('a MIDI folder is prepared into the cache once, reused, and prepared again after a touch or a change', async () => {
  const dir = smallCorpus('cached');
  const saved = process.env.MUSICGEN_CACHE;
  process.env.MUSICGEN_CACHE = path.join(tmp, 'cache');
  const run = (out: string): ReturnType<typeof runCli> =>
    runCli(['train', '--data', dir, '--out', path.join(tmp, out), '--epochs', '1', ...TINY.slice(2)]);
  try {
    const first = await run('c1');
    assertExit0(first);
    assert.match(first.stderr, /prepared .*cached into the cache .*; later runs with the same settings reuse it/);
    const second = await run('c2');
    assertExit0(second);
    assert.match(second.stderr, /using .*cached as prepared before with the same settings/);
    assert.doesNotMatch(second.stderr, /prepared .* into the cache/);
    assert.equal(lastJson(second).valLoss, lastJson(first).valLoss);
    const file = path.join(dir, fs.readdirSync(dir).sort()[4]);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(file, later, later);
    const touched = await run('c3');
    assertExit0(touched);
    assert.match(touched.stderr, new RegExp(`changed since it was prepared \\(${path.basename(file).replace('.', '\\.')}\\)`));
    assert.match(touched.stderr, /prepared .* into the cache/);
    assert.equal(lastJson(touched).valLoss, lastJson(first).valLoss, 'the same contents give the same run');
    assert.match((await run('c4')).stderr, /using .*cached as prepared before/, 'then it is reused again');
    fs.copyFileSync(path.join(DATA_DIR, fs.readdirSync(DATA_DIR).filter((f) => f.endsWith('.mid'))[20]), file);
    const changed = await run('c5');
    assertExit0(changed);
    assert.match(changed.stderr, new RegExp(`changed since it was prepared \\(${path.basename(file).replace('.', '\\.')}\\)`));
    assert.match(changed.stderr, /prepared .* into the cache/);
    assert.notEqual(lastJson(changed).valLoss, lastJson(first).valLoss);
  } finally {
    if (saved === undefined) delete process.env.MUSICGEN_CACHE;
    else process.env.MUSICGEN_CACHE = saved;
  }
});

test('Ctrl-C stops prepare at once with what is done kept (exit 130, no manifest, nothing half-written); the same command goes on', async () => {
  const many = path.join(tmp, 'many');
  const tunes = fs.readdirSync(DATA_DIR).filter((f) => f.endsWith('.mid'));
  for (let copy = 0; copy < 80; copy++) {
    fs.mkdirSync(path.join(many, `c${copy}`), { recursive: true });
    for (const f of tunes) fs.copyFileSync(path.join(DATA_DIR, f), path.join(many, `c${copy}`, f));
  }
  const out = path.join(tmp, 'many-prepared');
  const run = startCli(['prepare', '--data', many, '--out', out, '--threads', '2'], 240_000);
  const parts = path.join(out, '.parts');
  const started = Date.now();
  while (
    !(fs.existsSync(parts) && fs.readdirSync(parts).some((f) => f.endsWith('.json') && f.startsWith('part-'))) &&
    Date.now() - started < 120_000
  )
    await new Promise((res) => setTimeout(res, 50));
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  const kept = /interrupted: (\d+) of 3760 files prepared in .*many-prepared are kept; the same command goes on from there/.exec(r.stderr);
  assert.ok(kept, r.stderr);
  assert.ok(Number(kept[1]) >= 16 && Number(kept[1]) < 3760, kept[0]);
  assert.equal(fs.existsSync(path.join(out, 'manifest.json')), false);
  assert.deepEqual(
    fs.readdirSync(parts).filter((f) => f.endsWith('.tmp')),
    [],
    'no half-written part',
  );
  const again = await runCli(['prepare', '--data', many, '--out', out, '--json']);
  assertExit0(again);
  const j = lastJson(again);
  assert.ok((j.reusedFiles as number) >= Number(kept[1]), `${j.reusedFiles} kept`);
  assert.equal(j.pieces, 3760);
  assert.equal(j.notes, 9512 * 80);
});
