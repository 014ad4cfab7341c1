import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateDiscounts, trainNgram, type NgramModel } from '../lib/evaluate/ngram';
import { loadMidiFolder } from '../lib/midi/read';
import { createRng } from '../lib/core/rng';
import { NOTTINGHAM, needNottingham } from './helpers';

/** Pitch sequences (notes in onset order) of the first `count` Nottingham tunes. */
let cache: number[][] | undefined;
function pitchSequences(): number[][] {
  if (!cache) {
    const { pieces } = loadMidiFolder(NOTTINGHAM);
    cache = pieces.slice(0, 400).map((p) => p.notes.map((n) => n.pitch));
  }
  return cache;
}

function sumProbs(m: NgramModel, ctx: readonly number[]): number {
  const viaDist = m.distribution(ctx).reduce((a, b) => a + b, 0);
  let viaLog = 0;
  for (let w = 0; w < m.vocabSize; w++) viaLog += Math.exp(m.logProb(ctx, w));
  assert.ok(Math.abs(viaDist - viaLog) < 1e-12);
  return viaDist;
}

test('estimateDiscounts follows Chen & Goodman and falls back when undefined', () => {
  // n = (10, 5, 3, 2): Y = 10/20 = 0.5; D1 = 1 − 2·0.5·5/10 = 0.5; D2 = 2 − 3·0.5·3/5 = 1.1; D3 = 3 − 4·0.5·2/3 = 5/3.
  const d = estimateDiscounts(10, 5, 3, 2);
  assert.ok(Math.abs(d.d1 - 0.5) < 1e-12 && Math.abs(d.d2 - 1.1) < 1e-12 && Math.abs(d.d3 - 5 / 3) < 1e-12);
  // n3 = 0: the D2 formula gives 2 (not < 2) and D3 is 0/0: both fall back to Y = 0.5.
  assert.deepEqual(estimateDiscounts(10, 5, 0, 0), { d1: 0.5, d2: 0.5, d3: 0.5 });
  // Many n-grams seen 4 times: D3 formula = 3 − 4·0.5·20/3 < 0 → Y = 0.5, then raised to D2 = 1.1 (monotone).
  const m = estimateDiscounts(10, 5, 3, 20);
  assert.ok(Math.abs(m.d2 - 1.1) < 1e-12 && m.d3 === m.d2);
  // D2 formula = 2 − 3·0.5·6/5 = 0.2 < D1 = 0.5 → raised to 0.5.
  assert.equal(estimateDiscounts(10, 5, 6, 1).d2, 0.5);
  // No data at all: 0.5 everywhere.
  assert.deepEqual(estimateDiscounts(0, 0, 0, 0), { d1: 0.5, d2: 0.5, d3: 0.5 });
});

test('hand-computed bigram Kneser-Ney probabilities on a toy corpus', () => {
  // Pieces [0 1 0 1 2] and [1 0 1 3], V = 4, order 2, padded with one BOS.
  // Bigram counts: (BOS,0)=1 (BOS,1)=1 (0,1)=3 (1,0)=2 (1,2)=1 (1,3)=1 → n1=4 n2=1 n3=1 n4=0:
  //   Y = 2/3, D1 = 1 − 2·(2/3)·1/4 = 2/3; D2 = 2 − 3·(2/3) = 0 → Y; D3 = 3 → Y: all 2/3.
  // Unigram continuation counts (distinct left symbols): 0:{BOS,1}=2 1:{BOS,0}=2 2:{1}=1 3:{1}=1, total 6;
  //   n1=2 n2=2: Y = 1/3 = D1; D2 = 2 → Y; D3 undefined → Y: all 1/3.
  //   P1(w) = (max(a − 1/3, 0) + (4·1/3)·(1/4)) / 6 → P1 = [1/3, 1/3, 1/6, 1/6].
  // Context 1: (1,0)=2 (1,2)=1 (1,3)=1, total 4, backoff mass 3·(2/3) = 2:
  //   P(0|1) = (2 − 2/3 + 2·1/3)/4 = 1/2; P(1|1) = (2·1/3)/4 = 1/6; P(2|1) = (1/3 + 2/6)/4 = 1/6; P(3|1) = 1/6.
  // Context 0: (0,1)=3, total 3, backoff mass 2/3: P(1|0) = (3 − 2/3 + (2/3)(1/3))/3 = 23/27; P(2|0) = (2/3)(1/6)/3 = 1/27.
  const m = trainNgram(
    [
      [0, 1, 0, 1, 2],
      [1, 0, 1, 3],
    ],
    { order: 2, vocabSize: 4 },
  );
  const p = (ctx: number[], w: number): number => Math.exp(m.logProb(ctx, w));
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);
  close(m.discounts[1].d1, 2 / 3);
  close(m.discounts[0].d1, 1 / 3);
  close(p([1], 0), 1 / 2);
  close(p([1], 1), 1 / 6);
  close(p([0, 1, 0, 1], 2), 1 / 6); // only the last token counts at order 2
  close(p([0], 1), 23 / 27);
  close(p([0], 2), 1 / 27);
  // Unseen context (3 is never followed by anything) → the unigram level.
  close(p([3], 0), 1 / 3);
  close(p([3], 3), 1 / 6);
  // Start of a piece: context (BOS): (BOS,0)=1 (BOS,1)=1, total 2, mass 4/3: P(0|BOS) = (1/3 + (4/3)(1/3))/2 = 7/18.
  close(p([], 0), 7 / 18);
  close(p([], 2), ((4 / 3) * (1 / 6)) / 2);
  assert.deepEqual(m.ngramCounts, [4, 6]);
});

