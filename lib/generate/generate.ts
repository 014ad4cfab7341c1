/**
 * Generating new music: resolve the settings (sampling, controls, run), copy
 * the weights out of the model, read the primer (transposed, and for remi
 * ended with a bar in the asked meter, tempo and instrument) into the LSTM
 * state, then sample one token at a time under the scheme's grammar and the
 * control mask, carrying the state (restarted on a window when `run.context`
 * is set), until the requested number of events is written; finish the last
 * note with the most likely tokens and decode to a Piece. A model of the
 * note family reads and samples the same tokens under the same masks, its
 * LSTM advancing once per note step (./note-sampling.ts).
 * Same seed and settings → the same tokens → byte-identical MIDI.
 *
 * One generator, `generation`, is the path every caller takes:
 * {@link generateMusic} runs it to the end (the notebook),
 * {@link generateMusicAsync} yields between tokens and can be stopped (the
 * CLI and the evaluation).
 */
import { DEFAULT_BPM, type Note, type Piece } from '../core/piece';
import { createRng } from '../core/rng';
import { runSteps, runStepsStoppable } from '../core/steps';
import { advance, initialState, readInferenceWeights, type InferenceWeights, type LstmState, type Prediction } from '../model/inference';
import { stepOptionsOf } from '../model/config';
import { readNoteInferenceWeights } from '../model/note-inference';
import type { MusicModel } from '../model/network';
import { grammarStart } from '../tokens/grammar';
import type { GrammarState } from '../tokens/scheme';
import { schemeOf, tokensToPiece } from '../tokens/tokenize';
import type { Token } from '../tokens/token';
import { decodeIds, type Vocabulary } from '../tokens/vocabulary';
import { controlMask, transposePrimer, validateControls, withControls } from './controls';
import { allowedNext, checkFinite, contextWindow, type Draw, type GenerateProgress, type Sampler } from './draw';
import { startKeeping } from './keep';
import { noteSampler } from './note-sampling';
import type { Primer } from './primer';
import { mostLikelyToken, resolveSampling, sampleToken, type SamplingConfig } from './sample';
import { validateRunSettings, type GenerationSettings } from './settings';

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
  /** The sampling settings it was drawn with (where none was asked, the default; the top-p is the model's scheme's). */
  readonly sampling: SamplingConfig;
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

/** Options of one generation run. */
export interface GenerateOptions {
  /** Name of the generated piece. */
  readonly name?: string;
  readonly onProgress?: GenerateProgress;
}

/**
 * Generates `settings.run.length` events after the primer with `model`, and
 * decodes them. The sampling settings left out are resolved here, the top-p
 * from the model's scheme (see ./sample `resolveSampling`). The controls steer
 * a remi model (see ./controls) and set the exported tempo, meter and
 * instrument; the tempo is decided here only: the asked bpm, else the tokens'
 * (remi) or the primer's, else 120. A remi piece's meter comes from its
 * tokens; others get the asked or the primer's. Inference weights are copied
 * out and freed here. Throws a RangeError naming a bad setting, and a
 * {@link NonFiniteOutput} when the model's scores are not finite (damaged weights).
 */
export function generateMusic(
  model: MusicModel,
  vocab: Vocabulary,
  primer: Primer,
  settings: GenerationSettings,
  options: GenerateOptions = {},
): Generated {
  return runSteps(generation(model, vocab, primer, settings, options));
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
  settings: GenerationSettings,
  options: StoppableGenerateOptions,
): Promise<Generated | null> {
  return runStepsStoppable(generation(model, vocab, primer, settings, options), options.shouldStop);
}

/** The one generation path: a step per sampled token (see {@link generateMusic}); the value at the end is the piece. */
function* generation(
  model: MusicModel,
  vocab: Vocabulary,
  primer: Primer,
  settings: GenerationSettings,
  options: GenerateOptions,
): Generator<void, Generated, void> {
  const sampling = resolveSampling(settings.sampling, vocab.config.scheme);
  const controls = validateControls(settings.controls);
  const run = validateRunSettings(settings.run);
  const opening = withControls(vocab, transposePrimer(vocab, primer, controls.transpose ?? 0), controls);
  const sampler = samplerFor(model);
  try {
    const started = performance.now();
    const rng = createRng(run.seed ^ 0x9e3779b9);
    const draw = { sampling, run, rng, control: controlMask(vocab, controls), keeper: startKeeping(vocab, controls, opening.ids.length) };
    const { ids, events } = yield* sampler.sample(vocab, opening.ids, draw, options.onProgress);
    const seconds = (performance.now() - started) / 1000;
    const tokens = decodeIds(vocab, ids);
    const remi = vocab.config.scheme === 'remi';
    const decode = {
      name: options.name ?? 'generated',
      bpm: controls.bpm ?? (remi ? undefined : (primer.bpm ?? DEFAULT_BPM)),
      program: controls.programs?.[0],
      timeSignature: remi ? undefined : (controls.timeSignature ?? primer.timeSignature),
    };
    const piece = tokensToPiece(tokens, vocab.config, decode);
    const primerLength = opening.ids.length;
    const primerBeats = firstNewBeat(tokens, primerLength, vocab);
    const continuation = notesAfter(piece.notes, tokensToPiece(tokens.slice(0, primerLength), vocab.config, decode).notes);
    return { ids, tokens, primerLength, primerBeats, events, newNotes: continuation.length, continuation, piece, seconds, sampling };
  } finally {
    sampler.dispose();
  }
}

