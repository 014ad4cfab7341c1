/**
 * The notebook's helpers for its last two cells: the model folder a name or
 * a path picks, and where the piece of that model is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { modelFolder, pieceFile } from '../lib/notebook/view';
import { UserError } from '../lib/core/errors';

test('the last cell writes out/<model folder name>-piece.mid, for a name of models/ and for a path alike', () => {
  assert.equal(pieceFile('piano'), 'out/piano-piece.mid');
  assert.equal(pieceFile('/tmp/runs/m2'), 'out/m2-piece.mid');
  assert.equal(pieceFile('runs/m2/'), 'out/m2-piece.mid');
});

test('modelFolder: a shipped name, a path, and an unknown name as a one-line error listing the models', () => {
  const log = console.log;
  console.log = () => undefined;
  try {
    assert.equal(modelFolder('piano'), path.join('models', 'piano'));
    assert.equal(modelFolder('models/folk'), 'models/folk');
    assert.throws(
      () => modelFolder('nosuch'),
      (e: unknown) => e instanceof UserError && /^no model "nosuch" in models\/: set modelName to one of .*piano/.test(e.message),
    );
  } finally {
    console.log = log;
  }
});
