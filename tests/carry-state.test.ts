/**
 * Training with the LSTM state carried from each window to the next window of
 * its piece: stream batches deal consecutive windows into rows and mark the
 * rows that start afresh; several threads carry the same state as one; a run
 * learns, records carryState in config.json, and from a carried state scores
 * the next window better than from zeros.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { streamBatchCount, streamBatches, type EncodedPiece } from '../lib/data/dataset';
import { makeTransposer } from '../lib/data/transpose';
import { prepareData } from '../lib/data/prepare';
import { loadMidiFolder } from '../lib/midi/read';
import { buildModel, DEFAULT_MODEL_CONFIG, varList } from '../lib/model/network';
import { lossAndGradients } from '../lib/train/bptt';
import { startGradientWorkers } from '../lib/train/parallel';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { loadModelSettings } from '../lib/store/load';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { DATA_DIR, trainPrepared } from './helpers';

const dataset = { seqLen: 16, stride: 16, valFraction: 0.2, seed: 4 };
let data: ReturnType<typeof prepareData>;

before(async () => {
  await initBackend();
  data = prepareData(loadMidiFolder(DATA_DIR).pieces.slice(0, 16), DEFAULT_TOKENIZER_CONFIG, dataset);
});

/**
 * Which piece and start a row's window is, found back by its tokens. Folk
 * tunes repeat themselves, so a window can occur more than once: the one that
 * follows `prev` is preferred, then one that starts a piece.
 */
function located(
  pieces: readonly EncodedPiece[],
  inputs: Int32Array,
  targets: Int32Array,
  row: number,
  T: number,
  prev: { piece: number; start: number } | null,
): { piece: number; start: number } {
  const want = [...inputs.subarray(row * T, row * T + T), targets[row * T + T - 1]];
  const found: { piece: number; start: number }[] = [];
  for (let piece = 0; piece < pieces.length; piece++) {
    const ids = pieces[piece].ids;
    for (let start = 0; start + T + 1 <= ids.length; start += T) {
      if (want.every((x, k) => ids[start + k] === x)) found.push({ piece, start });
    }
  }
  if (found.length === 0) throw new Error(`row ${row}: window not found`);
  return found.find((f) => prev && f.piece === prev.piece && f.start === prev.start + T) ?? found.find((f) => f.start === 0) ?? found[0];
}

test('stream batches: each row holds consecutive windows of its pieces; a row is fresh exactly where its window does not follow the one before', () => {
  const T = dataset.seqLen;
  const B = 4;
  const all = [...streamBatches(data.train, T, B, { seed: 1, epoch: 0 })];
  assert.equal(all.length, streamBatchCount(data.train, T, B));
  assert.ok(all.length > 10, `precondition: ${all.length} batches`);
  const prev: ({ piece: number; start: number } | null)[] = Array.from({ length: B }, () => null);
  let fresh = 0;
  let carried = 0;
  for (const batch of all) {
    assert.equal(batch.batchSize, B);
    for (let row = 0; row < B; row++) {
      const p = prev[row];
      const at = located(data.train, batch.inputs, batch.targets, row, T, p);
      const follows = p !== null && p.piece === at.piece && p.start + T === at.start;
      assert.equal(batch.fresh[row], follows ? 0 : 1, `row ${row}`);
      if (follows) carried++;
      else {
        fresh++;
        assert.ok(at.start === 0 || p === null, 'a fresh row starts a piece (or a stream)');
      }
      prev[row] = at;
    }
  }
  assert.ok(carried > 5 * fresh, `most rows go on from the row before (${carried} carried, ${fresh} fresh)`);
  const other = streamBatches(data.train, T, B, { seed: 1, epoch: 1 }).next().value;
  assert.notDeepEqual(other?.inputs, all[0].inputs, 'another epoch deals the pieces in another order');
});

test('stream batches with transposition move every window of a piece by the same shift', () => {
  const T = dataset.seqLen;
  const tr = makeTransposer(data.vocab, 6);
  const plain = [...streamBatches(data.train, T, 4, { seed: 2, epoch: 0 })];
  const moved = [...streamBatches(data.train, T, 4, { seed: 2, epoch: 0, transposer: tr })];
  const shifts = new Map<string, Set<number>>();
  const prev: ({ piece: number; start: number } | null)[] = [null, null, null, null];
  plain.forEach((b, i) => {
    for (let row = 0; row < 4; row++) {
      const at = located(data.train, b.inputs, b.targets, row, T, prev[row]);
      prev[row] = at;
      for (let t = 0; t < T; t++) {
        const k = row * T + t;
        const was = tr.pitchOf[b.inputs[k]];
        const now = tr.pitchOf[moved[i].inputs[k]];
        if (was >= 0 && data.train[at.piece].pitched?.[at.start + t]) {
          const set = shifts.get(String(at.piece)) ?? new Set<number>();
          set.add(now - was);
          shifts.set(String(at.piece), set);
        }
      }
    }
  });
  assert.ok(shifts.size > 3);
  for (const [piece, set] of shifts) assert.equal(set.size, 1, `piece ${piece}: shifts ${[...set].join(', ')}`);
  assert.ok(
    [...shifts.values()].some((s) => !s.has(0)),
    'some piece moves',
  );
});

