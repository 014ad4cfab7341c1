/**
 * Generating new music: copy the weights out of the model, warm the LSTM
 * state on a primer, then sample one token at a time, carrying the state,
 * until the requested number of events is written; decode to a Piece.
 * Same seed and settings → the same tokens → byte-identical MIDI.
 *
 * {@link generateMusic} is the one path the notebook, the CLI and the
 * evaluation all call.
 */
import { DEFAULT_BPM, type Note, type Piece } from '../core/piece';
import { createRng, type Rng } from '../core/rng';
import { runSteps, runStepsStoppable } from '../core/steps';
import { checkInt, checkNumber } from '../core/check';
import { advance, initialState, NonFiniteOutput, readInferenceWeights, type InferenceWeights, type LstmState, type Prediction } from '../model/inference';
import type { MusicModel } from '../model/network';
import { grammarStart } from '../tokens/grammar';
import type { GrammarState } from '../tokens/scheme';
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
  /**
   * Tokens of context the model conditions on (0 = all, the state carried
   * from the first token). With C > 0 the state holds at most the last C
   * tokens: when a new token would make it C + 1, the state restarts from
   * zeros and reads the last C/2 tokens (the new one included), so it always
   * holds between C/2 and C. The model then samples from states like those it
   * was trained on (windows read from a zero state), never one thousands of
   * tokens deep. Costs about twice the forward steps.
   */
  readonly context?: number;
}

export const DEFAULT_GENERATE_CONFIG: GenerateConfig = { ...DEFAULT_SAMPLING_CONFIG, length: 200, seed: 1, primerLength: 32 };

/**
 * The most events one generation may write. Sampling itself holds little (the
 * LSTM state is carried, not the context: the heap stays flat at ~40 MB over
 * 8,000 events); what grows is the result, measured at under 400 bytes an
 * event (ids, tokens, ~1.5 notes), and the MIDI encoding of those notes, about
 * 1 KB an event at its peak. So 100,000 events stay near 150 MB, well inside
 * Node's default heap of 2–4 GB, take about 3 minutes to sample on one core,
 * and are some 100,000 beats of music (hours at any tempo). A million would
 * need a gigabyte and more and half an hour of sampling, for no piece anyone
 * listens to.
 */
const MAX_GENERATE_LENGTH = 100_000;

/** Throws a RangeError naming the bad parameter and its allowed range. */
export function validateGenerateConfig(c: GenerateConfig): GenerateConfig {
  validateSamplingConfig(c);
  checkInt('length', c.length, 1, MAX_GENERATE_LENGTH);
  checkInt('seed', c.seed, 0, 2 ** 32 - 1);
  checkInt('primerLength', c.primerLength, 1, 100_000);
  if (c.context !== undefined && c.context !== 0) checkInt('context', c.context, 8, 100_000);
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
  /**
   * Those new notes, read with the primer in front so they keep its meter,
   * tempo and instruments (the new tokens decoded alone would lose them: a 3/4
   * primer's continuation would read as 4/4).
   */
  readonly continuation: readonly Note[];
  readonly piece: Piece;
  /** Wall time of the sampling loop in seconds. */
  readonly seconds: number;
}

/**
 * The notes of `whole` that are not among `primer`'s: a note of the primer
 * (matched by pitch, onset and program; the primer is a prefix of the tokens,
 * so its notes start where they do in the whole piece) is taken out once.
 * Inputs are not modified.
 */
