/**
 * Data-parallel gradients of the note family (lib/train/parallel.ts): a note
 * batch's rows split between the main thread and two or three threads give
 * the one-thread kernel's loss and gradients (the shares weighted by their
 * target tokens), leak no tensors, and a seeded note training run with
 * dropout on two threads is reproducible.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { varList, type MusicModel } from '../lib/model/network';
import { noteBatches, noteBatchRows, noteWindowIndex, stepPieces, type NoteBatch } from '../lib/data/note-dataset';
import { noteLossAndGradients } from '../lib/train/note-bptt';
import { shareRows, startGradientWorkers, type GradientWorkers } from '../lib/train/parallel';
import { prepareData } from '../lib/data/prepare';
import { loadMidiFolder } from '../lib/midi/read';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { DATA_DIR, trainPrepared, tinyNoteModel } from './helpers';
import { assertReproducibleRuns, assertSplitMatches } from './parallel-checks';

const dataset = { seqLen: 12, stride: 6, valFraction: 0.2, seed: 4 };
let data: ReturnType<typeof prepareData>;
let workers: GradientWorkers | null = null;

before(async () => {
  await initBackend();
  data = prepareData(loadMidiFolder(DATA_DIR).pieces.slice(0, 10), DEFAULT_TOKENIZER_CONFIG, dataset);
});

after(async () => {
  await workers?.terminate();
});

const noteModel = (seed: number, dropout: number): MusicModel => tinyNoteModel(data.vocab.tokens.length, seed, dropout);

/** A full shuffled batch of `rows` note windows. */
function noteBatchOf(rows: number): NoteBatch {
  const pieces = stepPieces(data.vocab, data.train, { lookback: true, copy: true });
  const index = noteWindowIndex(pieces, dataset.seqLen, dataset.stride);
  const batch = noteBatches(data.vocab, pieces, index, dataset.seqLen, rows, { shuffle: true, seed: 2, epoch: 0 }).next().value;
  assert.ok(batch && batch.batchSize === rows, `precondition: a full batch of ${rows} windows`);
  return batch;
}

test("a note batch's shares hold its rows and count their own tokens", () => {
  const batch = noteBatchOf(13);
  const rows = shareRows(13, 3);
  let from = 0;
  const shares = rows.map((r) => {
    const s = noteBatchRows(batch, from, r);
    from += r;
    return s;
  });
  assert.equal(
    shares.reduce((n, s) => n + s.tokens, 0),
    batch.tokens,
  );
  assert.ok(
    new Set(shares.map((s) => s.tokens)).size > 1,
    'precondition: the shares hold different numbers of tokens, so weighting by rows would be wrong',
  );
  assert.deepEqual(Array.from(shares[2].group), Array.from(batch.group.slice(batch.group.length - shares[2].group.length)));
});

for (const threads of [2, 3]) {
  test(`${threads} threads give the one-thread note loss and gradients (within 1e-5), without leaking tensors`, async () => {
    const model = noteModel(3, 0);
    varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 70 + i)));
    workers = await startGradientWorkers(model.config, threads, 'wasm');
    assert.equal(workers.threads, threads);
    const batch = noteBatchOf(13);
    const w = workers;
    await assertSplitMatches(noteLossAndGradients(model.vars, batch), (drop) => w.noteLossAndGradients(model.vars, batch, drop));
    await workers.terminate();
    workers = null;
    model.net.dispose();
  });
}

test('training the note family on two threads with dropout: same seed, same history; the run reports its threads', async () => {
  const run = async () => {
    const model = noteModel(8, 0.2);
    const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 12, threads: 2, checkpointEverySec: 0, learningRate: 0.01 };
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-note-par-'));
    try {
      return await trainPrepared(model, data, dataset, config, outDir);
    } finally {
      model.net.dispose();
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  };
  await assertReproducibleRuns(run);
});
