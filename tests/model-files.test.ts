/**
 * Every saved file of a model folder is checked field by field when loaded:
 * config.json, history.json, model.json (+ its weights) and the training
 * checkpoint. A damaged file gives ONE line naming the file and the field.
 * Each case copies models/folk (or writes a small checkpoint), damages
 * one thing and asserts the exact message.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../lib/core/errors';
import { initBackend } from '../lib/model/backend';
import { readCheckpoint, writeCheckpoint, type TrainPosition } from '../lib/store/checkpoint';
import { CHECKPOINT_FILE } from '../lib/store/folder';
import { loadModel, loadModelSettings } from '../lib/store/load';
import { FOLK_MODEL, runCli } from './helpers';

let tmp = '';
let n = 0;

before(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-model-files-'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A fresh copy of the shipped model folder. */
function copyPretrained(): string {
  const dir = path.join(tmp, `m${n++}`);
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(FOLK_MODEL)) fs.copyFileSync(path.join(FOLK_MODEL, f), path.join(dir, f));
  return dir;
}

/** A copy of the shipped model with one JSON file changed by `edit` (which may return a replacement). */
function withJson(file: string, edit: (j: Json) => Json | void): string {
  const dir = copyPretrained();
  const p = path.join(dir, file);
  const j = JSON.parse(fs.readFileSync(p, 'utf8')) as Json;
  const out = edit(j);
  fs.writeFileSync(p, JSON.stringify(out === undefined ? j : out, null, 1));
  return dir;
}

/** A copy of the shipped model with one file's text replaced. */
function withText(file: string, text: (old: string) => string): string {
  const dir = copyPretrained();
  const p = path.join(dir, file);
  fs.writeFileSync(p, text(fs.readFileSync(p, 'utf8')));
  return dir;
}

function weightsFile(dir: string): string {
  return fs.readdirSync(dir).find((f) => /^weights-.*\.bin$/.test(f)) as string;
}

