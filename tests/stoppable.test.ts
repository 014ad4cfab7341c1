/**
 * Long synchronous stretches let the event loop turn and stop when asked
 * (a command must not hang until it finishes): the n-gram baseline's fitting
 * and scoring, `evaluateModel` while it fits the baseline, and the training
 * loop's end-of-epoch validation — stopped there, it leaves a checkpoint that
 * resumes with that validation, to the same figures as a run never stopped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makePiece, type Note } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { encodePieces } from '../lib/data/dataset';
import { DEFAULT_EVALUATE_OPTIONS, evaluateModel } from '../lib/evaluate/evaluate';
import { evaluateNllAsync, trainNgram, trainNgramAsync } from '../lib/evaluate/ngram';
import { DEFAULT_GENERATION_SETTINGS } from '../lib/generate/settings';
import { loadCorpus } from '../lib/midi/corpus';
import { initBackend } from '../lib/model/backend';
import { buildModel, DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { buildVocabulary } from '../lib/tokens/vocabulary';
import { readCheckpoint } from '../lib/store/checkpoint';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { trainModel, type TrainCallbacks, type TrainRun } from '../lib/train/loop';
import { loadModel } from '../lib/store/load';
import { runConfig } from '../lib/store/run-config';
import { DATA_DIR, FOLK_MODEL } from './helpers';

let tmp = '';
before(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-stoppable-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the n-gram baseline fits and scores in steps: the same model and figures, and null when asked to stop', async () => {
  // 240,000 tokens, mostly unseen 5-grams: fitting takes a good fraction of a second, so the loop turns mid-way.
  const rng = createRng(5);
  const seqs = Array.from({ length: 60 }, () => Int32Array.from({ length: 4000 }, () => Math.floor(rng.next() * rng.next() * 300)));
  const config = { order: 5, vocabSize: 300 };
  const sync = trainNgram(seqs, config);
  let polls = 0;
  const stepped = await trainNgramAsync(seqs, config, () => (polls++, false));
  assert.ok(stepped);
  assert.ok(polls >= 2, `the event loop turned ${polls} time(s) while fitting`);
  assert.deepEqual([stepped.ngramCounts, stepped.discounts], [sync.ngramCounts, sync.discounts]);
  const held = seqs.slice(0, 20);
  assert.deepEqual(await evaluateNllAsync(stepped, held, () => false), sync.evaluateNll(held));

  let asked = 0;
  assert.equal(await trainNgramAsync(seqs, config, () => ++asked === 2), null, 'stopped at its second turn, mid-fit');
  assert.equal(asked, 2);
  assert.equal(await evaluateNllAsync(sync, held, () => true), null);
});

test('evaluateModel returns null when asked to stop while it fits the n-gram baseline', async () => {
  const lm = await loadModel(FOLK_MODEL);
  try {
    const pieces = encodePieces(lm.vocab, loadCorpus([DATA_DIR], { maxFiles: 6 }).pieces);
    const stages: string[] = [];
    const ev = await evaluateModel(
      lm.model,
      lm.vocab,
      pieces.slice(0, 2),
      pieces,
      { ...DEFAULT_EVALUATE_OPTIONS, samples: 0, generate: DEFAULT_GENERATION_SETTINGS },
      (stage, done, total) => stages.push(`${stage} ${done}/${total}`),
      () => stages.includes('baseline 0/1'),
    );
    assert.equal(ev, null);
    assert.ok(!stages.includes('baseline 1/1'), `the baseline was finished: ${stages.join(', ')}`);
  } finally {
    lm.model.net.dispose();
  }
});

/** `repeats` times the pitches as notes of `duration` beats. */
function phrase(name: string, pitches: readonly number[], repeats: number, duration: number): ReturnType<typeof makePiece> {
  const notes: Note[] = [];
  for (let r = 0; r < repeats; r++)
    pitches.forEach((p, i) => notes.push({ pitch: p, start: (r * pitches.length + i) * duration, duration, velocity: 90 }));
  return makePiece(name, notes);
}

/** A tiny training run into `dir`: a few training batches and validation over several batches. */
function tinyRun(dir: string, resume = false): TrainRun {
  const train = phrase('train', [60, 62, 64, 65, 67, 65, 64, 62], 12, 0.5);
  const val = phrase('val', [60, 64, 67, 72, 67, 64], 30, 0.5);
  const vocab = buildVocabulary([train, val], DEFAULT_TOKENIZER_CONFIG);
  const [trainEnc, valEnc] = [encodePieces(vocab, [train]), encodePieces(vocab, [val])];
  const dataset = { seqLen: 16, stride: 8, valFraction: 0.5, seed: 1 };
  const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: vocab.tokens.length, units: 16, embeddingDim: 8, dropout: 0 });
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 8, patience: 0, checkpointEverySec: 0, threads: 1 };
  const info = runConfig(model, { vocab, train: trainEnc, val: valEnc }, dataset, config, 'test', ['mem']);
  return { model, vocab, train: trainEnc, val: valEnc, dataset, config, outDir: dir, runConfig: info, resume };
}

test("training stopped during end-of-epoch validation: a checkpoint at the end of the epoch's batches; --resume validates it, to the figures of a run never stopped", async () => {
  const whole = tinyRun(path.join(tmp, 'whole'));
  const reference = await trainModel(whole);
  whole.model.net.dispose();

  const dir = path.join(tmp, 'stopped');
  const run = tinyRun(dir);
  let batches = 0;
  let lastBatchDone = false;
  let pollsAfter = 0;
  const cb: TrainCallbacks = {
    onBatch: (p) => {
      batches = p.batches;
      lastBatchDone ||= p.epoch === 1 && p.batch === p.batches;
    },
    // The first poll after the last batch comes before validation; the second one, after its first batch.
    shouldStop: () => lastBatchDone && ++pollsAfter === 2,
  };
  const stopped = await trainModel(run, cb);
  run.model.net.dispose();
  assert.ok(stopped.interrupted);
  assert.equal(stopped.history.length, 0, 'the epoch was not validated and recorded');
  const ck = readCheckpoint(dir);
  ck.weights.forEach((w) => w.dispose());
  ck.optimizer.forEach((o) => o.tensor.dispose());
  assert.deepEqual([ck.position.epoch, ck.position.batchesDone], [0, batches]);

  const again = tinyRun(dir, true);
  const resumed = await trainModel(again);
  again.model.net.dispose();
  assert.deepEqual(
    resumed.history.map((r) => [r.epoch, r.trainLoss, r.valLoss]),
    reference.history.map((r) => [r.epoch, r.trainLoss, r.valLoss]),
  );
});
