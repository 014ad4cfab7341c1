/**
 * A smoothed n-gram language model over token-id sequences: the baseline the
 * LSTM has to beat.
 *
 * Interpolated modified Kneser-Ney (Chen & Goodman 1998), with three discounts
 * per order (for n-grams seen once, twice, three or more times) estimated from
 * that order's count-of-counts, and the unigram level interpolated with the
 * uniform distribution over the `vocabSize` tokens, so every token — seen or
 * not — gets a probability > 0, and the probabilities of all tokens sum to 1.
 *
 * Piece starts: every piece is left-padded with `order − 1` copies of a start
 * symbol `BOS` (id `vocabSize`, never predicted), so n-grams never cross piece
 * boundaries and the first tokens of a piece are predicted from contexts that
 * know they are at the start. As in KenLM, n-grams whose context begins with
 * BOS keep their raw counts at the lower orders (they have no real left
 * neighbour to count continuations of); all other lower-order n-grams use
 * continuation counts (the number of distinct symbols seen to their left).
 *
 * Tokens are integers 0..vocabSize−1. Training builds small hash maps keyed by
 * packed integers (a context trie stored right to left, so each shorter
 * context is the parent of the longer one); the model is then read-only.
 *
 * Training and scoring take seconds on a large corpus: {@link trainNgramAsync}
 * and {@link evaluateNllAsync} do the same work but let the event loop turn
 * now and then (so Ctrl-C is heard) and stop when asked (lib/core/steps.ts).
 */
import { runSteps, runStepsStoppable } from '../core/steps';

/** Settings of {@link trainNgram}. */
export interface NgramConfig {
  /** n: the model conditions on the previous n − 1 tokens. Integer 1..10. */
  readonly order: number;
  /** Number of token ids V; every token must be in 0..V−1. */
  readonly vocabSize: number;
}

/** Default order: a 5-gram model. */
export const DEFAULT_NGRAM_ORDER = 5;

/** Defaults (vocabSize has none: it comes from the vocabulary). */
const DEFAULT_NGRAM_CONFIG: Omit<NgramConfig, 'vocabSize'> = { order: DEFAULT_NGRAM_ORDER };

/** Result of {@link NgramModel.evaluateNll}. */
export interface NgramEvaluation {
  /** Number of predicted positions (positions 1..n−1 of every piece). */
  readonly tokens: number;
  /** Mean negative log-likelihood, nats per predicted token (NaN when `tokens` is 0). */
  readonly nll: number;
  /** exp(nll). */
  readonly perplexity: number;
}

/** The three modified-Kneser-Ney discounts of one order. */
export interface KnDiscounts {
  /** Discount for n-grams with (adjusted) count 1. */
  readonly d1: number;
  /** Discount for count 2. */
  readonly d2: number;
  /** Discount for counts ≥ 3. */
  readonly d3: number;
}

/** A trained model (read-only). */
export interface NgramModel {
  readonly order: number;
  readonly vocabSize: number;
  /** The start symbol id (= vocabSize); may appear in contexts, is never predicted. */
  readonly bos: number;
  /** Discounts per order: `discounts[k − 1]` for k-grams, k = 1..order. */
  readonly discounts: readonly KnDiscounts[];
  /** Distinct n-grams stored per order (`ngramCounts[k − 1]` for k-grams). */
  readonly ngramCounts: readonly number[];
  /**
   * Natural-log probability of `token` after `context`. The context is the
   * piece so far: only its last order − 1 entries are used, and a shorter
   * context is left-padded with BOS, i.e. read as the start of a piece.
   */
  logProb(context: ArrayLike<number>, token: number): number;
  /** The whole next-token distribution after `context` (length vocabSize, sums to 1). */
  distribution(context: ArrayLike<number>): Float64Array;
  /** `out[i]` = ln p(seq[i] | seq[0..i−1]) for every position, the first one given the piece start. */
  sequenceLogProbs(seq: ArrayLike<number>): Float64Array;
  /**
   * Mean NLL over positions 1..n−1 of each piece (the first token of a piece
   * is not predicted, matching the LSTM evaluation).
   */
  evaluateNll(seqs: readonly ArrayLike<number>[]): NgramEvaluation;
  /** {@link evaluateNll} as steps (see {@link evaluateNllAsync}): the same result when run to the end. */
  evaluateNllSteps(seqs: readonly ArrayLike<number>[]): Generator<void, NgramEvaluation, void>;
}

/** Tokens counted or scored between two steps of the step generators (a few milliseconds of work). */
const STEP_TOKENS = 4096;