/**
 * The model's weights read out for inference, and its family's sampling
 * loop over them: one LSTM step per token ({@link sampleTokens}), or per
 * note for the note family (./note-sampling.ts). dispose() frees the weights.
 */
function samplerFor(model: MusicModel): { readonly sample: Sampler; readonly dispose: () => void } {
  if (model.config.family === 'note') {
    const weights = readNoteInferenceWeights(model);
    return { sample: noteSampler(weights, stepOptionsOf(model.config)), dispose: () => weights.dispose() };
  }
  const weights = readInferenceWeights(model);
  return {
    sample: (vocab, primer, draw, onProgress) => sampleTokens(weights, vocab, primer, draw, onProgress),
    dispose: () => weights.dispose(),
  };
}

/**
 * The sampling loop: reads the primer, then samples tokens under the
 * scheme's grammar (its state machine, which reads the primer too, where the
 * scheme has one: remi), the controls and what the piece keeps (its meter
 * and band: ./keep.ts) until `run.length` events are
 * written; then the last event's velocity and duration are completed with
 * the most likely tokens. Returns the primer and new ids; yields after every
 * token.
 */
function* sampleTokens(
  weights: InferenceWeights,
  vocab: Vocabulary,
  primer: readonly number[],
  { sampling, run, rng, control, keeper }: Draw,
  onProgress?: GenerateProgress,
): Generator<void, { ids: number[]; events: number }, void> {
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const scheme = schemeOf(vocab.config);
  let grammar: GrammarState = grammarStart(vocab);
  const ids: number[] = [];
  // The token at `at` into the state (restarted on a window with run.context): the scores after it.
  const advanceTo = contextWindow(
    run.context ?? 0,
    () => initialState(weights),
    (state: LstmState, at: number) => {
      const r = checkedAdvance(weights, state, ids[at], at);
      return { state: r.state, out: r };
    },
  );
  /** `id` as the piece's next token: the grammar, the keeper and the state read it (the primer too, so all start where it ends). */
  const take = (id: number): Prediction => {
    ids.push(id);
    grammar = grammar.after(id);
    keeper.read(id);
    return advanceTo(ids.length - 1);
  };
  let r = take(primer[0]);
  for (let i = 1; i < primer.length; i++) {
    r = take(primer[i]);
    yield;
  }
  let events = 0;
  const maxTokens = primer.length + run.length * 16 + 64;
  while (events < run.length && ids.length < maxTokens) {
    const next = sampleToken(r.logits, sampling, rng, allowedNext(grammar.allowed(), control, keeper.mask()));
    r = take(next);
    if (vocab.tokens[next].kind === 'event') {
      events++;
      if (onProgress && (events % 25 === 0 || events === run.length)) onProgress(events, run.length);
    }
    yield;
  }
  // Finish the last note (its velocity and duration) with the most likely tokens.
  for (let k = 0; k < 4 && scheme.needsMore(vocab.tokens[ids[ids.length - 1]]); k++) {
    r = take(mostLikelyToken(r.logits, allowedNext(grammar.allowed(), control, keeper.mask())));
  }
  return { ids, events };
}

/** {@link advance}, failing when the scores it gives are not finite (the weights are damaged: sampling would pick garbage). */
function checkedAdvance(weights: InferenceWeights, state: LstmState, token: number, position: number): Prediction {
  const r = advance(weights, state, token);
  checkFinite(r.logits, `after token ${position + 1}`);
  return r;
}

/** Beat of the first event after the primer (where new material begins). */
function firstNewBeat(tokens: readonly Token[], primerLength: number, vocab: Vocabulary): number {
  let k = primerLength;
  while (k < tokens.length && tokens[k].kind !== 'event') k++;
  return schemeOf(vocab.config).beatsAfter(tokens.slice(0, k), vocab.config);
}
