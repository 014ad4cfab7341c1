/**
 * A classifier two-sample test (Lopez-Paz & Oquab 2017): can a simple
 * classifier tell generated samples from data excerpts of their length? Each
 * piece becomes a vector of its statistics (./metrics, ./structure), and a
 * logistic regression is cross-validated on as many excerpts as samples.
 * Its accuracy on the held-out folds is the figure: 0.5 = the two cannot be
 * told apart, 1 = every piece is told right. The same test on two halves of
 * the data alone gives its chance spread (with a few pieces, even data is told
 * from data a little better or worse than 0.5 by chance).
 *
 * The logistic regression is written here (about 40 lines; the npm packages
 * for it are unmaintained or lack an intercept): features standardised on the
 * training folds, full-batch gradient descent on the mean log loss with a
 * small L2 penalty on the weights.
 */
import type { Piece } from '../core/piece';
import { shuffled, type Rng } from '../core/rng';
import { musicStats, type MusicStats } from './metrics';

/**
 * The statistics a piece is described by: those that do not grow with its
 * length (so a data piece shorter than the samples, kept whole as an excerpt,
 * is not told apart by its length alone). Left out: the counts, the span in
 * beats, the pitch range and the longest repeated-note run; and the distinct
 * programs per 1,000 notes, a band's size over the notes, which falls as a
 * piece with one band grows (a 300-note tune kept whole scores twice what a
 * 600-note excerpt of the same band does), so it would tell short data pieces
 * from samples by their length.
 */
export const TWO_SAMPLE_FEATURES = [
  'pitchMean',
  'pitchClassEntropy',
  'scaleConsistency',
  'polyphony',
  'noteDensity',
  'onsetDensity',
  'durationMean',
  'emptyBeatRate',
  'velocitySpread',
  'onBeatShare',
  'meterChangesPer100Bars',
  'barRepetition',
  'grooveConsistency',
] as const satisfies readonly (keyof MusicStats)[];

/** Settings of {@link twoSampleTest}. */
export interface TwoSampleOptions {
  /** Folds of the cross-validation (fewer when a side has fewer pieces). */
  readonly folds: number;
  /** Draws of data excerpts (and of the folds) that the samples' accuracy is averaged over. */
  readonly repeats: number;
  /** Data-against-data tests drawn for the chance spread. */
  readonly draws: number;
  /** The quantile of the data-against-data accuracies reported, in (0, 1]. */
  readonly quantile: number;
  /** Gradient-descent steps, step size and L2 penalty of the logistic regression. */
  readonly steps: number;
  readonly learningRate: number;
  readonly l2: number;
}

/** Defaults: 5 folds, 20 repeats, 100 chance draws, the 90th percentile; 300 steps of 0.3 with a penalty of 0.1. */
export const DEFAULT_TWO_SAMPLE_OPTIONS: TwoSampleOptions = {
  folds: 5,
  repeats: 20,
  draws: 100,
  quantile: 0.9,
  steps: 300,
  learningRate: 0.3,
  l2: 0.1,
};

/** The result of {@link twoSampleTest}. */
export interface TwoSampleTest {
  /** Pieces on each side of every test (samples and data excerpts alike). */
  readonly pieces: number;
  readonly folds: number;
  readonly repeats: number;
  readonly draws: number;
  readonly quantile: number;
  /** The statistics each piece is described by. */
  readonly features: readonly string[];
  /** Cross-validated accuracy of telling the samples from as many data excerpts, mean over the repeats. */
  readonly accuracy: number;
  /** The same for two disjoint sets of data excerpts: mean over the draws, and its `quantile`. */
  readonly chanceAccuracy: number;
  readonly chanceQuantile: number | null;
}

/** A piece's feature vector ({@link TWO_SAMPLE_FEATURES}; NaN where a statistic is undefined for it). */
export function excerptFeatures(piece: Piece): number[] {
  const s = musicStats([piece]);
  return TWO_SAMPLE_FEATURES.map((k) => s[k]);
}

/**
 * Tells `samples` from `data` (excerpts of the samples' length): `repeats`
 * times, as many data pieces as samples (or as many samples as data pieces)
 * are drawn and {@link crossValidatedAccuracy} is taken; then `draws` times
 * two disjoint sets of data pieces are told apart the same way. Seeded by
 * `rng`; the inputs are not modified. Null when either side has fewer than two
 * pieces with notes.
 */