/**
 * Discounts from the count-of-counts n1..n4 (numbers of n-grams seen exactly
 * 1..4 times), after Chen & Goodman: Y = n1/(n1+2·n2), D1 = 1 − 2Y·n2/n1,
 * D2 = 2 − 3Y·n3/n2, D3+ = 3 − 4Y·n4/n3. A value that is undefined or outside
 * (0, r) falls back to Y (or 0.5 when Y is undefined), so every context keeps
 * some probability for unseen tokens. Then D2 and D3+ are raised to at least
 * the previous discount (D1 ≤ D2 ≤ D3+): music repeats whole sections, which
 * makes n-grams seen twice more common than the formula expects and can push
 * D3+ below D2; the monotone fix lowers held-out perplexity on Nottingham.
 */
export function estimateDiscounts(n1: number, n2: number, n3: number, n4: number): KnDiscounts {
  const y = n1 / (n1 + 2 * n2);
  const ySafe = Number.isFinite(y) && y > 0 && y < 1 ? y : 0.5;
  const pick = (d: number, r: number): number => (Number.isFinite(d) && d > 0 && d < r ? d : ySafe);
  const d1 = pick(1 - (2 * y * n2) / n1, 1);
  const d2 = Math.max(d1, pick(2 - (3 * y * n3) / n2, 2));
  const d3 = Math.max(d2, pick(3 - (4 * y * n4) / n3, 3));
  return { d1, d2, d3 };
}

/**
 * Trains an interpolated modified-Kneser-Ney model on separate pieces.
 * The inputs are not modified. Throws RangeError on a bad order, vocabSize or token.
 */
export function trainNgram(seqs: readonly ArrayLike<number>[], config: Partial<NgramConfig> & Pick<NgramConfig, 'vocabSize'>): NgramModel {
  return runSteps(training(seqs, config));
}

/**
 * {@link trainNgram} that lets the event loop turn about every 50 ms and
 * returns null once `shouldStop()` is true; the same model otherwise.
 */
export function trainNgramAsync(
  seqs: readonly ArrayLike<number>[],
  config: Partial<NgramConfig> & Pick<NgramConfig, 'vocabSize'>,
  shouldStop: () => boolean,
): Promise<NgramModel | null> {
  return runStepsStoppable(training(seqs, config), shouldStop);
}

/**
 * `model.evaluateNll(seqs)` that lets the event loop turn about every 50 ms
 * and returns null once `shouldStop()` is true; the same figures otherwise.
 */
export function evaluateNllAsync(
  model: NgramModel,
  seqs: readonly ArrayLike<number>[],
  shouldStop: () => boolean,
): Promise<NgramEvaluation | null> {
  return runStepsStoppable(model.evaluateNllSteps(seqs), shouldStop);
}

