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
import { controlMask, transposePrimer, validateControls, withControls, type GenerationControls } from './controls';
import type { Primer } from './primer';
import { DEFAULT_SAMPLING_CONFIG, sampleToken, validateSamplingConfig, type SamplingConfig } from './sample';

/** Generation settings: sampling, length, seed, primer length, and the controls (meter, tempo, instruments, dynamics, key). */
export interface GenerateConfig extends SamplingConfig, GenerationControls {
  /** New events (notes or chords) to write after the primer. */
  readonly length: number;
  /** RNG seed for the primer choice and sampling. */
  readonly seed: number;
  /** Tokens of primer taken from the data or the primer file. */
  readonly primerLength: number;
}

export const DEFAULT_GENERATE_CONFIG: GenerateConfig = { ...DEFAULT_SAMPLING_CONFIG, length: 200, seed: 1, primerLength: 32 };

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateGenerateConfig(c: GenerateConfig): GenerateConfig {
  validateSamplingConfig(c);
  checkInt('length', c.length, 1, 1_000_000);
  checkInt('seed', c.seed, 0, 2 ** 32 - 1);
  checkInt('primerLength', c.primerLength, 1, 100_000);
  if (c.bpm !== undefined) checkNumber('bpm', c.bpm, (v) => v >= 10 && v <= 400, 'in [10, 400]');
  validateControls(c);
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
 * them. The controls in `config` steer a remi model (see ./controls) and set
 * the exported tempo, meter and instrument; the tempo is decided here only:
 * `config.bpm`, else the tokens' (remi) or the primer's, else 120. A remi
 * piece's meter comes from its tokens; others get the asked or the primer's.
 * Inference weights are copied out and freed here.
 */
export function generateMusic(model: MusicModel, vocab: Vocabulary, primer: Primer, config: GenerateConfig, options: GenerateOptions = {}): Generated {
  validateGenerateConfig(config);
  const opening = withControls(vocab, transposePrimer(vocab, primer, config.transpose ?? 0), config);
  const weights = readInferenceWeights(model);
  try {
    const started = performance.now();
    const rng = createRng(config.seed ^ 0x9e3779b9);
    const { ids, events } = sampleTokens(weights, vocab, opening.ids, config, rng, controlMask(vocab, config), options.onProgress);
    const seconds = (performance.now() - started) / 1000;
    const tokens = decodeIds(vocab, ids);
    const remi = vocab.config.scheme === 'remi';
    const piece = tokensToPiece(tokens, vocab.config, {
      name: options.name ?? 'generated',
      bpm: config.bpm ?? (remi ? undefined : (primer.bpm ?? DEFAULT_BPM)),
      program: config.programs?.[0],
      timeSignature: remi ? undefined : (config.timeSignature ?? primer.timeSignature),
    });
    const primerBeats = firstNewBeat(tokens, opening.ids.length, vocab);
    const newNotes = piece.notes.filter((n) => n.start >= primerBeats).length;
    return { ids, tokens, primerLength: opening.ids.length, primerBeats, events, newNotes, piece, seconds };
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
  control: Float32Array | null,
  onProgress?: GenerateProgress,
): { ids: number[]; events: number } {
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const masks = combinedMasks(grammarMasks(vocab), control);
  const scheme = schemeOf(vocab.config);
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
  // Finish the last note (its velocity and duration) with the most likely tokens.
  for (let k = 0; k < 4 && scheme.needsMore(vocab.tokens[ids[ids.length - 1]]); k++) {
    const next = sampleToken(r.logits, { ...config, temperature: 1e-3, topK: 1 }, rng, masks[ids[ids.length - 1]]);
    ids.push(next);
    r = advance(weights, r.state, next);
  }
  return { ids, events };
}

/** Grammar masks with the control mask applied (where that leaves some token allowed). */
function combinedMasks(grammar: readonly Float32Array[], control: Float32Array | null): readonly Float32Array[] {
  if (!control) return grammar;
  const cache = new Map<Float32Array, Float32Array>();
  return grammar.map((g) => {
    let m = cache.get(g);
    if (!m) {
      const both = g.map((v, j) => v * control[j]);
      m = both.some((v) => v > 0) ? both : g;
      cache.set(g, m);
    }
    return m;
  });
}

/** Beat of the first event after the primer (where new material begins). */
function firstNewBeat(tokens: readonly Token[], primerLength: number, vocab: Vocabulary): number {
  let k = primerLength;
  while (k < tokens.length && tokens[k].kind !== 'event') k++;
  return schemeOf(vocab.config).beatsAfter(tokens.slice(0, k), vocab.config);
}
