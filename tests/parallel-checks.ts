/**
 * Checks shared by the data-parallel gradient tests of both model families
 * (tests/parallel.test.ts, tests/note-parallel.test.ts).
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../lib/core/rng';
import type { BatchGradients, DropoutSpec } from '../lib/train/bptt';
import type { TrainResult } from '../lib/train/loop';

/**
 * The batch's loss and gradients split over threads (`split`) equal the
 * one-thread kernel's (`one`) within 1e-5 and leave no tensor behind; with
 * dropout, the same generator state gives the same loss, and dropout
 * changes it. Disposes `one`'s gradients.
 */
export async function assertSplitMatches(one: BatchGradients, split: (drop?: DropoutSpec) => Promise<BatchGradients>): Promise<void> {
  const before = tf.memory().numTensors;
  const many = await split();
  assert.ok(Math.abs(many.loss - one.loss) < 1e-5, `loss ${many.loss} vs ${one.loss}`);
  assert.equal(many.grads.length, one.grads.length);
  many.grads.forEach((g, i) => {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, one.grads[i]))).dataSync()[0]);
    const scale = tf.tidy(() => tf.max(tf.abs(one.grads[i])).dataSync()[0]);
    assert.ok(scale > 1e-4, `precondition: gradient ${i} is not zero`);
    assert.ok(diff < 1e-5, `gradient ${i}: max difference ${diff}`);
  });
  tf.dispose(many.grads);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  // With dropout: seeded per share, so the same rng state gives the same result.
  const d1 = await split({ dropout: 0.3, recurrentDropout: 0.1, rng: createRng(9) });
  const d2 = await split({ dropout: 0.3, recurrentDropout: 0.1, rng: createRng(9) });
  assert.equal(d1.loss, d2.loss);
  assert.notEqual(d1.loss, one.loss, 'dropout changes the loss');
  tf.dispose([...d1.grads, ...d2.grads, ...one.grads]);
  assert.equal(tf.memory().numTensors, before - one.grads.length);
}

/** Two seeded training runs on two threads with dropout (`run`): both on two threads, learning, with the same history. */
export async function assertReproducibleRuns(run: () => Promise<TrainResult>): Promise<void> {
  const a = await run();
  const b = await run();
  assert.equal(a.threads, 2, a.threadsNote ?? '');
  assert.equal(a.threadsNote, null);
  assert.ok(a.history[1].trainLoss < a.history[0].trainLoss, 'it learns');
  assert.deepEqual(
    a.history.map((h) => [h.trainLoss, h.valLoss]),
    b.history.map((h) => [h.trainLoss, h.valLoss]),
  );
}
