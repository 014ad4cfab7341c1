/**
 * The note family's sampling loop (a model whose LSTM advances once per
 * step: ../model/note-network.ts), with the contract of the token family's
 * (./draw.ts `Sampler`): the same grammar, control and keeping masks, the
 * same sampling, events counted the same way, a yield after every token.
 *
 * The primer is cut into steps (../tokens/steps.ts). Every complete group
 * goes through the main stack with its look-back, from a step reader fed
 * group by group and kept on through the generation. A last incomplete
 * group (the controls primer `<s> |` ends with a bar whose meter has not
 * come) is the forced start of the next step: the head reads it, then
 * samples on. A step is sampled slot by slot until a token ends it (bos, dur,
 * ts) or it has STEP_SLOTS tokens; then the main stack reads it. Once
 * `run.length` events are written, the step under way is completed with the
 * most likely tokens (the last note's velocity and duration: a note's group
 * ends at its dur), as the token family completes its last note.
 *
 * With copy ids (a model's `copy`), the head's first choice of a step may
 * also be "bar −1's (or −2's) note from here again", allowed when that note
 * exists and its tokens are allowed here: the step then writes that note's
 * position and pitch, samples its velocity, and ends with its duration. The
 * main stack reads every step in its canonical code, as in training (a note
 * spelled out that is a copy is read as the copy).
 *
 * `run.context` counts steps for this family (notes and bars, not tokens):
 * once the main state holds C steps, the next step restarts it from zeros
 * and it reads the last C/2 steps again (their look-back as it was read), as
 * the token family does with tokens.
 */
import { advanceStep, headStart, headStep, type HeadPrediction, type NoteInferenceWeights } from '../model/note-inference';
import { initialState, type LstmState } from '../model/inference';
import { grammarStart } from '../tokens/grammar';
import type { GrammarState } from '../tokens/scheme';
import {
  copyBack,
  copyId,
  COPY_BACKS,
  endsStep,
  STEP_SLOTS,
  startId,
  stepReader,
  toSteps,
  type CopiedNote,
  type StepOptions,
} from '../tokens/steps';
import { schemeOf } from '../tokens/tokenize';
import type { Vocabulary } from '../tokens/vocabulary';
import { allowedNext, checkFinite, contextWindow, type Draw, type GenerateProgress, type Sampler } from './draw';
import { mostLikelyToken, sampleToken } from './sample';

/** One step as the main stack reads it: its code (tokens, or a copy id and velocity) and its look-back. */
interface Step {
  readonly group: readonly number[];
  readonly lookback: Int32Array;
  readonly flags: Float32Array;
}

/**
 * The note family's sampling loop over `weights` (see the file comment):
 * reads the primer, writes `run.length` events and completes the last note.
 * Returns the primer and new ids; yields after every token. `options` are
 * the model's (../model/config.ts stepOptionsOf). Throws a RangeError for an
 * empty primer or a vocabulary steps do not support (remi with the meter
 * after every bar only), and a NonFiniteOutput when the model's scores are
 * not finite.
 */
export function noteSampler(weights: NoteInferenceWeights, options: StepOptions): Sampler {
  return (vocab, primer, draw, onProgress) => sampleNoteSteps(weights, vocab, primer, draw, options, onProgress);
}

