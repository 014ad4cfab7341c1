/**
 * The value bins of the `remi` scheme, all derived from the tokenizer config
 * (so the vocabulary is the same for any corpus): note durations, velocities,
 * tempos, time signatures and bar positions.
 */
import type { TokenizerConfig } from './config';

/** A time signature as numerator and denominator. */
export type Meter = readonly [number, number];

/**
 * Duration bins in grid steps: every step up to one beat, then quarter beats
 * up to 2 beats, half beats up to 4, whole beats up to 8 and two beats up to
 * 16 (28 bins at 12 steps per beat).
 */
export function durationBins(config: TokenizerConfig): number[] {
  const spb = config.stepsPerBeat;
  const out = new Set<number>();
  for (let s = 1; s <= spb; s++) out.add(s);
  const spans: [number, number][] = [
    [2, 0.25],
    [4, 0.5],
    [8, 1],
    [16, 2],
  ];
  let from = spb;
  for (const [uptoBeats, stepBeats] of spans) {
    const step = Math.max(1, Math.round(stepBeats * spb));
    for (let s = from + step; s <= uptoBeats * spb; s += step) out.add(s);
    from = uptoBeats * spb;
  }
  return [...out].sort((a, b) => a - b);
}

/** The nearest of sorted `bins` to `x` (the lower one on a tie). */
export function nearestBin(bins: readonly number[], x: number): number {
  let best = bins[0];
  for (const b of bins) if (Math.abs(b - x) < Math.abs(best - x)) best = b;
  return best;
}

/** Velocity bin (0-based) of a MIDI velocity 1–127. */
export function velocityBin(config: TokenizerConfig, velocity: number): number {
  const v = Math.min(127, Math.max(1, Math.round(velocity)));
  return Math.min(config.velocityBins - 1, Math.floor(((v - 1) * config.velocityBins) / 127));
}

/** The MIDI velocity a bin decodes to (its middle). */
export function binVelocity(config: TokenizerConfig, bin: number): number {
  const b = Math.min(config.velocityBins - 1, Math.max(0, bin));
  return Math.min(127, Math.max(1, Math.round(1 + ((b + 0.5) * 127) / config.velocityBins)));
}

/** Tempo bins in whole bpm, spaced evenly in log-tempo from minBpm to maxBpm. */
export function tempoBins(config: TokenizerConfig): number[] {
  const n = config.tempoBins;
  if (n === 1) return [Math.round(Math.sqrt(config.minBpm * config.maxBpm))];
  const out = new Set<number>();
  for (let i = 0; i < n; i++) out.add(Math.round(config.minBpm * (config.maxBpm / config.minBpm) ** (i / (n - 1))));
  return [...out].sort((a, b) => a - b);
}

/** The tempo bin nearest to `bpm` in log-tempo. */
export function nearestTempo(bins: readonly number[], bpm: number): number {
  let best = bins[0];
  for (const b of bins) if (Math.abs(Math.log(b / bpm)) < Math.abs(Math.log(best / bpm))) best = b;
  return best;
}

/** Bar length in beats (quarter notes). */
function barBeats(m: Meter): number {
  return (m[0] * 4) / m[1];
}

/** The time signatures in the vocabulary: /2, /4 and /8 meters (numerators up to 16) whose bar is at most maxBarBeats. */
export function meters(config: TokenizerConfig): Meter[] {
  const out: Meter[] = [];
  for (const d of [2, 4, 8]) for (let n = 1; n <= 16; n++) if (barBeats([n, d]) <= config.maxBarBeats) out.push([n, d]);
  return out;
}

/**
 * The vocabulary meter for a time signature: itself when it is in the
 * vocabulary, else one with the same bar length (e.g. 10/16 → 5/8), else the
 * one with the nearest bar length. Notes keep their exact timing either way,
 * since positions are counted in the bars the tokens describe.
 */
export function nearestMeter(config: TokenizerConfig, m: Meter): Meter {
  const all = meters(config);
  const same = all.find((x) => x[0] === m[0] && x[1] === m[1]) ?? all.find((x) => barBeats(x) === barBeats(m) && x[1] >= 4);
  if (same) return same;
  let best = all[0];
  for (const x of all) if (Math.abs(barBeats(x) - barBeats(m)) < Math.abs(barBeats(best) - barBeats(m))) best = x;
  return best;
}

/** Bar length in grid steps (at least 1). */
export function barSteps(config: TokenizerConfig, m: Meter): number {
  return Math.max(1, Math.round(barBeats(m) * config.stepsPerBeat));
}
