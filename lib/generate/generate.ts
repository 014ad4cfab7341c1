/**
 * Generating new music: copy the weights out of the model, warm the LSTM
 * state on a primer, then sample one token at a time, carrying the state,
 * until the requested number of events is written; decode to a Piece.
 * Same seed and settings → the same tokens → byte-identical MIDI.
 *
 * {@link generateMusic} is the one path the notebook, the CLI and the
 * evaluation all call.
 */
import { DEFAULT_BPM, type Piece } from '../core/piece';
import { createRng, type Rng } from '../core/rng';
import { checkInt, checkNumber } from '../core/check';
import { advance, advanceThrough, readInferenceWeights, type InferenceWeights } from '../model/inference';
import type { MusicModel } from '../model/network';
import { grammarMasks } from '../tokens/grammar';
import { schemeOf, tokensToPiece } from '../tokens/tokenize';
import type { Token } from '../tokens/token';
import { decodeIds, type Vocabulary } from '../tokens/vocabulary';
import type { Primer } from './primer';
import { DEFAULT_SAMPLING_CONFIG, sampleToken, validateSamplingConfig, type SamplingConfig } from './sample';

/** Generation settings. */
export interface GenerateConfig extends SamplingConfig {
  /** New events (notes or chords) to write after the primer. */
  readonly length: number;
  /** RNG seed for the primer choice and sampling. */
  readonly seed: number;
  /** Tokens of primer taken from the data or the primer file. */
  readonly primerLength: number;
  /** Tempo of the exported MIDI (default: the primer's, else 120). */
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
  readonly primerBeats: number;
  /** New events written (excluding the primer). */
  readonly events: number;
  /** New notes written (excluding the primer's). */
  readonly newNotes: number;
  readonly piece: Piece;
  /** Wall time of the sampling loop in seconds. */
  readonly seconds: number;
}

/** Generation progress (events written so far). */
type GenerateProgress = (events: number, total: number) => void;

/** Options of one generation run. */
export interface GenerateOptions {
  /** Name of the generated piece. */
  readonly name?: string;
  readonly onProgress?: GenerateProgress;
}

/**
 * Generates `config.length` events after the primer with `model`, and decodes
 * them. The tempo is `config.bpm`, else the primer's, else 120; the meter is
 * the primer's. Inference weights are copied out and freed here.
 */
export function generateMusic(model: MusicModel, vocab: Vocabulary, primer: Primer, config: GenerateConfig, options: GenerateOptions = {}): Generated {
  validateGenerateConfig(config);
  const weights = readInferenceWeights(model);
  try {
    const started = performance.now();
    const { ids, events } = sampleTokens(weights, vocab, primer.ids, config, createRng(config.seed ^ 0x9e3779b9), options.onProgress);
    const seconds = (performance.now() - started) / 1000;
    const tokens = decodeIds(vocab, ids);
    const piece = tokensToPiece(tokens, vocab.config, {
      name: options.name ?? 'generated',
      bpm: config.bpm ?? primer.bpm ?? DEFAULT_BPM,
      program: config.program ?? 0,
      timeSignature: primer.timeSignature,
    });
    const primerBeats = firstNewBeat(tokens, primer.ids.length, vocab);
    const newNotes = piece.notes.filter((n) => n.start >= primerBeats).length;
    return { ids, tokens, primerLength: primer.ids.length, primerBeats, events, newNotes, piece, seconds };
  } finally {
    weights.dispose();
  }
}

/**
 * The sampling loop: reads the primer, then samples tokens under the
 * scheme's grammar until `config.length` events are written (an event's
 * duration is always completed). Returns the primer and new ids.
 */
function sampleTokens(
  weights: InferenceWeights,
  vocab: Vocabulary,
  primer: readonly number[],
  config: GenerateConfig,
  rng: Rng,
  onProgress?: GenerateProgress,
): { ids: number[]; events: number } {
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const masks = grammarMasks(vocab);
  let r = advanceThrough(weights, primer);
  const ids = [...primer];
  let events = 0;
  const maxTokens = primer.length + config.length * 16 + 64;
  while (events < config.length && ids.length < maxTokens) {
    const next = sampleToken(r.logits, config, rng, masks[ids[ids.length - 1]]);
    ids.push(next);
    if (vocab.tokens[next].kind === 'event') {
      events++;
      if (onProgress && (events % 25 === 0 || events === config.length)) onProgress(events, config.length);
    }
    r = advance(weights, r.state, next);
  }
  // Close a trailing event with its most likely duration.
  const last = ids[ids.length - 1];
  if (vocab.tokens[last].kind === 'event') ids.push(sampleToken(r.logits, { ...config, temperature: 1e-3, topK: 1 }, rng, masks[last]));
  return { ids, events };
}

/** Beat of the first event after the primer (where new material begins). */
function firstNewBeat(tokens: readonly Token[], primerLength: number, vocab: Vocabulary): number {
  let k = primerLength;
  while (k < tokens.length && tokens[k].kind !== 'event') k++;
  return schemeOf(vocab.config).beatsAfter(tokens.slice(0, k), vocab.config);
}