/** loadModel fails with exactly `${dir}/${file}: ${reason}` as a UserError. */
async function loadFails(dir: string, file: string, reason: string): Promise<void> {
  const expected = `${path.join(dir, file)}: ${reason}`;
  await assert.rejects(loadModel(dir), (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e.stack}`);
    assert.equal(e.message, expected);
    return true;
  });
}

/** loadModel succeeds (generating needs no history), and reading `history` fails with exactly `${dir}/history.json: ${reason}`. */
async function historyFails(dir: string, reason: string): Promise<void> {
  const lm = await loadModel(dir);
  lm.model.net.dispose();
  assert.throws(
    () => lm.history,
    (e: Error) => {
      assert.ok(e instanceof UserError, `not a UserError: ${e.stack}`);
      assert.equal(e.message, `${path.join(dir, 'history.json')}: ${reason}`);
      return true;
    },
  );
}

test('models/folk loads: its config.json, history.json and model.json pass every check', async () => {
  const lm = await loadModel(FOLK_MODEL);
  try {
    assert.equal(lm.config.model.vocabSize, lm.vocab.tokens.length);
    assert.equal(lm.config.data.maxFiles, undefined, 'the shipped config has no maxFiles');
    assert.ok(lm.history.length > 0);
    assert.ok(lm.history.every((r, i) => r.epoch === i + 1));
  } finally {
    lm.model.net.dispose();
  }
});

test('config.json: missing field, wrong type, out-of-range value, wrong format tag, truncated → one line naming the field', async () => {
  const cases: [string, (j: Json) => Json | void, string][] = [
    ['no data', (j) => void delete j.data, 'data must be an object (got undefined)'],
    ['data null', (j) => void (j.data = null), 'data must be an object (got null)'],
    ['units -3', (j) => void (j.model.units = -3), 'model.units must be an integer in [1, 4096] (got -3)'],
    ['no layers', (j) => void delete j.model.layers, 'model.layers must be an integer in [1, 8] (got undefined)'],
    ['dropout 1', (j) => void (j.model.dropout = 1), 'model.dropout must be in [0, 1) (got 1)'],
    ['no model', (j) => void delete j.model, 'model must be an object (got undefined)'],
    ['model array', (j) => void (j.model = []), 'model must be an object (got an array)'],
    ['seqLen 1', (j) => void (j.dataset.seqLen = 1), 'dataset.seqLen must be an integer in [2, 10000] (got 1)'],
    ['no dataset', (j) => void delete j.dataset, 'dataset must be an object (got undefined)'],
    ['lrDecay 0', (j) => void (j.training.lrDecay = 0), 'training.lrDecay must be in (0, 1] (1 = constant learning rate) (got 0)'],
    ['batchSize 0', (j) => void (j.training.batchSize = 0), 'training.batchSize must be an integer in [1, 4096] (got 0)'],
    ['training string', (j) => void (j.training = 'fast'), 'training must be an object (got string)'],
    ['no backend', (j) => void delete j.backend, 'backend must be a string (got nothing)'],
    ['folders string', (j) => void (j.data.folders = 'data'), 'data.folders must be an array (got string)'],
    ['folder number', (j) => void (j.data.folders = ['data', 7]), 'data.folders[1] must be a string (got 7)'],
    ['trainFiles -1', (j) => void (j.data.trainFiles = -1), 'data.trainFiles must be an integer in [0, 9007199254740991] (got -1)'],
    ['no valFiles', (j) => void delete j.data.valFiles, 'data.valFiles must be a number (got undefined)'],
    ['trainTokens string', (j) => void (j.data.trainTokens = '616523'), 'data.trainTokens must be a number (got "616523")'],
    // A string where a number belongs is quoted, so it does not read as the right value.
    ['vocabSize string', (j) => void (j.model.vocabSize = '505'), 'model.vocabSize must be an integer in [2, 100000] (got "505")'],
    ['dropout string', (j) => void (j.model.dropout = '0.3'), 'model.dropout must be in [0, 1) (got "0.3")'],
    ['seqLen array', (j) => void (j.dataset.seqLen = [32]), 'dataset.seqLen must be an integer in [2, 10000] (got an array)'],
    ['maxFiles 2.5', (j) => void (j.data.maxFiles = 2.5), 'data.maxFiles must be an integer (0 or less = no cap) (got 2.5)'],
    [
      'format',
      (j) => void (j.format = 'musicgen-model/2'),
      'format must be "musicgen-model/1" (is this a musicgen config.json?) (got "musicgen-model/2")',
    ],
    ['no format', (j) => void delete j.format, 'format must be "musicgen-model/1" (is this a musicgen config.json?) (got nothing)'],
    ['array', () => [], 'the file must be an object (got an array)'],
  ];
  for (const [, edit, reason] of cases) await loadFails(withJson('config.json', edit), 'config.json', reason);
  const truncated = withText('config.json', (t) => t.slice(0, t.length / 2));
  await loadFails(truncated, 'config.json', 'not valid JSON (damaged or truncated?)');
  // --resume reads the same checks (without model.json).
  const noData = withJson('config.json', (j) => void delete j.data);
  assert.throws(() => loadModelSettings(noData), {
    message: `${path.join(noData, 'config.json')}: data must be an object (got undefined)`,
  });
});

test('config.json: fields older files lack stay optional (training settings added later, data.maxFiles)', async () => {
  const old = withJson('config.json', (j) => {
    delete j.training.lrDecay;
    delete j.training.threads;
    j.data.maxFiles = 200;
  });
  const lm = await loadModel(old);
  lm.model.net.dispose();
  assert.equal(lm.config.training.lrDecay, 0.5, 'a missing training setting takes its default');
  assert.equal(lm.config.training.threads, 0);
  assert.equal(lm.config.data.maxFiles, 200);
});

test("config.json: the training range of random transposition saved as `transpose` (its former name) reads as transposeRange; a newer file's own key wins", async () => {
  const old = withJson('config.json', (j) => {
    delete j.training.transposeRange;
    j.training.transpose = 5;
  });
  const lm = await loadModel(old);
  lm.model.net.dispose();
  assert.equal(lm.config.training.transposeRange, 5);
  assert.equal('transpose' in lm.config.training, false, 'the former key is not carried along');
  const both = withJson('config.json', (j) => {
    j.training.transpose = 5;
    j.training.transposeRange = 2;
  });
  assert.equal(loadModelSettings(both).config.training.transposeRange, 2);
  await loadFails(
    withJson('config.json', (j) => void (j.training.transpose = 30)),
    'config.json',
    'training.transposeRange must be an integer in [0, 24] (got 30)',
  );
});

test('history.json: a string loss, missing or out-of-range fields, not an array, truncated → one line naming the entry and field, when the history is read', async () => {
  const cases: [(h: Json) => Json | void, string][] = [
    [(h) => void (h[0].trainLoss = '2.44'), '[0].trainLoss must be a number (got "2.44")'],
    [(h) => void delete h[3].valLoss, '[3].valLoss must be a number (got undefined)'],
    [(h) => void (h[1].epoch = 0), '[1].epoch must be an integer in [1, 100000] (got 0)'],
    [(h) => void (h[2].valPerplexity = 0.5), '[2].valPerplexity must be ≥ 1 (got 0.5)'],
    [(h) => void (h[2].learningRate = 5), '[2].learningRate must be in (0, 1] (got 5)'],
    [(h) => void (h[5].seconds = -1), '[5].seconds must be ≥ 0 (got -1)'],
    [(h) => void (h[4] = null), '[4] must be an object (got null)'],
    [(h) => ({ epochs: h }), 'the file must be an array (got object)'],
  ];
  for (const [edit, reason] of cases) await historyFails(withJson('history.json', edit), reason);
  await historyFails(
    withText('history.json', (t) => t.slice(0, 500)),
    'not valid JSON (damaged or truncated?)',
  );
  // Histories written before the learning rate was recorded still load.
  const old = withJson('history.json', (h: Json[]) => h.forEach((r) => delete r.learningRate));
  const lm = await loadModel(old);
  lm.model.net.dispose();
  assert.equal(lm.history[0].learningRate, undefined);
});

test('model.json and weights: wrong format tag, bad specs, paths outside the folder, weights of the wrong length → one line', async () => {
  const specCases: [(j: Json) => Json | void, string][] = [
    [(j) => void (j.format = 'graph-model'), 'format must be "layers-model" (is this a tfjs layers model?) (got "graph-model")'],
    [(j) => void delete j.modelTopology, 'modelTopology must be an object (got undefined)'],
    [(j) => void delete j.modelTopology.class_name, 'modelTopology.class_name must be a string (got nothing)'],
    [(j) => void delete j.weightsManifest, 'weightsManifest must be an array (got undefined)'],
    [(j) => void (j.weightsManifest = []), 'weightsManifest must not be empty'],
    [
      (j) => void (j.weightsManifest[0].weights[1].shape[1] = -4),
      'weightsManifest[0].weights[1].shape[1] must be an integer in [0, 2147483647] (got -4)',
    ],
    [(j) => void (j.weightsManifest[0].weights[1].shape = '64x1024'), 'weightsManifest[0].weights[1].shape must be an array (got string)'],
    [(j) => void (j.weightsManifest[0].weights[0].shape[0] = '412'), 'weightsManifest[0].weights[0].shape[0] must be a number (got "412")'],
    [(j) => void (j.weightsManifest[0].weights[2].dtype = 'int32'), 'weightsManifest[0].weights[2].dtype must be "float32" (got "int32")'],
    [(j) => void delete j.weightsManifest[0].weights[3].name, 'weightsManifest[0].weights[3].name must be a weight name (got nothing)'],
    [
      (j) => void (j.weightsManifest[0].paths = ['../../etc/passwd']),
      'weightsManifest[0].paths[0] must be a file name in the model folder (got "../../etc/passwd")',
    ],
    [
      (j) => void (j.weightsManifest[0].paths = ['/etc/passwd']),
      'weightsManifest[0].paths[0] must be a file name in the model folder (got "/etc/passwd")',
    ],
    [(j) => void (j.weightsManifest[0].paths = 'weights.bin'), 'weightsManifest[0].paths must be an array (got string)'],
    [(j) => void (j.weightsManifest[0] = 'weights.bin'), 'weightsManifest[0] must be an object (got string)'],
    // Same byte count, shapes swapped: tfjs itself refuses, still as one line.
    [
      (j) => {
        const w = j.weightsManifest[0].weights;
        [w[1].shape, w[2].shape] = [w[2].shape, w[1].shape];
      },
      'modelTopology and weightsManifest do not load in tfjs (Shape mismatch: [64,1024] vs. [256,1024])',
    ],
    [
      (j) => void (j.modelTopology.config.layers[1].class_name = 'Bogus'),
      'modelTopology and weightsManifest do not load in tfjs (Unknown layer: Bogus)',
    ],
  ];
  for (const [edit, reason] of specCases) await loadFails(withJson('model.json', edit), 'model.json', reason);
  await loadFails(
    withText('model.json', (t) => t.slice(0, 100)),
    'model.json',
    'not valid JSON (damaged or truncated?)',
  );

  // Weights shorter or longer than the manifest says, or a manifest that lists more floats than the file has.
  const size = fs.statSync(path.join(FOLK_MODEL, weightsFile(FOLK_MODEL))).size;
  const weightsFails = async (dir: string, got: number, expected: number): Promise<void> => {
    const message = `${path.join(dir, weightsFile(dir))}: weights have ${got} bytes, ${path.join(dir, 'model.json')} expects ${expected} (damaged, or from another save?)`;
    await assert.rejects(loadModel(dir), { name: 'UserError', message });
  };
  const short = copyPretrained();
  fs.truncateSync(path.join(short, weightsFile(short)), size - 8);
  await weightsFails(short, size - 8, size);
  const long = copyPretrained();
  fs.appendFileSync(path.join(long, weightsFile(long)), Buffer.alloc(4));
  await weightsFails(long, size + 4, size);
  const wider = withJson('model.json', (j) => void (j.weightsManifest[0].weights[0].shape = [412, 65]));
  await weightsFails(wider, size, size + 412 * 4);

  // model.json and config.json of different models.
  const other = withJson('config.json', (j) => void (j.model.units = 128));
  await loadFails(other, 'model.json', 'the weights do not match config.json (weight 1 has shape [64,1024], config expects [64,512])');
});

/** A small checkpoint written by writeCheckpoint, with one finished epoch from the shipped history. */
async function makeCheckpoint(position: Partial<TrainPosition> = {}): Promise<string> {
  const dir = path.join(tmp, `ck${n++}`);
  fs.mkdirSync(dir);
  const rec = (JSON.parse(fs.readFileSync(path.join(FOLK_MODEL, 'history.json'), 'utf8')) as Json[])[0];
  const pos: TrainPosition = {
    epoch: 1,
    batchesDone: 2,
    lossSum: 3.5,
    bestValLoss: rec.valLoss,
    badEpochs: 0,
    learningRate: 0.002,
    epochSec: 4,
    elapsedSec: 12,
    history: [rec],
    ...position,
  };
  const weights = [
    tf.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]),
    tf.tensor([7, 8, 9]),
  ];
  const optimizer = [
    { name: 'iter', tensor: tf.scalar(3) },
    { name: 'w/m', tensor: tf.fill([2, 3], 0.5) },
  ];
  await writeCheckpoint(dir, pos, weights, optimizer);
  tf.dispose([...weights, ...optimizer.map((o) => o.tensor)]);
  return dir;
}

/** The checkpoint's preamble length, header JSON and tensor data. */
function splitCheckpoint(file: string): { header: Json; data: Buffer } {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt32LE(8);
  return { header: JSON.parse(buf.toString('utf8', 12, 12 + hlen)), data: buf.subarray(12 + hlen) };
}

/** Rewrites the checkpoint's header (with its length) and keeps its tensor data. */
function editHeader(dir: string, edit: (h: Json) => void): void {
  const file = path.join(dir, CHECKPOINT_FILE);
  const { header, data } = splitCheckpoint(file);
  edit(header);
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(12);
  pre.write('MGCKPT01', 0, 'ascii');
  pre.writeUInt32LE(h.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, h, data]));
}

function checkpointFails(dir: string, reason: string): void {
  const file = path.join(dir, CHECKPOINT_FILE);
  assert.throws(
    () => readCheckpoint(dir),
    (e: Error) => {
      assert.ok(e instanceof UserError, `not a UserError: ${e.stack}`);
      assert.equal(e.message, `${file}: ${reason}`);
      return true;
    },
  );
}

test('a checkpoint written by writeCheckpoint reads back; older ones without learningRate/epochSec still do', async () => {
  const dir = await makeCheckpoint({ bestValLoss: Infinity });
  const ck = readCheckpoint(dir);
  assert.equal(ck.position.epoch, 1);
  assert.equal(ck.position.bestValLoss, Infinity);
  assert.deepEqual(
    ck.weights.map((w) => w.shape),
    [[2, 3], [3]],
  );
  assert.deepEqual(Array.from(ck.weights[1].dataSync()), [7, 8, 9]);
  assert.deepEqual(
    ck.optimizer.map((o) => [o.name, o.tensor.shape]),
    [
      ['iter', []],
      ['w/m', [2, 3]],
    ],
  );
  tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
  editHeader(dir, (h) => {
    delete h.position.learningRate;
    delete h.position.epochSec;
    delete h.position.history[0].learningRate;
  });
  const old = readCheckpoint(dir);
  assert.equal(old.position.learningRate, undefined);
  tf.dispose([...old.weights, ...old.optimizer.map((o) => o.tensor)]);
});

test('checkpoint header: each field checked (position, epoch, counters, history, tensor lists) → one line naming the field', async () => {
  const cases: [(h: Json) => void, string][] = [
    [(h) => void (h.position.epoch = -1), 'position.epoch must be an integer in [0, 100000] (got -1)'],
    [(h) => void delete h.position.batchesDone, 'position.batchesDone must be a number (got undefined)'],
    [(h) => void (h.position.lossSum = '3.5'), 'position.lossSum must be a number (got "3.5")'],
    [(h) => void (h.position.bestValLoss = -2), 'position.bestValLoss must be ≥ 0 (or -1 for none yet) (got -2)'],
    [(h) => void (h.position.badEpochs = 1.5), 'position.badEpochs must be an integer in [0, 100000] (got 1.5)'],
    [(h) => void (h.position.learningRate = 0), 'position.learningRate must be in (0, 1] (got 0)'],
    [(h) => void (h.position.epochSec = -3), 'position.epochSec must be ≥ 0 (got -3)'],
    [(h) => void delete h.position.elapsedSec, 'position.elapsedSec must be a number (got undefined)'],
    [(h) => void (h.position.history[0].trainLoss = 'low'), 'position.history[0].trainLoss must be a number (got "low")'],
    [(h) => void (h.position.history = []), 'position.history must have one entry per finished epoch (1, got 0)'],
    [(h) => void (h.position.history = null), 'position.history must be an array (got null)'],
    [(h) => void delete h.position, 'position must be an object (got undefined)'],
    [(h) => void (h.weights = {}), 'weights must be an array (got object)'],
    [(h) => void (h.weights = []), 'weights must not be empty'],
    [(h) => void (h.weights[0].shape[0] = 1.5), 'weights[0].shape[0] must be an integer in [0, 2147483647] (got 1.5)'],
    [(h) => void delete h.weights[1].shape, 'weights[1].shape must be an array (got undefined)'],
    [(h) => void (h.optimizer[0] = 5), 'optimizer[0] must be an object (got number)'],
    [(h) => void (h.optimizer[1].name = ''), 'optimizer[1].name must be a variable name (got "")'],
    [(h) => void delete h.optimizer, 'optimizer must be an array (got undefined)'],
  ];
  for (const [edit, reason] of cases) {
    const dir = await makeCheckpoint();
    editHeader(dir, edit);
    checkpointFails(dir, reason);
  }
  // Tensor byte lengths must match the shapes: (2·3 + 3 + 1 + 2·3) floats = 64 bytes.
  const more = await makeCheckpoint();
  editHeader(more, (h) => void (h.weights[1].shape = [4]));
  checkpointFails(more, 'truncated checkpoint (the header lists 68 bytes of tensors, 64 are there)');
  const fewer = await makeCheckpoint();
  editHeader(fewer, (h) => void (h.optimizer[1].shape = [2, 2]));
  checkpointFails(fewer, 'damaged checkpoint (the header lists 56 bytes of tensors, 64 are there)');
});

test('checkpoint file truncated anywhere, damaged header JSON, wrong tag or missing → one line naming the file', async () => {
  const dir = await makeCheckpoint();
  const file = path.join(dir, CHECKPOINT_FILE);
  const whole = fs.readFileSync(file);
  const hlen = whole.readUInt32LE(8);
  const cut = (len: number): void => fs.writeFileSync(file, whole.subarray(0, len));
  cut(0);
  checkpointFails(dir, 'truncated checkpoint (0 bytes)');
  cut(5);
  checkpointFails(dir, 'truncated checkpoint (5 bytes)');
  cut(10);
  checkpointFails(dir, 'truncated checkpoint (10 bytes)');
  cut(12 + 20);
  checkpointFails(dir, `truncated checkpoint (the header needs ${hlen} bytes, 20 are there)`);
  cut(12 + hlen + 30);
  checkpointFails(dir, 'truncated checkpoint (the header lists 64 bytes of tensors, 30 are there)');
  cut(whole.length - 4);
  checkpointFails(dir, 'truncated checkpoint (the header lists 64 bytes of tensors, 60 are there)');
  fs.writeFileSync(file, Buffer.concat([whole, Buffer.alloc(8)]));
  checkpointFails(dir, 'damaged checkpoint (the header lists 64 bytes of tensors, 72 are there)');
  const garbled = Buffer.from(whole);
  garbled.write('}}}}', 12, 'ascii');
  fs.writeFileSync(file, garbled);
  checkpointFails(dir, 'damaged checkpoint header (not valid JSON)');
  const tagged = Buffer.from(whole);
  tagged.write('MGCKPT02', 0, 'ascii');
  fs.writeFileSync(file, tagged);
  checkpointFails(dir, 'not a musicgen checkpoint (no MGCKPT01 tag)');
  fs.writeFileSync(file, '{"position": {}}');
  checkpointFails(dir, 'not a musicgen checkpoint (no MGCKPT01 tag)');
  fs.rmSync(file);
  assert.throws(() => readCheckpoint(dir), {
    name: 'UserError',
    message: `cannot resume: no checkpoint at ${file} (no such file or folder)`,
  });
});

test('CLI: evaluate on a model whose config.json lacks data prints one line naming config.json and data, exit 1', async () => {
  const dir = withJson('config.json', (j) => void delete j.data);
  const { code, stdout, stderr } = await runCli(['evaluate', '--model', dir]);
  assert.equal(code, 1);
  assert.equal(stderr, `musicgen evaluate: ${path.join(dir, 'config.json')}: data must be an object (got undefined)\n`);
  assert.equal(stdout, '');
});
