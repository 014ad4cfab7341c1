import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { buildModel, varList, type ModelConfig } from '../lib/model/network';
import { lossAndGradients } from '../lib/train/bptt';
import { batchLoss } from '../lib/model/forward';
import type { Batch } from '../lib/data/dataset';

const CONFIG: ModelConfig = { vocabSize: 13, embeddingDim: 6, units: 8, layers: 2, dropout: 0, recurrentDropout: 0, seed: 7 };

function randomBatch(B: number, T: number, V: number, seed: number): Batch {
  let s = seed;
  const r = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const inputs = Int32Array.from({ length: B * T }, () => Math.floor(r() * V));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(r() * V));
  return { batchSize: B, seqLen: T, inputs, targets };
}

/** The reference: tfjs's own layers (LSTM, embedding, dense) differentiated by tfjs autograd. */
function referenceLossAndGrads(model: ReturnType<typeof buildModel>, batch: Batch): { loss: number; grads: Float32Array[] } {
  const vars = varList(model.vars);
  const x = tf.tensor2d(batch.inputs, [batch.batchSize, batch.seqLen], 'int32');
  const y = tf.oneHot(tf.tensor2d(batch.targets, [batch.batchSize, batch.seqLen], 'int32'), model.config.vocabSize);
  const { value, grads } = tf.variableGrads(() => {
    const p = model.net.apply(x, { training: false }) as tf.Tensor;
    return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(p)), -1))) as tf.Scalar;
  }, vars);
  const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  tf.dispose([x, y, value, ...Object.values(grads)]);
  return out;
}

before(async () => {
  await initBackend();
});

test('kernel loss and gradients match tfjs LSTM layers + autograd', () => {
  const model = buildModel(CONFIG);
  const batch = randomBatch(3, 5, CONFIG.vocabSize, 1);
  const ref = referenceLossAndGrads(model, batch);
  const mine = lossAndGradients(model.vars, batch);
  assert.ok(Math.abs(mine.loss - ref.loss) < 1e-5, `loss ${mine.loss} vs ${ref.loss}`);
  assert.equal(mine.grads.length, ref.grads.length);
  mine.grads.forEach((g, k) => {
    const a = g.dataSync();
    const b = ref.grads[k];
    assert.equal(a.length, b.length, `grad ${k} size`);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      maxAbs = Math.max(maxAbs, Math.abs(b[i]));
    }
    assert.ok(maxDiff < 1e-5 + 1e-3 * maxAbs, `grad ${k}: max diff ${maxDiff} (max ${maxAbs})`);
  });
  tf.dispose(mine.grads);
  assert.ok(Math.abs(batchLoss(model.vars, batch) - ref.loss) < 1e-5);
  model.net.dispose();
});

test('kernel does not leak tensors', () => {
  const model = buildModel(CONFIG);
  const batch = randomBatch(4, 6, CONFIG.vocabSize, 2);
  tf.dispose(lossAndGradients(model.vars, batch).grads);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose(lossAndGradients(model.vars, batch).grads);
    batchLoss(model.vars, batch);
  }
  assert.equal(tf.memory().numTensors, before);
  model.net.dispose();
});
