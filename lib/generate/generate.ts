/**
 * Generating new music: warm the LSTM state on a primer (a seed sequence from
 * the training data or a user's MIDI file), then sample one token per step,
 * carrying the state, until the requested number of events is written.
 * Same seed and settings → the same tokens → byte-identical MIDI.
 */
import type { EncodedPiece } from '../data/dataset';
import type { Piece } from '../core/piece';
import { createRng, type Rng } from '../core/rng';
import { DEFAULT_SAMPLING_CONFIG, sampleToken, validateSamplingConfig, type SamplingConfig } from './sample';
import { step, initialState, type LstmState, type StepWeights } from '../model/inference';
import { countEvents } from '../tokens/scheme';
import { tokensToPiece } from '../tokens/tokenize';
import type { Token } from '../tokens/token';
import { decodeIds, type Vocabulary } from '../tokens/vocabulary';
import { grammarMasks } from '../tokens/grammar';
import { checkInt, checkNumber } from '../core/check';

/** Generation settings. */
export interface GenerateConfig extends SamplingConfig {
  /** New events (notes or chords) to write after the primer. */
  readonly length: number;
  /** RNG seed for the primer choice and sampling. */
  readonly seed: number;
  /** Tokens of primer taken from the training data (when no primer is given). */
  readonly primerLength: number;
  /** Tempo of the exported MIDI (default: the primer piece's, else 120). */
  readonly bpm?: number;
  /** General-MIDI program of the exported MIDI (default 0, acoustic grand piano). */
  readonly program?: number;
}

export const DEFAULT_GENERATE_CONFIG: GenerateConfig = { ...DEFAULT_SAMPLING_CONFIG, length: 200, seed: 1, primerLength: 32 };

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateGenerateConfig(c: GenerateConfig): GenerateConfig {
  validateSamplingConfig(c);
  checkInt('length', c.length, 1, 1_000_000);
  checkInt('seed', c.seed, 0, 2 ** 32 - 1);
  checkInt('primerLength', c.primerLength, 1, 100_000);
  if (c.bpm !== undefined) checkNumber('bpm', c.bpm, (v) => v >= 10 && v <= 400, 'in [10, 400]');
  if (c.program !== undefined) checkInt('program', c.program, 0, 127);
  return c;
}

/** A generated piece with its tokens; the first `primerLength` tokens are the primer. */
export interface Generated {
  readonly ids: readonly number[];
  readonly tokens: readonly Token[];
  readonly primerLength: number;
  /** Beat at which the primer ends and new material begins. */
  readonly seedBeats: number;
  /** New events written (excluding the primer). */
  readonly events: number;
  readonly piece: Piece;
  /** Wall time of the sampling loop in seconds. */
  readonly seconds: number;
}

/**
 * Picks a primer of `length` tokens from the data: a seeded random piece and
 * a random start at an onset (a shift token), so decoding begins cleanly.
 */
export function primerFromData(pieces: readonly EncodedPiece[], vocab: Vocabulary, length: number, rng: Rng): number[] {
  const usable = pieces.filter((p) => p.ids.length > 0);
  if (usable.length === 0) throw new RangeError('no data to take a primer from');
  const piece = usable[Math.floor(rng.next() * usable.length)];
  const maxStart = Math.max(0, piece.ids.length - length);
  const starts: number[] = [];
  for (let i = 0; i <= maxStart; i++) if (i === 0 || vocab.tokens[piece.ids[i]].kind === 'shift') starts.push(i);
  const start = starts[Math.floor(rng.next() * starts.length)];
  return Array.from(piece.ids.subarray(start, start + length));
}

/** Generation progress (events written so far). */
export type GenerateProgress = (events: number, total: number) => void;

/**
 * Generates `config.length` events after the primer. Sampling follows the
 * tokenizer's grammar (an event is always followed by its duration).
 */
export function generate(
  weights: StepWeights,
  vocab: Vocabulary,
  primer: readonly number[],
  config: GenerateConfig,
  meta: { readonly bpm?: number; readonly timeSignature?: readonly [number, number]; readonly name?: string } = {},
  onProgress?: GenerateProgress,
): Generated {
  validateGenerateConfig(config);
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const rng = createRng(config.seed ^ 0x9e3779b9);
  const masks = grammarMasks(vocab);
  const started = performance.now();
  let state: LstmState = initialState(weights);
  let r = step(weights, state, primer[0]);
  for (let i = 1; i < primer.length; i++) r = step(weights, r.state, primer[i]);
  state = r.state;
  const ids = [...primer];
  let events = 0;
  const maxTokens = primer.length + config.length * 16 + 64;
  while (events < config.length && ids.length < maxTokens) {
    const last = ids[ids.length - 1];
    const next = sampleToken(r.logits, config, rng, masks[last]);
    ids.push(next);
    if (vocab.tokens[next].kind === 'event') {
      events++;
      if (onProgress && (events % 25 === 0 || events === config.length)) onProgress(events, config.length);
    }
    r = step(weights, state, next);
    state = r.state;
  }
  // Close a trailing event with its most likely duration.
  if (vocab.tokens[ids[ids.length - 1]].kind === 'event') ids.push(sampleToken(r.logits, { ...config, temperature: 1e-3, topK: 1 }, rng, masks[ids[ids.length - 1]]));
  const seconds = (performance.now() - started) / 1000;
  const tokens = decodeIds(vocab, ids);
  const piece = tokensToPiece(tokens, vocab.config, {
    name: meta.name ?? 'generated',
    bpm: config.bpm ?? meta.bpm ?? 120,
    program: config.program ?? 0,
    timeSignature: meta.timeSignature,
  });
  return { ids, tokens, primerLength: primer.length, seedBeats: firstNewOnset(tokens, primer.length, vocab), events, piece, seconds };
}

/** Beat of the first event after the primer (where new material begins). */
function firstNewOnset(tokens: readonly Token[], primerLength: number, vocab: Vocabulary): number {
  if (vocab.config.scheme === 'classic') return countEvents(tokens.slice(0, primerLength)) * vocab.config.classicStepBeats;
  let steps = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (i >= primerLength && t.kind === 'event') break;
    if (t.kind === 'shift') steps += t.steps;
  }
  return steps / vocab.config.stepsPerBeat;
}