function notesAfter(whole: readonly Note[], primer: readonly Note[]): Note[] {
  const key = (n: Note): string => `${n.pitch}:${n.start}:${n.program ?? 0}:${n.drum === true}`;
  const left = new Map<string, number>();
  for (const n of primer) left.set(key(n), (left.get(key(n)) ?? 0) + 1);
  return whole.filter((n) => {
    const k = key(n);
    const c = left.get(k) ?? 0;
    if (c === 0) return true;
    left.set(k, c - 1);
    return false;
  });
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
 * Inference weights are copied out and freed here. Throws a
 * {@link NonFiniteOutput} when the model's scores are not finite (damaged weights).
 */
export function generateMusic(model: MusicModel, vocab: Vocabulary, primer: Primer, config: GenerateConfig, options: GenerateOptions = {}): Generated {
  return runSteps(generation(model, vocab, primer, config, options));
}

/** Options of a generation that can be stopped. */
export interface StoppableGenerateOptions extends GenerateOptions {
  /** Polled each time the event loop has turned (so signal handlers have run); true stops. */
  readonly shouldStop: () => boolean;
}

/**
 * {@link generateMusic} that lets the event loop turn every few milliseconds
 * (so Ctrl-C and SIGTERM are heard) and returns null, having decoded
 * nothing, once `shouldStop()` is true. The same tokens for the same inputs.
 */
export function generateMusicAsync(
  model: MusicModel,
  vocab: Vocabulary,
  primer: Primer,
  config: GenerateConfig,
  options: StoppableGenerateOptions,
): Promise<Generated | null> {
  return runStepsStoppable(generation(model, vocab, primer, config, options), options.shouldStop);
}

/** The one generation path: a step per sampled token (see {@link generateMusic}); the value at the end is the piece. */
function* generation(model: MusicModel, vocab: Vocabulary, primer: Primer, config: GenerateConfig, options: GenerateOptions): Generator<void, Generated, void> {
  validateGenerateConfig(config);
  const opening = withControls(vocab, transposePrimer(vocab, primer, config.transpose ?? 0), config);
  const weights = readInferenceWeights(model);
  try {
    const started = performance.now();
    const rng = createRng(config.seed ^ 0x9e3779b9);
    const { ids, events } = yield* sampleTokens(weights, vocab, opening.ids, config, rng, controlMask(vocab, config), options.onProgress);
    const seconds = (performance.now() - started) / 1000;
    const tokens = decodeIds(vocab, ids);
    const remi = vocab.config.scheme === 'remi';
    const decode = {
      name: options.name ?? 'generated',
      bpm: config.bpm ?? (remi ? undefined : (primer.bpm ?? DEFAULT_BPM)),
      program: config.programs?.[0],
      timeSignature: remi ? undefined : (config.timeSignature ?? primer.timeSignature),
    };
    const piece = tokensToPiece(tokens, vocab.config, decode);
    const primerLength = opening.ids.length;
    const primerBeats = firstNewBeat(tokens, primerLength, vocab);
    const continuation = notesAfter(piece.notes, tokensToPiece(tokens.slice(0, primerLength), vocab.config, decode).notes);
    return { ids, tokens, primerLength, primerBeats, events, newNotes: continuation.length, continuation, piece, seconds };
  } finally {
    weights.dispose();
  }
}

/**
 * The sampling loop: reads the primer, then samples tokens under the
 * scheme's grammar (its state machine, which reads the primer too, where the
 * scheme has one: remi) and the controls until `config.length` events are
 * written (an event's duration is always completed). Returns the primer and
 * new ids; yields after every token.
 */
function* sampleTokens(
  weights: InferenceWeights,
  vocab: Vocabulary,
  primer: readonly number[],
  config: GenerateConfig,
  rng: Rng,
  control: Float32Array | null,
  onProgress?: GenerateProgress,
): Generator<void, { ids: number[]; events: number }, void> {
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const scheme = schemeOf(vocab.config);
  const read = contextReader(weights, config.context ?? 0);
  // The grammar reads the primer too, so it starts where the primer ends.
  let grammar: GrammarState = grammarStart(vocab).after(primer[0]);
  const ids = [primer[0]];
  let r = read(ids);
  for (let i = 1; i < primer.length; i++) {
    grammar = grammar.after(primer[i]);
    ids.push(primer[i]);
    r = read(ids);
    yield;
  }
  let events = 0;
  const maxTokens = primer.length + config.length * 16 + 64;
  while (events < config.length && ids.length < maxTokens) {
    const next = sampleToken(r.logits, config, rng, withControl(grammar.allowed(), control));
    ids.push(next);
    grammar = grammar.after(next);
    r = read(ids);
    if (vocab.tokens[next].kind === 'event') {
      events++;
      if (onProgress && (events % 25 === 0 || events === config.length)) onProgress(events, config.length);
    }
    yield;
  }
  // Finish the last note (its velocity and duration) with the most likely tokens.
  for (let k = 0; k < 4 && scheme.needsMore(vocab.tokens[ids[ids.length - 1]]); k++) {
    const next = sampleToken(r.logits, { ...config, temperature: 1e-3, topK: 1 }, rng, withControl(grammar.allowed(), control));
    ids.push(next);
    grammar = grammar.after(next);
    r = read(ids);
  }
  return { ids, events };
}

/**
 * Reads a growing token sequence into the LSTM state, one call per new token
 * (the last of `ids`), and returns the prediction after it. With `context` C
 * > 0, once the state holds C tokens, the next call starts from zeros again
 * and reads the last C/2 tokens, the new one included (see
 * {@link GenerateConfig.context}).
 */
function contextReader(weights: InferenceWeights, context: number): (ids: readonly number[]) => Prediction {
  let state = initialState(weights);
  let read = 0;
  return (ids) => {
    let from = ids.length - 1;
    if (context > 0 && read >= context) {
      from = ids.length - Math.floor(context / 2);
      state = initialState(weights);
      read = 0;
    }
    let r: Prediction | null = null;
    for (let i = from; i < ids.length; i++) {
      r = checkedAdvance(weights, state, ids[i], i);
      state = r.state;
      read++;
    }
    if (!r) throw new RangeError(`context ${context}: no token to read`);
    return r;
  };
}

/** {@link advance}, failing when the scores it gives are not finite (the weights are damaged: sampling would pick garbage). */
function checkedAdvance(weights: InferenceWeights, state: LstmState, token: number, position: number): Prediction {
  const r = advance(weights, state, token);
  for (let j = 0; j < r.logits.length; j++) {
    if (!Number.isFinite(r.logits[j])) throw new NonFiniteOutput(`generating: the scores after token ${position + 1} are not finite (${r.logits[j]})`);
  }
  return r;
}

/** The grammar's mask with the control mask applied, where that leaves some token allowed (else the grammar's alone). */
function withControl(grammar: Float32Array, control: Float32Array | null): Float32Array {
  if (!control) return grammar;
  const both = new Float32Array(grammar.length);
  let any = false;
  for (let j = 0; j < both.length; j++) {
    both[j] = grammar[j] * control[j];
    if (both[j] > 0) any = true;
  }
  return any ? both : grammar;
}

/** Beat of the first event after the primer (where new material begins). */
function firstNewBeat(tokens: readonly Token[], primerLength: number, vocab: Vocabulary): number {
  let k = primerLength;
  while (k < tokens.length && tokens[k].kind !== 'event') k++;
  return schemeOf(vocab.config).beatsAfter(tokens.slice(0, k), vocab.config);
}