/** Straightforward reference implementation of the same definition, with string keys. */
function referenceModel(seqs: number[][], order: number, V: number): (ctx: number[], w: number) => number {
  const BOS = V;
  const raw = new Map<string, number>();
  const left = new Map<string, Set<number>>();
  for (const s of seqs) {
    const p = [...new Array<number>(order - 1).fill(BOS), ...s];
    for (let j = order - 1; j < p.length; j++) {
      for (let k = 1; k <= order; k++) {
        const g = p.slice(j - k + 1, j + 1).join(',');
        raw.set(g, (raw.get(g) ?? 0) + 1);
        if (k < order) left.set(g, (left.get(g) ?? new Set<number>()).add(p[j - k]));
      }
    }
  }
  const adj = (g: number[]): number => {
    const key = g.join(',');
    if (!raw.has(key)) return 0;
    if (g.length === order || (g.length >= 2 && g[0] === BOS)) return raw.get(key)!;
    return left.get(key)!.size;
  };
  const disc = Array.from({ length: order }, (_, k) => {
    const c = [0, 0, 0, 0, 0];
    for (const key of raw.keys()) {
      const g = key.split(',').map(Number);
      if (g.length === k + 1 && adj(g) <= 4) c[adj(g)]++;
    }
    return estimateDiscounts(c[1], c[2], c[3], c[4]);
  });
  const prob = (h: number[], w: number): number => {
    const lower = h.length === 0 ? 1 / V : prob(h.slice(1), w);
    let total = 0;
    let mass = 0;
    const d = disc[h.length];
    const D = (a: number): number => (a === 0 ? 0 : a === 1 ? d.d1 : a === 2 ? d.d2 : d.d3);
    for (let v = 0; v < V; v++) {
      const a = adj([...h, v]);
      total += a;
      mass += D(a);
    }
    if (total === 0) return lower;
    const a = adj([...h, w]);
    return (a - D(a) + mass * lower) / total;
  };
  return (ctx, w) => {
    const h = [...new Array<number>(order - 1).fill(BOS), ...ctx].slice(ctx.length);
    return prob(h, w);
  };
}

test('agrees with a naive reference implementation, orders 1–4, random corpora', () => {
  const rng = createRng(11);
  const r = (n: number): number => Math.floor(rng.next() * n);
  for (let trial = 0; trial < 8; trial++) {
    const V = 3 + r(4);
    const seqs = Array.from({ length: 2 + r(4) }, () => Array.from({ length: 1 + r(12) }, () => r(V - 1)));
    for (let order = 1; order <= 4; order++) {
      const m = trainNgram(seqs, { order, vocabSize: V });
      const ref = referenceModel(seqs, order, V);
      for (let c = 0; c < 6; c++) {
        const ctx = Array.from({ length: r(5) }, () => r(V));
        for (let w = 0; w < V; w++) {
          const a = Math.exp(m.logProb(ctx, w));
          const b = ref(ctx, w);
          assert.ok(Math.abs(a - b) < 1e-12, `trial ${trial} order ${order} ctx ${ctx} w ${w}: ${a} vs ${b}`);
        }
      }
    }
  }
});

