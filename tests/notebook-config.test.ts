/**
 * The notebook's settings cell expands into every stage's config: the model
 * family (token unless asked), windows, sampling and run settings; the quick
 * run's overrides; and a setting that does not fit its scheme is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notebookConfig, type Hyperparameters } from '../lib/notebook/config';

const CELL: Hyperparameters = {
  dataFolder: 'data',
  maxFiles: 0,
  scheme: 'remi',
  seqLen: 64,
  embeddingDim: 64,
  units: 128,
  layers: 2,
  dropout: 0.1,
  epochs: 20,
  batchSize: 16,
  learningRate: 0.003,
  transposeRange: 0,
  temperature: 0.9,
  topP: 1,
  length: 200,
  seed: 7,
  livePlot: false,
};

test('the settings cell: the token family unless asked for the note family, its window in steps, sampling and run settings', () => {
  const token = notebookConfig(CELL, {});
  assert.equal(token.model.family, 'token');
  assert.equal(token.dataset.seqLen, 64);
  assert.deepEqual(token.generation.sampling, { temperature: 0.9, topK: 0, topP: 1 });
  assert.deepEqual(token.generation.run, { length: 200, seed: 7 });
  const note = notebookConfig({ ...CELL, family: 'note' }, {});
  assert.equal(note.model.family, 'note');
  assert.equal(note.model.stepUnits, note.model.units, "the note family's step vector is as wide as its LSTM");
  assert.equal(note.model.copy, true, 'the note family copies notes of bars −1 and −2');
  assert.deepEqual(
    { ...note.model, family: 'token', stepUnits: undefined, copy: undefined, headSkip: undefined },
    { ...token.model, stepUnits: undefined, copy: undefined, headSkip: undefined },
    "only the family and the note family's defaults differ",
  );
});

test('a quick run shrinks the settings and says so; transposition needs remi', () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    const quick = notebookConfig(CELL, { MUSICGEN_QUICK: '1' });
    assert.equal(quick.maxFiles, 12);
    assert.equal(quick.model.units, 32);
    assert.equal(quick.training.epochs, 1);
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /MUSICGEN_QUICK=1 .*maxFiles 12, units 32, epochs 1/);
  assert.throws(() => notebookConfig({ ...CELL, scheme: 'timed', transposeRange: 2 }, {}), {
    message: "transposeRange needs scheme 'remi' (one pitch per token); set transposeRange: 0 for scheme 'timed'",
  });
});
