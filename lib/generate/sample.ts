/**
 * Choosing the next token from the model's scores: temperature, top-k,
 * top-p (nucleus) and an optional grammar mask, with a seeded RNG passed in;
 * or the most likely token, with no RNG at all.
 */
import type { Rng } from '../core/rng';
import { checkInt, checkNumber } from '../core/check';
import type { TokenizerConfig } from '../tokens/config';

/** Sampling settings. */
export interface SamplingConfig {
  /** Softmax temperature (> 0); below 1 is more conservative, above 1 wilder. */
  readonly temperature: number;
  /** Keep only the k most likely tokens (0 = no limit). */
  readonly topK: number;
  /** Keep the smallest set of tokens whose probability reaches p, in (0, 1] (1 = no limit). */
  readonly topP: number;
}

/** Sampling defaults; the top-p is the model's scheme's ({@link defaultTopP}). */
export const DEFAULT_SAMPLING_CONFIG: Omit<SamplingConfig, 'topP'> = { temperature: 1.0, topK: 0 };

/**
 * The top-p a model of this scheme samples with unless told otherwise. remi
 * samples its whole distribution (1): it writes a note as about four tokens,
 * each cut to its nucleus, and with 0.95 the piano model's samples drifted
 * towards plainer rhythm the longer they ran (+23 % onsets on the beat after
 * 1,000 notes, against +9 % with 1; docs/experiments.md, "Piano: sampling:
 * top-p and context"). timed and classic keep 0.95, with which the folk
 * model's rhythm is closer to its data.
 */
export function defaultTopP(scheme: TokenizerConfig['scheme']): number {
  return scheme === 'remi' ? 1 : 0.95;
}

/**
 * The sampling settings a model of `scheme` draws with when asked for
 * `asked`: each one left out is its default ({@link DEFAULT_SAMPLING_CONFIG};
 * the top-p is the scheme's, {@link defaultTopP}). Throws a RangeError naming
 * a bad one.
 */
export function resolveSampling(asked: Partial<SamplingConfig>, scheme: TokenizerConfig['scheme']): SamplingConfig {
  return validateSamplingConfig({
    temperature: asked.temperature ?? DEFAULT_SAMPLING_CONFIG.temperature,
    topK: asked.topK ?? DEFAULT_SAMPLING_CONFIG.topK,
    topP: asked.topP ?? defaultTopP(scheme),
  });
}

/** Throws a RangeError naming the bad parameter and its allowed range; settings left out are not checked. */
export function validateSamplingConfig<C extends Partial<SamplingConfig>>(c: C): C {
  if (c.temperature !== undefined) checkNumber('temperature', c.temperature, (v) => v > 0 && v <= 100, 'in (0, 100]');
  if (c.topK !== undefined) checkInt('topK', c.topK, 0, 1_000_000);
  if (c.topP !== undefined) checkNumber('topP', c.topP, (v) => v > 0 && v <= 1, 'in (0, 1]');
  return c;
}

/**
 * The distribution sampling actually draws from: logits scaled by
 * 1/temperature, masked (mask[j] = 0 forbids token j), softmaxed, then cut to
 * top-k and top-p and renormalized. Ties are broken by token id.
 */
function samplingDistribution(logits: ArrayLike<number>, c: SamplingConfig, mask?: ArrayLike<number>): Float64Array {
  const n = logits.length;
  const p = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (!mask || mask[j] > 0) max = Math.max(max, logits[j] / c.temperature);
  if (max === -Infinity) throw new Error('no token is allowed by the mask');
  let sum = 0;
  for (let j = 0; j < n; j++) {
    if (mask && !(mask[j] > 0)) continue;
    p[j] = Math.exp(logits[j] / c.temperature - max);
    sum += p[j];
  }
  for (let j = 0; j < n; j++) p[j] /= sum;
  if ((c.topK > 0 && c.topK < n) || c.topP < 1) {
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => p[b] - p[a] || a - b);
    const keep = new Uint8Array(n);
    let cum = 0;
    for (let r = 0; r < n; r++) {
      const j = order[r];
      if (p[j] === 0) break;
      if (c.topK > 0 && r >= c.topK) break;
      keep[j] = 1;
      cum += p[j];
      if (cum >= c.topP) break;
    }
    let kept = 0;
    for (let j = 0; j < n; j++) {
      if (!keep[j]) p[j] = 0;
      kept += p[j];
    }
    for (let j = 0; j < n; j++) p[j] /= kept;
  }
  return p;
}

/** Draws a token id from the scores under the settings, using `rng`. */
export function sampleToken(logits: ArrayLike<number>, c: SamplingConfig, rng: Rng, mask?: ArrayLike<number>): number {
  const p = samplingDistribution(logits, c, mask);
  const u = rng.next();
  let cum = 0;
  let last = -1;
  for (let j = 0; j < p.length; j++) {
    if (p[j] <= 0) continue;
    cum += p[j];
    last = j;
    if (u < cum) return j;
  }
  return last;
}

/**
 * The most likely token the mask allows (mask[j] = 0 forbids token j); of
 * equally likely ones, the lowest id. What sampling would draw as its
 * temperature goes to 0; no RNG is used.
 */
export function mostLikelyToken(logits: ArrayLike<number>, mask?: ArrayLike<number>): number {
  let best = -1;
  for (let j = 0; j < logits.length; j++) {
    if (mask && !(mask[j] > 0)) continue;
    if (best < 0 || logits[j] > logits[best]) best = j;
  }
  if (best < 0) throw new Error('no token is allowed by the mask');
  return best;
}
