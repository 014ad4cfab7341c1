import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/model/backend';
import { buildModel, varList, type ModelConfig } from '../lib/model/network';
import { lossAndGradients } from '../lib/train/bptt';
import { batchLoss } from '../lib/model/forward';
import type { Batch } from '../lib/data/dataset';
import { assertGradientsClose } from './helpers';

const CONFIG: ModelConfig = { vocabSize: 13, embeddingDim: 6, units: 8, layers: 2, dropout: 0, recurrentDropout: 0, seed: 7 };

function randomBatch(B: number, T: number, V: number, seed: number): Batch {
  let s = seed;
  const r = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
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
  assertGradientsClose(mine.grads, ref.grads, 1e-3);
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

/**
 * The reference for a window that starts from a carried state: the same
 * network written out in tfjs ops (Keras gate order i, f, c, o), started from
 * `init`, differentiated by tfjs autograd with the state held constant.
 */
function referenceFromState(
  model: ReturnType<typeof buildModel>,
  batch: Batch,
  init: { h: Float32Array; c: Float32Array }[],
): { loss: number; grads: Float32Array[] } {
  const vars = varList(model.vars);
  const { batchSize: B, seqLen: T } = batch;
  const { value, grads } = tf.variableGrads(() => {
    const v = model.vars;
    let xs = Array.from(
      { length: T },
      (_, t) =>
        tf.gather(
          v.embedding,
          tf.tensor1d(
            Array.from({ length: B }, (_, b) => batch.inputs[b * T + t]),
            'int32',
          ),
        ) as tf.Tensor2D,
    );
    v.lstm.forEach((w, l) => {
      const H = w.recurrentKernel.shape[0];
      let h = tf.tensor2d(init[l].h, [B, H]);
      let c = tf.tensor2d(init[l].c, [B, H]);
      xs = xs.map((x) => {
        const z = tf.add(tf.add(tf.matMul(x, w.kernel as tf.Tensor2D), tf.matMul(h, w.recurrentKernel as tf.Tensor2D)), w.bias);
        const [zi, zf, zg, zo] = tf.split(z, 4, 1);
        c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
        h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
        return h;
      });
    });
    const logp = tf.logSoftmax(tf.add(tf.matMul(tf.concat(xs, 0), v.outKernel as tf.Tensor2D), v.outBias));
    const targets = Array.from({ length: T * B }, (_, k) => batch.targets[(k % B) * T + Math.floor(k / B)]);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(targets, 'int32'), model.config.vocabSize), logp), 1))) as tf.Scalar;
  }, vars);
  const out = { loss: value.dataSync()[0], grads: vars.map((x) => grads[x.name].dataSync() as Float32Array) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

test('from a carried state, the kernel gives the loss and gradients of autograd, and the state each row ends in', () => {
  const model = buildModel(CONFIG);
  const B = 3;
  const T = 4;
  const first = randomBatch(B, T, CONFIG.vocabSize, 3);
  const zeros = Array.from({ length: CONFIG.layers }, () => ({
    h: new Float32Array(B * CONFIG.units),
    c: new Float32Array(B * CONFIG.units),
  }));
  const a = lossAndGradients(model.vars, first, undefined, zeros);
  tf.dispose(a.grads);
  const plain = lossAndGradients(model.vars, first);
  tf.dispose(plain.grads);
  assert.ok(Math.abs(a.loss - plain.loss) < 1e-6, 'a zero start state is the same as none');
  assert.ok(
    a.state && a.state.length === CONFIG.layers && a.state.every((s) => s.h.length === B * CONFIG.units && s.h.some((x) => x !== 0)),
  );
  const second = randomBatch(B, T, CONFIG.vocabSize, 4);
  const init = a.state!.map((s) => ({ h: s.h, c: s.c }));
  const ref = referenceFromState(model, second, init);
  const mine = lossAndGradients(model.vars, second, undefined, init);
  assert.ok(Math.abs(mine.loss - ref.loss) < 1e-5, `loss ${mine.loss} vs ${ref.loss}`);
  const fromZero = lossAndGradients(model.vars, second);
  assert.ok(Math.abs(fromZero.loss - mine.loss) > 1e-4, 'the carried state changes the loss');
  tf.dispose(fromZero.grads);
  assertGradientsClose(mine.grads, ref.grads, 1e-3);
  tf.dispose(mine.grads);
  model.net.dispose();
});
