/**
 * How one generated piece sits among excerpts of the data as long as it is:
 * for each statistic, the piece's value beside the 10th, 50th and 90th
 * percentiles of the same statistic over many excerpts. One piece is too few
 * for the chance spread of `evaluate` (./chance.ts), which compares sets of
 * samples; this says whether it lies where real music of its length does.
 */
import type { Piece } from '../core/piece';
import type { Rng } from '../core/rng';
import type { ChanceStat } from './chance';
import { musicStats, noteExcerpts } from './metrics';

/** One statistic of the piece and of the data's excerpts. */
export interface AgainstData {
  readonly stat: ChanceStat;
  readonly piece: number;
  /** 10th, 50th and 90th percentiles over the excerpts (NaN excerpts left out). */
  readonly low: number;
  readonly median: number;
  readonly high: number;
}

/** The statistics compared, structure first: what a listener hears first. */
export const AGAINST_DATA_STATS: readonly ChanceStat[] = [
  'barRepetition',
  'meterChangesPer100Bars',
  'grooveConsistency',
  'programsPer1000Notes',
  'pitchClassEntropy',
  'polyphony',
  'noteDensity',
  'velocitySpread',
  'onBeatShare',
];

/**
 * `piece` against `excerpts` excerpts of `data`, each of as many notes as the
 * piece (from a data piece drawn with `rng`; see `noteExcerpts`). Throws a
 * RangeError when the piece or the data has no notes. Inputs are not modified.
 */
export function againstData(piece: Piece, data: readonly Piece[], rng: Rng, excerpts = 64): AgainstData[] {
  const notes = piece.notes.length;
  const withNotes = data.filter((p) => p.notes.length > 0);
  if (notes === 0 || withNotes.length === 0) throw new RangeError('againstData needs a piece and data with notes');
  const drawn = Array.from({ length: excerpts }, () => withNotes[Math.floor(rng.next() * withNotes.length)]);
  const stats = noteExcerpts(drawn, notes, rng).map((e) => musicStats([e]));
  const own = musicStats([piece]);
  return AGAINST_DATA_STATS.map((stat) => {
    const values = stats
      .map((s) => s[stat])
      .filter((v) => Number.isFinite(v))
      .sort((a, b) => a - b);
    const at = (q: number): number => (values.length === 0 ? NaN : values[Math.min(values.length - 1, Math.floor(q * values.length))]);
    return { stat, piece: own[stat], low: at(0.1), median: at(0.5), high: at(0.9) };
  });
}
