/**
 * Tokenizer settings, saved with the model in vocab.json. One object serves
 * every scheme; each scheme reads the fields it needs.
 */
import { checkInt, checkNumber, shownValue } from '../core/check';

/** The tokenization schemes (one file each in lib/tokens/). */
const SCHEME_NAMES = ['remi', 'timed', 'classic'] as const;
type SchemeName = (typeof SCHEME_NAMES)[number];

/** Tokenizer settings; saved with the model. */
export interface TokenizerConfig {
  readonly scheme: SchemeName;
  /** Grid resolution in steps per beat (4 = sixteenth notes, 12 = sixteenths and eighth-note triplets). A "step" is always one grid cell. */
  readonly stepsPerBeat: number;
  /** timed: longest single shift token in steps; longer gaps use several. */
  readonly maxShiftSteps: number;
  /** timed: durations longer than this many steps are clamped to it. */
  readonly maxDurationSteps: number;
  /** timed: a silence between onsets longer than this many beats is shortened by whole beats to at most it (bounds the tokens one file can cost). */
  readonly maxSilenceBeats: number;
  /** classic: beats between decoded events and their duration. */
  readonly classicStepBeats: number;
  /** timed, classic: velocity given to decoded notes. */
  readonly velocity: number;
  /** remi: velocity bins (1–127 split evenly). */
  readonly velocityBins: number;
  /** remi: tempo bins, spaced evenly in log-tempo from minBpm to maxBpm. */
  readonly tempoBins: number;
  readonly minBpm: number;
  readonly maxBpm: number;
  /** remi: longest bar in beats (time signatures with longer bars are not in the vocabulary). */
  readonly maxBarBeats: number;
  /** remi: a silence longer than this many empty bars is shortened to it (bounds the tokens one file can cost). */
  readonly maxEmptyBars: number;
  /**
   * remi: write the time signature after every bar, not only where it changes,
   * so each bar states its meter and a model need not remember it across a
   * long piece. Vocabularies saved before this setting existed read as false.
   */
  readonly meterEveryBar: boolean;
}

/** Defaults of each scheme (`timed` and `classic` keep the settings their saved models were trained with). */
export function defaultTokenizerConfig(scheme: SchemeName = 'remi'): TokenizerConfig {
  return {
    scheme,
    stepsPerBeat: scheme === 'remi' ? 12 : 4,
    maxShiftSteps: 16,
    maxDurationSteps: 64,
    maxSilenceBeats: 32,
    classicStepBeats: 0.5,
    velocity: 90,
    velocityBins: 8,
    tempoBins: 32,
    minBpm: 30,
    maxBpm: 300,
    maxBarBeats: 12,
    maxEmptyBars: 8,
    meterEveryBar: scheme === 'remi',
  };
}

/** The default tokenizer: `remi`. */
export const DEFAULT_TOKENIZER_CONFIG: TokenizerConfig = defaultTokenizerConfig('remi');

/** Checks a tokenizer config field by field; throws a RangeError naming the bad parameter and the allowed range. */
export function validateTokenizerConfig(c: TokenizerConfig): TokenizerConfig {
  if (!SCHEME_NAMES.includes(c.scheme)) {
    const names = SCHEME_NAMES.map((s) => `"${s}"`);
    throw new RangeError(`scheme must be ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]} (got ${shownValue(c.scheme)})`);
  }
  checkInt('stepsPerBeat', c.stepsPerBeat, 1, 48);
  checkInt('maxShiftSteps', c.maxShiftSteps, 1, 1024);
  checkInt('maxDurationSteps', c.maxDurationSteps, 1, 4096);
  checkInt('maxSilenceBeats', c.maxSilenceBeats, 1, 4096);
  checkInt('velocity', c.velocity, 1, 127);
  checkNumber('classicStepBeats', c.classicStepBeats, (v) => v > 0 && v <= 16, 'in (0, 16]');
  checkInt('velocityBins', c.velocityBins, 1, 127);
  checkInt('tempoBins', c.tempoBins, 1, 256);
  checkInt('minBpm', c.minBpm, 1, 999);
  checkInt('maxBpm', c.maxBpm, c.minBpm + 1, 1000);
  checkInt('maxBarBeats', c.maxBarBeats, 1, 32);
  checkInt('maxEmptyBars', c.maxEmptyBars, 1, 1000);
  if (typeof c.meterEveryBar !== 'boolean')
    throw new RangeError(`meterEveryBar must be true or false (got ${JSON.stringify(c.meterEveryBar)})`);
  return c;
}