test('two threads carry the same state as one thread', async () => {
  const model = buildModel({
    ...DEFAULT_MODEL_CONFIG,
    vocabSize: data.vocab.tokens.length,
    units: 16,
    embeddingDim: 8,
    dropout: 0,
    seed: 5,
  });
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 80 + i)));
  const workers = await startGradientWorkers(model.config, 2, 'wasm');
  try {
    const stream = streamBatches(data.train, dataset.seqLen, 8, { seed: 3, epoch: 0 });
    const first = stream.next().value!;
    const second = stream.next().value!;
    const zeros = Array.from({ length: model.config.layers }, () => ({ h: new Float32Array(8 * 16), c: new Float32Array(8 * 16) }));
    const one = lossAndGradients(model.vars, first, undefined, zeros);
    const two = await workers.lossAndGradients(model.vars, first, undefined, zeros);
    assert.ok(Math.abs(one.loss - two.loss) < 1e-5);
    one.state!.forEach((s, l) => s.h.forEach((x, k) => assert.ok(Math.abs(x - two.state![l].h[k]) < 1e-5, `layer ${l} h[${k}]`)));
    const next1 = lossAndGradients(model.vars, second, undefined, one.state);
    const next2 = await workers.lossAndGradients(model.vars, second, undefined, two.state);
    assert.ok(Math.abs(next1.loss - next2.loss) < 1e-5, `${next1.loss} vs ${next2.loss}`);
    tf.dispose([...one.grads, ...two.grads, ...next1.grads, ...next2.grads]);
  } finally {
    await workers.terminate();
    model.net.dispose();
  }
});

test('a run with carryState learns, records it in config.json, and a carried state predicts the next window better than zeros', async () => {
  const model = buildModel({
    ...DEFAULT_MODEL_CONFIG,
    vocabSize: data.vocab.tokens.length,
    units: 32,
    embeddingDim: 16,
    dropout: 0,
    seed: 6,
  });
  const config = {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: 3,
    batchSize: 8,
    threads: 1,
    checkpointEverySec: 0,
    learningRate: 0.01,
    carryState: true,
  };
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-carry-'));
  try {
    const r = await trainPrepared(model, data, dataset, config, outDir);
    assert.equal(r.history.length, 3);
    assert.ok(r.history[2].trainLoss < r.history[0].trainLoss, `it learns: ${r.history.map((h) => h.trainLoss.toFixed(3)).join(' → ')}`);
    assert.equal(loadModelSettings(outDir).config.training.carryState, true);
    // The same stream, scored window after window: the state carried from the window before helps.
    let carried: ReturnType<typeof lossAndGradients>['state'];
    let withState = 0;
    let fromZeros = 0;
    let n = 0;
    for (const batch of streamBatches(data.train, dataset.seqLen, 8, { seed: 9, epoch: 0 })) {
      const zeros = Array.from({ length: model.config.layers }, () => ({ h: new Float32Array(8 * 32), c: new Float32Array(8 * 32) }));
      const start = carried ? carried.map((s) => ({ h: s.h.slice(), c: s.c.slice() })) : zeros;
      batch.fresh.forEach(
        (f, row) => f && start.forEach((s) => (s.h.fill(0, row * 32, row * 32 + 32), s.c.fill(0, row * 32, row * 32 + 32))),
      );
      const a = lossAndGradients(model.vars, batch, undefined, start);
      const b = lossAndGradients(model.vars, batch);
      tf.dispose([...a.grads, ...b.grads]);
      carried = a.state;
      if (n++ > 0) {
        withState += a.loss;
        fromZeros += b.loss;
      }
    }
    assert.ok(withState < fromZeros, `carried ${(withState / (n - 1)).toFixed(3)} vs zeros ${(fromZeros / (n - 1)).toFixed(3)} nats/token`);
  } finally {
    model.net.dispose();
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});
