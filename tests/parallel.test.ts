/**
 * Data-parallel gradients (lib/train/parallel.ts): the batch split between the main
 * thread and worker threads gives the one-thread kernel's loss and gradients,
 * leaks no tensors, and a seeded training run with dropout on two threads is
 * reproducible.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { batches, windowIndex } from '../lib/data/dataset';
import { lossAndGradients } from '../lib/train/bptt';
import { loadMidiFolder } from '../lib/midi/read';
import { buildModel, DEFAULT_MODEL_CONFIG, varList } from '../lib/model/network';
import { shareRows, startGradientWorkers, type GradientWorkers } from '../lib/train/parallel';
import { prepareData } from '../lib/data/prepare';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { DATA_DIR, trainPrepared } from './helpers';
import { assertReproducibleRuns, assertSplitMatches } from './parallel-checks';

const dataset = { seqLen: 24, stride: 12, valFraction: 0.2, seed: 4 };
let data: ReturnType<typeof prepareData>;
let workers: GradientWorkers | null = null;

before(async () => {
  await initBackend();
  data = prepareData(loadMidiFolder(DATA_DIR).pieces.slice(0, 12), DEFAULT_TOKENIZER_CONFIG, dataset);
});

after(async () => {
  await workers?.terminate();
});

const smallModel = (seed: number) =>
  buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: data.vocab.tokens.length, units: 24, embeddingDim: 8, dropout: 0.2, seed });

test('shareRows splits a batch into near-equal shares of at least 4 rows', () => {
  assert.deepEqual(shareRows(32, 2), [16, 16]);
  assert.deepEqual(shareRows(11, 3), [6, 5]);
  assert.deepEqual(shareRows(13, 3), [5, 4, 4]);
  assert.deepEqual(shareRows(7, 2), [7]);
  assert.deepEqual(shareRows(1, 8), [1]);
  assert.equal(
    shareRows(32, 8).reduce((a, b) => a + b, 0),
    32,
  );
});

test('three threads give the one-thread loss and gradients (within 1e-5), without leaking tensors', async () => {
  const model = smallModel(3);
  // Non-trivial weights, so that every gradient is far from zero.
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 50 + i)));
  workers = await startGradientWorkers(model.config, 3, 'wasm');
  assert.equal(workers.threads, 3);
  const idx = windowIndex(data.train, dataset.seqLen, dataset.stride);
  const batch = batches(data.train, idx, dataset.seqLen, 15, { shuffle: true, seed: 1, epoch: 0 }).next().value;
  assert.ok(batch && batch.batchSize === 15, 'precondition: a full batch of 15 windows');
  const w = workers;
  await assertSplitMatches(lossAndGradients(model.vars, batch), (drop) => w.lossAndGradients(model.vars, batch, drop));
  await workers.terminate();
  workers = null;
  model.net.dispose();
});

test('training on two threads with dropout: same seed, same history; the run reports its threads', async () => {
  const run = async () => {
    const model = smallModel(8);
    const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16, threads: 2, checkpointEverySec: 0 };
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-par-'));
    const r = await trainPrepared(model, data, dataset, config, outDir);
    model.net.dispose();
    return r;
  };
  await assertReproducibleRuns(run);
});
