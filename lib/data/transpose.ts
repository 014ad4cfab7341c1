/**
 * Random pitch transposition of training windows (data augmentation): every
 * pitched note of a window moves by the same number of semitones, drawn per
 * window from [−max, max] and narrowed so that every note stays in the MIDI
 * range 0–127. Drum notes never move. It needs a scheme with one pitch per
 * token (`remi`); chords of `timed`/`classic` would leave the vocabulary.
 */
import { createRng, deriveSeed } from '../core/rng';
import type { Vocabulary } from '../tokens/vocabulary';

/** How to transpose the ids of one vocabulary. */
export interface Transposer {
  /** Largest shift in semitones. */
  readonly maxSemitones: number;
  /** The pitch of each token id (−1 for tokens that are not a single pitch). */
  readonly pitchOf: Int16Array;
  /** The id of the note token of each pitch 0–127. */
  readonly idOfPitch: Int32Array;
}

/** A transposer for the vocabulary, or a RangeError when its scheme writes chords. */
export function makeTransposer(vocab: Vocabulary, maxSemitones: number): Transposer {
  if (vocab.tokens.some((t) => t.kind === 'event' && t.pitches.length > 1) || vocab.config.scheme !== 'remi') {
    throw new RangeError(`transpose needs the remi scheme (one pitch per token); the ${vocab.config.scheme} scheme writes chords`);
  }
  const pitchOf = new Int16Array(vocab.tokens.length).fill(-1);
  const idOfPitch = new Int32Array(128).fill(-1);
  vocab.tokens.forEach((t, id) => {
    if (t.kind === 'event') {
      pitchOf[id] = t.pitches[0];
      idOfPitch[t.pitches[0]] = id;
    }
  });
  if (idOfPitch.some((id) => id < 0)) throw new RangeError('transpose needs a note token for every pitch 0–127');
  return { maxSemitones, pitchOf, idOfPitch };
}

/**
 * Transposes `ids` (a window) in place by a shift drawn from `seed`, only at
 * positions where `pitched` is 1. Returns the shift used (0 when the window
 * has no pitched note).
 */
export function transposeWindow(tr: Transposer, ids: Int32Array, pitched: Uint8Array, seed: number): number {
  let lo = 127;
  let hi = 0;
  for (let i = 0; i < ids.length; i++) {
    if (!pitched[i]) continue;
    const p = tr.pitchOf[ids[i]];
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  if (lo > hi) return 0;
  const down = Math.min(tr.maxSemitones, lo);
  const up = Math.min(tr.maxSemitones, 127 - hi);
  const shift = Math.floor(createRng(seed).next() * (down + up + 1)) - down;
  if (shift === 0) return 0;
  for (let i = 0; i < ids.length; i++) if (pitched[i]) ids[i] = tr.idOfPitch[tr.pitchOf[ids[i]] + shift];
  return shift;
}

/** The seed of one window's shift: the same for a window whatever the order batches are built in. */
export function windowSeed(seed: number, epoch: number, piece: number, start: number): number {
  return deriveSeed(deriveSeed(seed, epoch), piece * 1_000_003 + start);
}
