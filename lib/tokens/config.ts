/**
 * Tokenizer settings, saved with the model in vocab.json. One object serves
 * every scheme; each scheme reads the fields it needs.
 */
import { checkInt, checkNumber } from '../core/check';

/** The tokenization schemes (one file each in lib/tokens/). */
const SCHEME_NAMES = ['timed', 'classic'] as const;
type SchemeName = (typeof SCHEME_NAMES)[number];

/** Tokenizer settings; saved with the model. */
export interface TokenizerConfig {
  readonly scheme: SchemeName;
  /** Grid resolution in steps per beat (4 = sixteenth notes). A "step" is always one grid cell. */
  readonly stepsPerBeat: number;
  /** Longest single shift token in steps; longer gaps use several. */
  readonly maxShiftSteps: number;
  /** Durations longer than this many steps are clamped to it. */
  readonly maxDurationSteps: number;
  /** Classic scheme: beats between decoded events and their duration. */
  readonly classicStepBeats: number;
  /** Velocity given to decoded notes. */
  readonly velocity: number;
}

export const DEFAULT_TOKENIZER_CONFIG: TokenizerConfig = {
  scheme: 'timed',
  stepsPerBeat: 4,
  maxShiftSteps: 16,
  maxDurationSteps: 64,
  classicStepBeats: 0.5,
  velocity: 90,
};

/** Checks a tokenizer config field by field; throws a RangeError naming the bad parameter and the allowed range. */
export function validateTokenizerConfig(c: TokenizerConfig): TokenizerConfig {
  if (!SCHEME_NAMES.includes(c.scheme)) {
    throw new RangeError(`scheme must be ${SCHEME_NAMES.map((s) => `"${s}"`).join(' or ')} (got ${String(c.scheme)})`);
  }
  checkInt('stepsPerBeat', c.stepsPerBeat, 1, 48);
  checkInt('maxShiftSteps', c.maxShiftSteps, 1, 1024);
  checkInt('maxDurationSteps', c.maxDurationSteps, 1, 4096);
  checkInt('velocity', c.velocity, 1, 127);
  checkNumber('classicStepBeats', c.classicStepBeats, (v) => v > 0 && v <= 16, 'in (0, 16]');
  return c;
}
