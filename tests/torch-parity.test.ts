/**
 * The PyTorch package (python/musicgen_torch) and tfjs give the same next-token probabilities (within
 * 1e-4) on the same input, both ways: a shipped model folder read into PyTorch against tfjs `predict`,
 * and a PyTorch model with random weights (both of its LSTM biases too) written as a model folder and
 * read by tfjs. Keras and PyTorch lay an LSTM out differently (kernels transposed, one bias against two);
 * a conversion that got a gate or a bias wrong fails here, as the last test shows by swapping two gates.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { encodePieces } from '../lib/data/dataset';
import { loadCorpus } from '../lib/midi/corpus';
import { loadModel } from '../lib/store/load';
import type { Vocabulary } from '../lib/tokens/vocabulary';
import { DATA_DIR, ROOT } from './helpers';
import { maxDifference, needTorch, pythonOk, tfjsProbabilities } from './torch-helpers';

const TOLERANCE = 1e-4;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-torch-parity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The first `n` ids of a tune of data/, in a model's vocabulary: real music, as generation reads it. */
function tuneIds(vocab: Vocabulary, n: number): number[] {
  const [piece] = encodePieces(vocab, loadCorpus([DATA_DIR], { maxFiles: 1 }).pieces);
  return [...piece.ids.subarray(0, n)];
}

/** PyTorch's probabilities for a model folder (python3 -m musicgen_torch probs). */
function torchProbabilities(dir: string, ids: readonly number[]): number[][] {
  return JSON.parse(pythonOk('musicgen_torch', ['probs', '--model', dir, '--ids', ids.join(',')])) as number[][];
}

for (const name of ['piano', 'folk']) {
  test(`tfjs → PyTorch: models/${name} gives the same next-token probabilities in PyTorch as in tfjs`, { skip: needTorch }, async () => {
    const dir = path.join(ROOT, 'models', name);
    const { vocab } = await loadModel(dir);
    const ids = tuneIds(vocab, 96);
    const theirs = torchProbabilities(dir, ids);
    const ours = await tfjsProbabilities(dir, ids);
    assert.equal(theirs.length, ids.length);
    assert.ok(Math.max(...ours.map((row) => Math.max(...row))) > 0.5, 'the model is confident somewhere (a meaningful comparison)');
    const diff = maxDifference(theirs, ours);
    assert.ok(diff < TOLERANCE, `largest difference ${diff}`);
  });
}

test(
  'PyTorch → tfjs: a PyTorch model with random weights, written as a model folder, gives tfjs the same probabilities',
  { skip: needTorch },
  async () => {
    const vocabFile = path.join(ROOT, 'models', 'piano', 'vocab.json');
    const { vocab } = await loadModel(path.join(ROOT, 'models', 'piano'));
    const ids = tuneIds(vocab, 64);
    const out = path.join(tmp, 'fresh');
    const args = ['fresh', '--vocab-file', vocabFile, '--out', out, '--units', '24', '--layers', '2', '--embedding', '12', '--seed', '5'];
    const theirs = JSON.parse(pythonOk('musicgen_torch', [...args, '--ids', ids.join(',')])) as number[][];
    const ours = await tfjsProbabilities(out, ids);
    const diff = maxDifference(theirs, ours);
    assert.ok(diff < TOLERANCE, `largest difference ${diff}`);
    // And back: the folder read into PyTorch (its two biases folded into one) gives the same again.
    assert.ok(maxDifference(torchProbabilities(out, ids), ours) < TOLERANCE);
  },
);

test(
  'the comparison sees a wrong conversion: two gates swapped in one layer move the probabilities far beyond the tolerance',
  { skip: needTorch },
  async () => {
    const dir = path.join(ROOT, 'models', 'piano');
    const loaded = await loadModel(dir);
    const ids = tuneIds(loaded.vocab, 48);
    const theirs = torchProbabilities(dir, ids);
    const H = loaded.model.config.units;
    // Keras's gate blocks are i, f, c, o: exchange f and c in the first layer's kernel, as a conversion with the wrong gate order would.
    const k = loaded.model.vars.lstm[0].kernel;
    const swapped = tf.tidy(() => {
      const [i, f, c, o] = tf.split(k, [H, H, H, H], 1);
      return tf.concat([i, c, f, o], 1);
    });
    k.assign(swapped);
    swapped.dispose();
    const out = tf.tidy(() => loaded.model.net.predict(tf.tensor2d([ids], [1, ids.length], 'int32')) as tf.Tensor);
    const flat = (await out.data()) as Float32Array;
    out.dispose();
    const V = loaded.model.config.vocabSize;
    const broken = ids.map((_, t) => flat.slice(t * V, (t + 1) * V));
    loaded.model.net.dispose();
    assert.ok(
      maxDifference(theirs, broken) > 100 * TOLERANCE,
      `a swapped gate changed the probabilities by only ${maxDifference(theirs, broken)}`,
    );
  },
);