export function twoSampleTest(
  samples: readonly Piece[],
  data: readonly Piece[],
  options: TwoSampleOptions,
  rng: Rng,
): TwoSampleTest | null {
  const gen = samples.filter((p) => p.notes.length > 0).map(excerptFeatures);
  const pool = data.filter((p) => p.notes.length > 0).map(excerptFeatures);
  const k = Math.min(gen.length, pool.length);
  if (k < 2) return null;
  let accuracy = 0;
  for (let r = 0; r < options.repeats; r++) {
    accuracy += crossValidatedAccuracy(shuffled(gen, rng).slice(0, k), shuffled(pool, rng).slice(0, k), options, rng) / options.repeats;
  }
  const half = Math.min(k, pool.length >> 1);
  const chance: number[] = [];
  for (let d = 0; d < options.draws && half >= 2; d++) {
    const drawn = shuffled(pool, rng);
    chance.push(crossValidatedAccuracy(drawn.slice(0, half), drawn.slice(half, 2 * half), options, rng));
  }
  chance.sort((a, b) => a - b);
  return {
    pieces: k,
    folds: Math.min(options.folds, k),
    repeats: options.repeats,
    draws: chance.length,
    quantile: options.quantile,
    features: [...TWO_SAMPLE_FEATURES],
    accuracy,
    chanceAccuracy: chance.length > 0 ? chance.reduce((a, x) => a + x, 0) / chance.length : NaN,
    chanceQuantile: chance.length > 0 ? chance[Math.min(chance.length - 1, Math.ceil(options.quantile * chance.length) - 1)] : null,
  };
}

/**
 * Stratified k-fold cross-validation of a logistic regression telling the
 * rows of `a` (class 1) from those of `b` (class 0): each class is shuffled
 * (by `rng`) and dealt round the folds (at most as many as the smaller class
 * has rows); each fold is predicted by a model fitted on the others, a
 * probability of 0.5 or more meaning `a`. Returns the share of rows predicted
 * right. Throws a RangeError when a class has fewer than two rows.
 */
export function crossValidatedAccuracy(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
  options: Pick<TwoSampleOptions, 'folds' | 'steps' | 'learningRate' | 'l2'>,
  rng: Rng,
): number {
  const folds = Math.min(options.folds, a.length, b.length);
  if (folds < 2) throw new RangeError(`each class needs at least two rows (got ${a.length} and ${b.length})`);
  const rows = [...a.map((x) => ({ x, y: 1 })), ...b.map((x) => ({ x, y: 0 }))];
  const fold = new Array<number>(rows.length);
  shuffled(
    a.map((_, i) => i),
    rng,
  ).forEach((i, j) => (fold[i] = j % folds));
  shuffled(
    b.map((_, i) => a.length + i),
    rng,
  ).forEach((i, j) => (fold[i] = j % folds));
  let right = 0;
  for (let f = 0; f < folds; f++) {
    const model = fitLogistic(
      rows.filter((_, i) => fold[i] !== f),
      options,
    );
    rows.forEach((r, i) => {
      if (fold[i] === f && (model(r.x) >= 0.5 ? 1 : 0) === r.y) right++;
    });
  }
  return right / rows.length;
}

/**
 * Fits a logistic regression by gradient descent on standardised features (a
 * feature's NaN is replaced by its training mean, a constant feature is
 * ignored); returns the fitted probability of class 1 for a row.
 */
function fitLogistic(
  rows: readonly { readonly x: readonly number[]; readonly y: number }[],
  o: Pick<TwoSampleOptions, 'steps' | 'learningRate' | 'l2'>,
): (x: readonly number[]) => number {
  const d = rows[0]?.x.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (let j = 0; j < d; j++) {
    const xs = rows.map((r) => r.x[j]).filter((v) => !Number.isNaN(v));
    mean[j] = xs.length > 0 ? xs.reduce((s, v) => s + v, 0) / xs.length : 0;
    sd[j] = xs.length > 0 ? Math.sqrt(xs.reduce((s, v) => s + (v - mean[j]) ** 2, 0) / xs.length) : 0;
  }
  const scale = (x: readonly number[]): Float64Array =>
    Float64Array.from(x, (v, j) => (Number.isNaN(v) || !(sd[j] > 1e-12) ? 0 : (v - mean[j]) / sd[j]));
  const z = rows.map((r) => scale(r.x));
  const w = new Float64Array(d);
  let bias = 0;
  const sigmoid = (x: Float64Array): number => {
    let t = bias;
    for (let j = 0; j < d; j++) t += x[j] * w[j];
    return 1 / (1 + Math.exp(-t));
  };
  const grad = new Float64Array(d);
  for (let step = 0; step < o.steps; step++) {
    for (let j = 0; j < d; j++) grad[j] = o.l2 * w[j];
    let gradBias = 0;
    for (let i = 0; i < z.length; i++) {
      const err = (sigmoid(z[i]) - rows[i].y) / rows.length;
      gradBias += err;
      for (let j = 0; j < d; j++) grad[j] += err * z[i][j];
    }
    for (let j = 0; j < d; j++) w[j] -= o.learningRate * grad[j];
    bias -= o.learningRate * gradBias;
  }
  return (x) => sigmoid(scale(x));
}
