/**
 * How far the statistics of a few pieces stray from the data's by chance
 * alone. A handful of generated samples is compared with the data; pieces
 * differ widely (a two-voice invention against a chordal nocturne), so even a
 * handful of the data's own excerpts can look "off" by 20 %. This measures
 * that: draw many sets of as many random data excerpts as there are samples,
 * and see how far each set's statistics fall from the statistics of all
 * excerpts. A sample's difference within that spread is not evidence of a
 * fault in the model.
 */
import type { Piece } from '../core/piece';
import type { Rng } from '../core/rng';
import { compareStats, musicStats, noteExcerpts, onsetOrder, type MusicStats } from './metrics';

/** Settings of {@link chanceSpread}. */
export interface ChanceOptions {
  /** Pieces in a set: as many as the generated samples being judged. */
  readonly samples: number;
  /** Notes per excerpt: as many as a generated sample has. */
  readonly notes: number;
  /** Sets drawn. */
  readonly draws: number;
  /** The quantile of |relative difference| reported, in (0, 1]: 0.9 = nine sets in ten stray less. */
  readonly quantile: number;
  /** A relative difference counted as close enough (0.15 = within 15 %, the project's target for samples). */
  readonly tolerance: number;
  /**
   * The statistics the sets are compared with: those of the excerpts the
   * samples themselves are compared with. Without it, one excerpt of every
   * piece is drawn for the purpose.
   */
  readonly reference?: MusicStats;
}

/** Defaults: 200 sets, the 90th percentile, a tolerance of 15 %. */
export const DEFAULT_CHANCE_OPTIONS: Omit<ChanceOptions, 'samples' | 'notes'> = { draws: 200, quantile: 0.9, tolerance: 0.15 };

/** The statistics {@link chanceSpread} measures: all but the counts, which grow with the number of pieces. */
export type ChanceStat = Exclude<keyof MusicStats, 'pieces' | 'emptyPieces' | 'notes'>;

/** The result of {@link chanceSpread}. */
export interface ChanceSpread {
  readonly samples: number;
  readonly notes: number;
  readonly draws: number;
  readonly quantile: number;
  readonly tolerance: number;
  /**
   * Per statistic, the `quantile` of |set − reference| / |reference| over the
   * sets where it is defined; null where it is defined for none (the
   * reference is 0 or NaN).
   */
  readonly relative: Readonly<Record<ChanceStat, number | null>>;
  /** Per statistic, the fraction of those sets within `tolerance` of the reference, or null as above. */
  readonly within: Readonly<Record<ChanceStat, number | null>>;
}

/**
 * Draws `draws` sets of `samples` pieces (with replacement), takes an excerpt
 * of `notes` consecutive notes of each at a random offset, and compares each
 * set's {@link musicStats} with the reference (by default, those of one
 * excerpt of every piece). Seeded by `rng`; the inputs are not modified.
 * Throws a RangeError for an empty list of pieces or settings out of range.
 */
export function chanceSpread(pieces: readonly Piece[], options: ChanceOptions, rng: Rng): ChanceSpread {
  const { samples, notes, draws, quantile, tolerance } = options;
  if (pieces.length === 0) throw new RangeError('chanceSpread needs at least one piece');
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be an integer ≥ 1 (got ${samples})`);
  if (!Number.isInteger(notes) || notes < 1) throw new RangeError(`notes must be an integer ≥ 1 (got ${notes})`);
  if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`draws must be an integer ≥ 1 (got ${draws})`);
  if (!(quantile > 0 && quantile <= 1)) throw new RangeError(`quantile must be in (0, 1] (got ${quantile})`);
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be ≥ 0 (got ${tolerance})`);
  // In onset order once, so that each draw's excerpt sorts an already sorted list (linear time).
  const sorted = pieces.map((p) => ({ ...p, notes: [...p.notes].sort(onsetOrder) }));
  const all = options.reference ?? musicStats(noteExcerpts(sorted, notes, rng));
  const counts: readonly (keyof MusicStats)[] = ['pieces', 'emptyPieces', 'notes'];
  const keys = (Object.keys(all) as (keyof MusicStats)[]).filter((k): k is ChanceStat => !counts.includes(k));
  const deviations = new Map<ChanceStat, number[]>(keys.map((k) => [k, []]));
  for (let d = 0; d < draws; d++) {
    const set = Array.from({ length: samples }, () => sorted[Math.floor(rng.next() * sorted.length)]);
    const c = compareStats(musicStats(noteExcerpts(set, notes, rng)), all);
    for (const k of keys) {
      const r = c[k].relative;
      if (r !== null) deviations.get(k)?.push(Math.abs(r));
    }
  }
  const relative = {} as Record<ChanceStat, number | null>;
  const within = {} as Record<ChanceStat, number | null>;
  for (const k of keys) {
    const xs = (deviations.get(k) ?? []).sort((a, b) => a - b);
    relative[k] = xs.length === 0 ? null : xs[Math.min(xs.length - 1, Math.ceil(quantile * xs.length) - 1)];
    within[k] = xs.length === 0 ? null : xs.filter((x) => x <= tolerance).length / xs.length;
  }
  return { samples, notes, draws, quantile, tolerance, relative, within };
}
