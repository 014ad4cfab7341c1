/**
 * The grammar generation obeys, as masks over the vocabulary: after token id
 * i, token j may be sampled when `masks[i][j]` is 1. The rules come from the
 * vocabulary's scheme ({@link TokenScheme.mayFollow}).
 */
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
