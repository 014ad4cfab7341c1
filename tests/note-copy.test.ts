/**
 * Copy ids in generation (lib/generate/note-sampling.ts with a note model
 * that has `copy`): the head's "bar −1's note from here again" writes that
 * note, so a model that always copies when it can repeats its bars, and one
 * that never copies does not. The pieces are valid remi, and their tokens
 * code back into the copies the head chose.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { controlsPrimer } from '../lib/generate/controls';
import { generateMusic } from '../lib/generate/generate';
import { structureStats } from '../lib/evaluate/structure';
import { initBackend } from '../lib/model/backend';
import { varList, type MusicModel } from '../lib/model/network';
import { loadMidiFolder } from '../lib/midi/read';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { copyBack, copyId, STEP_SLOTS, toSteps } from '../lib/tokens/steps';
import { tokensToPiece } from '../lib/tokens/tokenize';
import { buildVocabulary, decodeIds, type Vocabulary } from '../lib/tokens/vocabulary';
import { DATA_DIR, tinyNoteModel } from './helpers';

let vocab: Vocabulary;

before(async () => {
  await initBackend();
  vocab = buildVocabulary(loadMidiFolder(DATA_DIR).pieces, DEFAULT_TOKENIZER_CONFIG);
});

/** A random tiny note model whose output bias adds `copyBias` to both copy ids' scores. */
function modelWithCopyBias(copyBias: number): MusicModel {
  const model = tinyNoteModel(vocab.tokens.length, 3);
  varList(model.vars).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 300 + i)));
  const bias = Array.from(model.vars.outBias.dataSync());
  bias[copyId(vocab, 1)] += copyBias;
  bias[copyId(vocab, 2)] += copyBias;
  model.vars.outBias.assign(tf.tensor1d(bias));
  return model;
}

/** 300 notes in 4/4 from nothing, seed 4: the piece, and how many of its steps code as copies. */
function generated(model: MusicModel): { repetition: number; copies: number; notes: number } {
  const primer = controlsPrimer(vocab, { timeSignature: [4, 4], bpm: 100 });
  const g = generateMusic(model, vocab, primer, { sampling: {}, controls: {}, run: { length: 300, seed: 4 } });
  assert.equal(g.events, 300);
  // Valid remi: the ids decode and rebuild the same piece.
  assert.deepEqual(tokensToPiece(decodeIds(vocab, g.ids), vocab.config).notes, g.piece.notes);
  const st = toSteps(vocab, g.ids, { lookback: true, copy: true });
  let copies = 0;
  for (let s = 0; s < st.count; s++) if (copyBack(vocab, st.groups[s * STEP_SLOTS]) > 0) copies++;
  return { repetition: structureStats(g.piece).barRepetition, copies, notes: g.piece.notes.length };
}

test('a note model that always copies when it can repeats its bars; one that never copies does not', (t) => {
  const always = modelWithCopyBias(60);
  const never = modelWithCopyBias(-60);
  try {
    const a = generated(always);
    const n = generated(never);
    t.diagnostic(
      `always: ${a.copies} copies in ${a.notes} notes, bar repetition ${a.repetition.toFixed(3)}; never: ${n.copies}, ${n.repetition.toFixed(3)}`,
    );
    assert.equal(n.copies, 0, 'never: no step codes as a copy');
    assert.ok(a.copies > 0.5 * a.notes, `always: most notes are copies (${a.copies} of ${a.notes})`);
    assert.ok(a.repetition > 0.6, `always: bars repeat (${a.repetition})`);
    assert.ok(n.repetition < 0.1, `never: bars do not repeat (${n.repetition})`);
  } finally {
    always.net.dispose();
    never.net.dispose();
  }
});