test('n-grams never cross piece boundaries', () => {
  const apart = trainNgram(
    [
      [0, 1],
      [2, 3],
    ],
    { order: 2, vocabSize: 4 },
  );
  const joined = trainNgram([[0, 1, 2, 3]], { order: 2, vocabSize: 4 });
  // In `apart`, 1 is never followed by anything: context [1] is unseen, like context [3].
  assert.equal(apart.logProb([1], 2), apart.logProb([3], 2));
  assert.ok(joined.logProb([1], 2) > joined.logProb([3], 2) + 0.5);
});

test('probabilities sum to 1 for orders 1–5, seen and unseen contexts, unseen tokens > 0', { skip: needNottingham }, () => {
  const seqs = pitchSequences();
  const piece = seqs[3];
  for (let order = 1; order <= 5; order++) {
    const m = trainNgram(seqs, { order, vocabSize: 128 });
    const contexts = [
      [],
      piece.slice(0, 1),
      piece.slice(0, 10),
      piece.slice(20, 60),
      [0, 127, 1, 126],
      [127, 127, 127, 127, 127, 127],
      [m.bos, 60],
    ];
    for (const ctx of contexts) assert.ok(Math.abs(sumProbs(m, ctx) - 1) < 1e-9, `order ${order} ctx ${ctx}`);
    assert.ok(Number.isFinite(m.logProb(piece.slice(0, 10), 0)), 'pitch 0 never occurs but has p > 0');
    assert.equal(m.ngramCounts.length, order);
  }
});

test('higher orders beat the unigram on held-out tunes; evaluateNll skips first tokens', { skip: needNottingham }, () => {
  const seqs = pitchSequences();
  const train = seqs.filter((_, i) => i % 5 !== 0);
  const held = seqs.filter((_, i) => i % 5 === 0);
  const before = JSON.stringify(train.slice(0, 3));
  const ppl = [1, 2, 3, 5].map((order) => trainNgram(train, { order, vocabSize: 128 }).evaluateNll(held));
  assert.equal(JSON.stringify(train.slice(0, 3)), before, 'inputs not modified');
  const expectTokens = held.reduce((a, s) => a + Math.max(0, s.length - 1), 0);
  for (const e of ppl) assert.equal(e.tokens, expectTokens);
  // Pitch-sequence perplexities: unigram ≈ 20, higher orders far lower.
  assert.ok(ppl[0].perplexity > 10, `unigram ${ppl[0].perplexity}`);
  assert.ok(ppl[1].perplexity < 0.6 * ppl[0].perplexity, `bigram ${ppl[1].perplexity} vs unigram ${ppl[0].perplexity}`);
  assert.ok(ppl[2].perplexity < ppl[1].perplexity && ppl[3].perplexity < ppl[1].perplexity);
  // nll = mean of −sequenceLogProbs over positions ≥ 1; perplexity = exp(nll).
  const m = trainNgram(train, { order: 3, vocabSize: 128 });
  const e = m.evaluateNll(held.slice(0, 5));
  let sum = 0;
  let count = 0;
  for (const s of held.slice(0, 5)) {
    const lp = m.sequenceLogProbs(Int32Array.from(s));
    for (let i = 1; i < s.length; i++) ((sum -= lp[i]), count++);
  }
  assert.equal(e.tokens, count);
  assert.ok(Math.abs(e.nll - sum / count) < 1e-12);
  assert.ok(Math.abs(e.perplexity - Math.exp(e.nll)) < 1e-9);
});

test('rejects bad settings and tokens with a message naming them', () => {
  assert.throws(() => trainNgram([[0, 1]], { order: 0, vocabSize: 2 }), /order must be an integer/);
  assert.throws(() => trainNgram([[0, 1]], { order: 2, vocabSize: 1.5 }), /vocabSize/);
  assert.throws(() => trainNgram([[0, 1], [2]], { vocabSize: 2 }), /token 2 at position 0 of sequence 1/);
  const m = trainNgram([[0, 1]], { vocabSize: 2 });
  assert.equal(m.order, 5);
  assert.throws(() => m.logProb([0], 2), /token 2 is outside/);
  assert.throws(() => m.logProb([7], 1), /context symbol 7/);
  assert.ok(Number.isNaN(m.evaluateNll([[1]]).nll));
});
