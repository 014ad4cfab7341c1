/**
 * The training loop's learning-rate schedule: the rate is multiplied by
 * lrDecay after every epoch that does not improve the validation loss, the
 * history records the rate of each epoch, and the checkpoint carries the
 * decayed rate so that --resume goes on with it.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/model/backend';
import { readCheckpoint } from '../lib/store/checkpoint';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../lib/store/train-config';
import { encodePieces } from '../lib/data/dataset';
import { buildModel, DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { makePiece, type Note } from '../lib/core/piece';
import { runConfig } from '../lib/store/run-config';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { trainModel } from '../lib/train/loop';
import { buildVocabulary } from '../lib/tokens/vocabulary';

before(async () => {
  await initBackend();
});

/** `repeats` bars of the given pitches as eighth notes. */
function piece(name: string, pitches: readonly number[], repeats: number, duration = 0.5): ReturnType<typeof makePiece> {
  const notes: Note[] = [];
  for (let r = 0; r < repeats; r++)
    pitches.forEach((p, i) => notes.push({ pitch: p, start: (r * pitches.length + i) * duration, duration, velocity: 90 }));
  return makePiece(name, notes);
}

test('lrDecay halves the learning rate after each epoch without a better validation loss; resume keeps the decayed rate', async () => {
  // Training: one phrase over and over. Validation: other pitches and another rhythm, which a model
  // fitting the phrase ever more confidently predicts ever worse — so most epochs do not improve it.
  const train = piece('train', [60, 62, 64, 65, 67, 65, 64, 62], 16);
  const val = piece('val', [71, 73, 70, 75, 69, 76], 8, 0.75);
  const vocab = buildVocabulary([train, val], DEFAULT_TOKENIZER_CONFIG);
  const [trainEnc, valEnc] = [encodePieces(vocab, [train]), encodePieces(vocab, [val])];
  const dataset = { seqLen: 16, stride: 4, valFraction: 0.5, seed: 1 };
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: vocab.tokens.length, units: 16, embeddingDim: 8, dropout: 0 });
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 5, batchSize: 8, learningRate: 0.02, lrDecay: 0.5, patience: 0, checkpointEverySec: 0 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-lr-'));
  const info = runConfig(model, { vocab, train: trainEnc, val: valEnc }, dataset, config, 'test', ['mem']);
  const result = await trainModel({ model, vocab, train: trainEnc, val: valEnc, dataset, config, outDir: dir, runConfig: info });
  const h = result.history;
  assert.equal(h.length, 5);
  assert.equal(h[0].learningRate, 0.02);
  let best = Infinity;
  let expected = 0.02;
  let decays = 0;
  for (const r of h) {
    assert.equal(r.learningRate, expected, `epoch ${r.epoch}`);
    if (r.valLoss < best) best = r.valLoss;
    else {
      expected *= 0.5;
      decays++;
    }
  }
  assert.ok(decays >= 1, `precondition: some epoch did not improve (val losses ${h.map((r) => r.valLoss.toFixed(3)).join(', ')})`);
  const ck = readCheckpoint(dir);
  assert.equal(ck.position.learningRate, expected, 'the checkpoint carries the rate for the next epoch');
  ck.weights.forEach((w) => w.dispose());
  ck.optimizer.forEach((o) => o.tensor.dispose());
  model.net.dispose();
});

test('lrDecay outside (0, 1] is an error naming it', () => {
  assert.throws(
    () => validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, lrDecay: 0 }),
    /^RangeError: lrDecay must be in \(0, 1\] \(1 = constant learning rate\) \(got 0\)$/,
  );
  assert.throws(() => validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, lrDecay: 1.5 }), /lrDecay/);
  assert.equal(validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, lrDecay: 1 }).lrDecay, 1);
});