/** The training, as steps of about {@link STEP_TOKENS} tokens (or n-grams); the model at the end. */
function* training(
  seqs: readonly ArrayLike<number>[],
  config: Partial<NgramConfig> & Pick<NgramConfig, 'vocabSize'>,
): Generator<void, NgramModel, void> {
  const order = config.order ?? DEFAULT_NGRAM_CONFIG.order;
  const V = config.vocabSize;
  if (!Number.isInteger(order) || order < 1 || order > 10) throw new RangeError(`order must be an integer in [1, 10] (got ${order})`);
  if (!Number.isInteger(V) || V < 1 || V > 1 << 24) throw new RangeError(`vocabSize must be an integer in [1, 2^24] (got ${V})`);
  const BOS = V;
  const B = V + 1; // context symbols: tokens and BOS

  // Context trie, right to left: node(x1..xd) = child(node(x2..xd), x1); node 0 = empty context.
  const child = new Map<number, number>();
  const parent: number[] = [-1];
  const firstSym: number[] = [-1];
  const depth: number[] = [0];
  const raw = new Map<number, number>(); // gram key node*V + w → raw count

  const pad = order - 1;
  let work = 0;
  for (let p = 0; p < seqs.length; p++) {
    const seq = seqs[p];
    const at = (i: number): number => (i < 0 ? BOS : seq[i]);
    for (let i = 0; i < seq.length; i++) {
      if (++work % STEP_TOKENS === 0) yield;
      const w = seq[i];
      if (!Number.isInteger(w) || w < 0 || w >= V) {
        throw new RangeError(`token ${w} at position ${i} of sequence ${p} is outside 0..${V - 1} (vocabSize ${V})`);
      }
      let node = 0;
      for (let d = 0; ; d++) {
        const key = node * V + w;
        raw.set(key, (raw.get(key) ?? 0) + 1);
        if (d === pad) break;
        const s = at(i - 1 - d);
        const ck = node * B + s;
        let next = child.get(ck);
        if (next === undefined) {
          next = parent.length;
          child.set(ck, next);
          parent.push(node);
          firstSym.push(s);
          depth.push(d + 1);
        }
        node = next;
      }
    }
  }

  // Adjusted counts: raw at the top order and for BOS-initial contexts, else continuation counts.
  const adj = new Map<number, number>();
  for (const key of raw.keys()) {
    if (++work % STEP_TOKENS === 0) yield;
    const node = Math.floor(key / V);
    const w = key - node * V;
    const d = depth[node];
    if (d === pad || (d > 0 && firstSym[node] === BOS)) adj.set(key, (adj.get(key) ?? 0) + raw.get(key)!);
    if (d > 0 && !(d - 1 > 0 && firstSym[parent[node]] === BOS)) {
      const sk = parent[node] * V + w; // the suffix gram gains one distinct left symbol
      adj.set(sk, (adj.get(sk) ?? 0) + 1);
    }
  }

  // Count-of-counts per order → discounts; per-context totals and backoff weights.
  const coc = Array.from({ length: order }, () => [0, 0, 0, 0, 0]);
  const ngramCounts = new Array<number>(order).fill(0);
  for (const [key, a] of adj) {
    if (++work % STEP_TOKENS === 0) yield;
    const k = depth[Math.floor(key / V)];
    ngramCounts[k]++;
    if (a <= 4) coc[k][a]++;
  }
  const discounts = coc.map((c) => estimateDiscounts(c[1], c[2], c[3], c[4]));
  const nodes = parent.length;
  const total = new Float64Array(nodes);
  const gammaNum = new Float64Array(nodes);
  const discount = (k: number, a: number): number => {
    const d = discounts[k];
    return a === 0 ? 0 : a === 1 ? d.d1 : a === 2 ? d.d2 : d.d3;
  };
  for (const [key, a] of adj) {
    if (++work % STEP_TOKENS === 0) yield;
    const node = Math.floor(key / V);
    total[node] += a;
    gammaNum[node] += discount(depth[node], a);
  }

  /** Trie nodes of the suffixes of the padded context ending before position `end` of `ctx`. */
  const path = new Int32Array(order);
  const walk = (ctx: ArrayLike<number>, end: number): number => {
    let node = 0;
    let len = 1;
    path[0] = 0;
    for (let d = 0; d < pad; d++) {
      const i = end - 1 - d;
      const s = i < 0 ? BOS : ctx[i];
      if (!Number.isInteger(s) || s < 0 || s > V) throw new RangeError(`context symbol ${s} is outside 0..${V} (vocabSize ${V}, BOS ${V})`);
      const next = child.get(node * B + s);
      if (next === undefined) break;
      node = next;
      path[len++] = node;
    }
    return len;
  };
  const probFromPath = (len: number, w: number): number => {
    let p = 1 / V;
    for (let k = 0; k < len; k++) {
      const node = path[k];
      const a = adj.get(node * V + w) ?? 0;
      p = (Math.max(a - discount(k, a), 0) + gammaNum[node] * p) / total[node];
    }
    return p;
  };
  const checkToken = (w: number): void => {
    if (!Number.isInteger(w) || w < 0 || w >= V) throw new RangeError(`token ${w} is outside 0..${V - 1} (vocabSize ${V})`);
  };

  function* nllSteps(list: readonly ArrayLike<number>[]): Generator<void, NgramEvaluation, void> {
    let tokens = 0;
    let sum = 0;
    for (const seq of list) {
      for (let i = 1; i < seq.length; i++) {
        checkToken(seq[i]);
        sum -= Math.log(probFromPath(walk(seq, i), seq[i]));
        if (++tokens % STEP_TOKENS === 0) yield;
      }
    }
    const nll = tokens > 0 ? sum / tokens : NaN;
    return { tokens, nll, perplexity: Math.exp(nll) };
  }

  return {
    order,
    vocabSize: V,
    bos: BOS,
    discounts,
    ngramCounts,
    logProb(context, token) {
      checkToken(token);
      return Math.log(probFromPath(walk(context, context.length), token));
    },
    distribution(context) {
      const len = walk(context, context.length);
      const out = new Float64Array(V);
      for (let w = 0; w < V; w++) out[w] = probFromPath(len, w);
      return out;
    },
    sequenceLogProbs(seq) {
      const out = new Float64Array(seq.length);
      for (let i = 0; i < seq.length; i++) {
        checkToken(seq[i]);
        out[i] = Math.log(probFromPath(walk(seq, i), seq[i]));
      }
      return out;
    },
    evaluateNll: (list) => runSteps(nllSteps(list)),
    evaluateNllSteps: nllSteps,
  };
}
