/**
 * The grammar generation obeys. Every scheme has prev-token rules
 * ({@link TokenScheme.mayFollow}), as masks over the vocabulary: after token
 * id i, token j may be sampled when `masks[i][j]` is 1. A scheme may also have
 * a stateful grammar ({@link TokenScheme.grammar}) that sees further back;
 * {@link grammarStart} gives the one a vocabulary's scheme has, so generation
 * runs one loop for every scheme.
 */
import type { GrammarState, TokenScheme } from './scheme';
import { schemeOf } from './tokenize';
import type { Vocabulary } from './vocabulary';

/** One mask per token id: `masks[id][j]` is 1 when token j may follow token id. Masks are shared between tokens with equal rules. */
export function grammarMasks(vocab: Vocabulary): Float32Array[] {
  const scheme = schemeOf(vocab.config);
  const n = vocab.tokens.length;
  const cache = new Map<string, Float32Array>();
  return vocab.tokens.map((prev) => {
    const m = new Float32Array(n);
    for (let j = 0; j < n; j++) m[j] = scheme.mayFollow(prev, vocab.tokens[j]) ? 1 : 0;
    const key = m.join('');
    const seen = cache.get(key);
    if (seen) return seen;
    cache.set(key, m);
    return m;
  });
}

/**
 * The grammar of the vocabulary's scheme before any token: its stateful
 * grammar when it has one, else its prev-token masks (where, before any
 * token, every token is allowed).
 */
export function grammarStart(vocab: Vocabulary): GrammarState {
  const scheme: TokenScheme = schemeOf(vocab.config);
  if (scheme.grammar) return scheme.grammar(vocab.tokens, vocab.config);
  const masks = grammarMasks(vocab);
  const states: GrammarState[] = masks.map((m) => ({ allowed: () => m, after: (id) => states[id] }));
  const all = new Float32Array(vocab.tokens.length).fill(1);
  return { allowed: () => all, after: (id) => states[id] };
}
