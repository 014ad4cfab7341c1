/**
 * What one generation is asked for, in three parts: how to sample (./sample),
 * what to keep (./controls), and how long to run from which seed (here). The
 * primer is chosen before generation, so its length is not among them
 * (see ./primer).
 */
import { checkInt } from '../core/check';
import type { GenerationControls } from './controls';
import type { SamplingConfig } from './sample';

/** How long a generation runs, from which seed, with how much context. */
export interface RunSettings {
  /** New events (notes or chords) to write after the primer. */
  readonly length: number;
  /** RNG seed of the sampling. */
  readonly seed: number;
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

/** Run defaults: 200 events, seed 1, all the context. */
export const DEFAULT_RUN_SETTINGS: RunSettings = { length: 200, seed: 1 };

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

/** Throws a RangeError naming the bad run setting and its allowed range. */
export function validateRunSettings(r: RunSettings): RunSettings {
  checkInt('length', r.length, 1, MAX_GENERATE_LENGTH);
  checkInt('seed', r.seed, 0, 2 ** 32 - 1);
  if (r.context !== undefined && r.context !== 0) checkInt('context', r.context, 8, 100_000);
  return r;
}

/** The settings of one generation, in parts. */
export interface GenerationSettings {
  /**
   * How to sample; a setting left out takes its default, and the top-p the
   * model's scheme's (resolved in generation, see ./sample `resolveSampling`).
   */
  readonly sampling: Partial<SamplingConfig>;
  /** What the output keeps: meter, tempo, instruments, dynamics, key ({} = as the model likes). */
  readonly controls: GenerationControls;
  readonly run: RunSettings;
}

/** Generation defaults: default sampling, no controls, {@link DEFAULT_RUN_SETTINGS}. */
export const DEFAULT_GENERATION_SETTINGS: GenerationSettings = { sampling: {}, controls: {}, run: DEFAULT_RUN_SETTINGS };