/** {@link noteSampler}'s loop. */
function* sampleNoteSteps(
  weights: NoteInferenceWeights,
  vocab: Vocabulary,
  primer: readonly number[],
  draw: Draw,
  options: StepOptions,
  onProgress?: GenerateProgress,
): ReturnType<Sampler> {
  const { sampling, run, rng, control, keeper } = draw;
  if (primer.length === 0) throw new RangeError('the primer is empty: it needs at least one token');
  const reader = stepReader(vocab, options);
  // A step into the main state (restarted on a window of steps with run.context): the top output after it.
  const read = contextWindow(
    run.context ?? 0,
    () => initialState(weights),
    (state: LstmState, s: Step) => {
      const r = advanceStep(weights, state, s.group, s.lookback, s.flags);
      return { state: r.state, out: r.h };
    },
  );
  /** The main stack reads a complete group of tokens, coded as in training. */
  const readGroup = (group: readonly number[]): Float32Array =>
    read({ group: options.copy ? reader.encode(group) : group, ...reader.read(group) });
  const start = startId(vocab, options);
  const scheme = schemeOf(vocab.config);
  const velocities = vocab.tokens.some((t) => t.kind === 'vel');
  const closes = (group: readonly number[]): boolean => group.length === STEP_SLOTS || endsStep(vocab.tokens[group[group.length - 1]]);
  let grammar: GrammarState = grammarStart(vocab);
  const ids: number[] = [];
  /** New events (the primer's are not counted). */
  let events = 0;
  const take = (id: number, counted = true): void => {
    ids.push(id);
    grammar = grammar.after(id);
    keeper.read(id);
    if (counted && vocab.tokens[id].kind === 'event') {
      events++;
      if (onProgress && (events % 25 === 0 || events === run.length)) onProgress(events, run.length);
    }
  };
  // The primer's complete steps into the main state; its last incomplete group (if any) is the next step's start.
  const cut = toSteps(vocab, primer, options);
  let h: Float32Array | null = null;
  let group: number[] = [];
  for (let s = 0; s < cut.count; s++) {
    group = primer.slice(cut.starts[s], cut.starts[s] + cut.spans[s]);
    group.forEach((id) => take(id, false));
    if (!closes(group)) break;
    h = readGroup(group);
    group = [];
    yield;
  }
  if (h === null) throw new RangeError("a note model's primer needs a complete first step (it opens with <s>)");
  /** The head from a step's start after `top` through its `forced` tokens (the last of `ids`): the scores of its next token. */
  const headThrough = (top: Float32Array, forced: readonly number[]): HeadPrediction => {
    const first = ids.length - forced.length;
    let p = checked(headStep(weights, headStart(weights, top), start), first);
    forced.forEach((id, k) => (p = checked(headStep(weights, p.state, id), first + k + 1)));
    return p;
  };
  /** The allowed ids here: the grammar's, controls' and keeper's tokens, and at a step's start the copy ids whose note is allowed. */
  const allowedHere = (copies: boolean): Float32Array => {
    const tokens = allowedNext(grammar.allowed(), control, keeper.mask());
    if (!copies) return tokens;
    const all = new Float32Array(weights.codeSize);
    all.set(tokens);
    for (let back = 1; back <= COPY_BACKS; back++) if (copyAllowed(reader.copyOf(back))) all[copyId(vocab, back)] = 1;
    return all;
  };
  /** Whether a copy's tokens are allowed one after another from here (with, between pitch and dur, the first velocity allowed). */
  const copyAllowed = (c: CopiedNote | null): boolean => {
    if (c === null) return false;
    const ok = (g: GrammarState, id: number): boolean => allowedNext(g.allowed(), control, keeper.mask())[id] > 0;
    let g = grammar;
    for (const id of c.before) {
      if (!ok(g, id)) return false;
      g = g.after(id);
    }
    if (velocities) g = g.after(g.allowed().findIndex((a) => a > 0));
    return ok(g, c.dur);
  };
  let out = headThrough(h, group);
  /** The copy under way: its dur still to write after the velocity. */
  let copying: CopiedNote | null = null;
  const maxTokens = primer.length + run.length * 16 + 64;
  while (ids.length < maxTokens) {
    const done = events >= run.length;
    if (done && group.length === 0 && !scheme.needsMore(vocab.tokens[ids[ids.length - 1]])) break;
    const allowed = allowedHere(options.copy && group.length === 0 && !done);
    const next = done ? mostLikelyToken(out.logits, allowed) : sampleToken(out.logits, sampling, rng, allowed);
    const back = copyBack(vocab, next);
    if (back > 0) {
      copying = reader.copyOf(back);
      if (copying === null) throw new Error(`copy:${back} was sampled with nothing to copy`);
      copying.before.forEach((id) => take(id));
      group.push(...copying.before);
    } else {
      take(next);
      group.push(next);
    }
    if (copying !== null && (!velocities || back === 0)) {
      take(copying.dur);
      group.push(copying.dur);
      copying = null;
    }
    if (copying !== null || !closes(group)) out = checked(headStep(weights, out.state, next), ids.length);
    else {
      // The step is complete: the main stack reads it, unless it was the last.
      if (events < run.length || scheme.needsMore(vocab.tokens[ids[ids.length - 1]])) out = headThrough(readGroup(group), []);
      group = [];
    }
    yield;
  }
  return { ids, events };
}

/** `p`, checked to have finite scores (those for token `position` + 1 of the piece). */
function checked(p: HeadPrediction, position: number): HeadPrediction {
  checkFinite(p.logits, `for token ${position + 1}`);
  return p;
}
