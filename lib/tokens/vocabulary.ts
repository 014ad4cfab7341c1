/**
 * The vocabulary: a sorted list of tokens built from the data (saved with the
 * model together with the tokenizer config, see ./vocab-file), token ↔ id
 * encoding, and the policy for symbols it does not contain.
 */
import { UserError } from '../core/errors';
import type { Piece } from '../core/piece';
import { DEFAULT_TOKENIZER_CONFIG, validateTokenizerConfig, type TokenizerConfig } from './config';
import { compareTokens, sortKeyOf, tokenToString, type Token } from './token';
import { pieceToTokens, schemeOf } from './tokenize';

/** A built vocabulary. `tokens[i]` is the token with id i. */
export interface Vocabulary {
  readonly config: TokenizerConfig;
  readonly tokens: readonly Token[];
  /** String form of each token, same order. */
  readonly keys: readonly string[];
  /** Training counts of each token, same order. */
  readonly counts: readonly number[];
  readonly index: ReadonlyMap<string, number>;
}

/**
 * What to do with a symbol the vocabulary lacks (a primer's chord never seen in
 * training, say):
 * - `nearest` (default): the closest known token of the same kind — nearest
 *   step count for durations and shifts; for events, the known event sharing
 *   most pitches (then the nearest mean pitch, then the fewest notes);
 * - `skip`: drop it (an event's duration goes with it);
 * - `error`: throw, naming the symbol.
 */
export type UnknownPolicy = 'nearest' | 'skip' | 'error';

/**
 * Builds a vocabulary, tokens sorted by kind, then value: the scheme's fixed
 * vocabulary when it has one (the same for any corpus), else every token the
 * pieces use. Counts are the pieces' token counts either way.
 */
export function buildVocabulary(pieces: readonly Piece[], config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG): Vocabulary {
  validateTokenizerConfig(config);
  const fixed = schemeOf(config).fixedVocabulary?.(config);
  const counts = new Map<string, number>();
  const byKey = new Map<string, Token>();
  for (const p of pieces) {
    for (const t of pieceToTokens(p, config)) {
      const k = tokenToString(t);
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (!byKey.has(k)) byKey.set(k, t);
    }
  }
  const tokens = (fixed ?? [...byKey.values()]).sort(compareTokens);
  return makeVocabulary(
    config,
    tokens,
    tokens.map((t) => counts.get(tokenToString(t)) ?? 0),
  );
}

/** A vocabulary from its sorted tokens and their training counts. */
export function makeVocabulary(config: TokenizerConfig, tokens: readonly Token[], counts: readonly number[]): Vocabulary {
  const keys = tokens.map(tokenToString);
  return { config, tokens, keys, counts, index: new Map(keys.map((k, i) => [k, i])) };
}

/** Token ids for a token sequence, applying the unknown-symbol policy. */
export function encodeTokens(vocab: Vocabulary, tokens: readonly Token[], policy: UnknownPolicy = 'nearest'): number[] {
  const ids: number[] = [];
  let dropDur = false;
  for (const t of tokens) {
    if (t.kind === 'dur' && dropDur) {
      dropDur = false;
      continue;
    }
    dropDur = false;
    const id = vocab.index.get(tokenToString(t));
    if (id !== undefined) {
      ids.push(id);
      continue;
    }
    if (policy === 'error') throw new UserError(`token ${tokenToString(t)} is not in the model's vocabulary`);
    if (policy === 'skip') {
      dropDur = t.kind === 'event';
      continue;
    }
    const near = nearestToken(vocab, t);
    if (near !== undefined) ids.push(near);
    else dropDur = t.kind === 'event';
  }
  return ids;
}

/** Converts a piece into token ids. */
export function encodePiece(vocab: Vocabulary, piece: Piece, policy: UnknownPolicy = 'nearest'): number[] {
  return encodeTokens(vocab, pieceToTokens(piece, vocab.config), policy);
}

/** Tokens for ids; throws on an id outside the vocabulary. */
export function decodeIds(vocab: Vocabulary, ids: ArrayLike<number>): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < ids.length; i++) {
    const t = vocab.tokens[ids[i]];
    if (!t) throw new RangeError(`token id ${ids[i]} is outside the vocabulary (size ${vocab.tokens.length})`);
    out.push(t);
  }
  return out;
}

/** The id of the known token closest to `t` (same kind), or undefined when the vocabulary has none of that kind. */
function nearestToken(vocab: Vocabulary, t: Token): number | undefined {
  let best: number | undefined;
  let bestScore = Infinity;
  const mean = (ps: readonly number[]): number => ps.reduce((a, b) => a + b, 0) / ps.length;
  vocab.tokens.forEach((c, i) => {
    if (c.kind !== t.kind) return;
    let score: number;
    if (c.kind === 'event' && t.kind === 'event') {
      const shared = c.pitches.filter((p) => t.pitches.includes(p)).length;
      const samePc = c.pitches.filter((p) => t.pitches.some((q) => q % 12 === p % 12)).length;
      score =
        -shared * 1e6 - samePc * 1e4 + Math.abs(mean(c.pitches) - mean(t.pitches)) * 10 + Math.abs(c.pitches.length - t.pitches.length);
    } else {
      // Other kinds: the nearest by their numbers (step counts, positions, tempo, …).
      const a = sortKeyOf(c);
      const b = sortKeyOf(t);
      score = a.reduce((sum, x, k) => sum + Math.abs(x - (b[k] ?? 0)) * 1000 ** (a.length - 1 - k), 0);
    }
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}
