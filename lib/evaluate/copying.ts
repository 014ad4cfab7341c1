/**
 * Verbatim copying: the longest run of generated token ids that also occurs,
 * contiguously, inside one training piece.
 *
 * A suffix automaton is built once over all training pieces joined by a
 * separator symbol that no query contains, so no match can span two pieces.
 * Building is linear in the training length; a query is linear in the
 * generated length (≈ 700k training tokens build in well under a second).
 * Transitions live in an open-addressing hash table on typed arrays, with a
 * per-state edge list for cloning, so memory stays a few tens of MB.
 */

/** Where the longest copied run was found. */
export interface CopyMatch {
  /** Length of the longest run (0 when no generated token occurs in training). */
  readonly length: number;
  /** Index of the training piece holding the run (its first occurrence), or −1 when length is 0. */
  readonly trainingPiece: number;
  /** Start of the run inside that training piece, or −1. */
  readonly at: number;
  /** Start of the run inside the generated sequence (the earliest longest run), or −1. */
  readonly generatedAt: number;
}

/** A reusable index over training sequences. */
export interface CopyIndex {
  /** Number of training pieces and tokens indexed. */
  readonly pieces: number;
  readonly tokens: number;
  /** The longest contiguous run of `generated` occurring inside one training piece. */
  longest(generated: ArrayLike<number>): CopyMatch;
  /**
   * `out[j]` = length of the longest run ending at `generated[j]` that occurs in
   * some training piece (matching statistics), e.g. to measure how much of a
   * piece is covered by copies of at least k tokens.
   */
  matchLengths(generated: ArrayLike<number>): Int32Array;
}

/** Builds the index over training token sequences (non-negative integers; inputs are not modified). */
export function buildCopyIndex(training: readonly ArrayLike<number>[]): CopyIndex {
  let maxSym = -1;
  let n = 0;
  training.forEach((seq, p) => {
    for (let i = 0; i < seq.length; i++) {
      const s = seq[i];
      if (!Number.isInteger(s) || s < 0 || s >= 2 ** 30)
        throw new RangeError(`token ${s} at position ${i} of training piece ${p} is not an integer in [0, 2^30)`);
      if (s > maxSym) maxSym = s;
    }
    n += seq.length;
  });
  const SEP = maxSym + 1;
  const textLen = n + training.length;
  const offsets = new Float64Array(training.length + 1); // piece p starts at offsets[p] in the joined text
  const cap = 2 * textLen + 2;
  const len = new Int32Array(cap);
  const link = new Int32Array(cap);
  const firstEnd = new Int32Array(cap);
  const edgeHead = new Int32Array(cap).fill(-1);
  const trans = new TransitionTable(textLen);
  link[0] = -1;
  let states = 1;
  let last = 0;

  const extend = (c: number, pos: number): void => {
    const cur = states++;
    len[cur] = len[last] + 1;
    firstEnd[cur] = pos;
    let p = last;
    while (p !== -1 && trans.get(p, c) < 0) {
      trans.set(p, c, cur, edgeHead);
      p = link[p];
    }
    if (p === -1) link[cur] = 0;
    else {
      const q = trans.get(p, c);
      if (len[p] + 1 === len[q]) link[cur] = q;
      else {
        const clone = states++;
        len[clone] = len[p] + 1;
        link[clone] = link[q];
        firstEnd[clone] = firstEnd[q];
        for (let e = edgeHead[q]; e !== -1; e = trans.edgeNext[e]) {
          const sym = trans.edgeSym[e];
          trans.set(clone, sym, trans.get(q, sym), edgeHead);
        }
        while (p !== -1 && trans.get(p, c) === q) {
          trans.set(p, c, clone, edgeHead);
          p = link[p];
        }
        link[q] = clone;
        link[cur] = clone;
      }
    }
    last = cur;
  };

  let pos = 0;
  training.forEach((seq, p) => {
    offsets[p] = pos;
    for (let i = 0; i < seq.length; i++) extend(seq[i], pos++);
    extend(SEP, pos++);
  });
  offsets[training.length] = pos;

  const pieceOf = (textPos: number): number => {
    let lo = 0;
    let hi = training.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid] <= textPos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  /** Runs the matcher; calls `visit(j, length, state)` after each generated token. */
  const scan = (generated: ArrayLike<number>, visit: (j: number, l: number, state: number) => void): void => {
    let v = 0;
    let l = 0;
    for (let j = 0; j < generated.length; j++) {
      const c = generated[j];
      if (!Number.isInteger(c) || c < 0 || c > maxSym) {
        v = 0;
        l = 0;
      } else {
        while (v !== 0 && trans.get(v, c) < 0) {
          v = link[v];
          l = len[v];
        }
        const t = trans.get(v, c);
        if (t >= 0) {
          v = t;
          l++;
        } else {
          v = 0;
          l = 0;
        }
      }
      visit(j, l, v);
    }
  };

  return {
    pieces: training.length,
    tokens: n,
    longest(generated) {
      let best = 0;
      let bestJ = -1;
      let bestState = 0;
      scan(generated, (j, l, v) => {
        if (l > best) {
          best = l;
          bestJ = j;
          bestState = v;
        }
      });
      if (best === 0) return { length: 0, trainingPiece: -1, at: -1, generatedAt: -1 };
      const start = firstEnd[bestState] - best + 1;
      const piece = pieceOf(start);
      return { length: best, trainingPiece: piece, at: start - offsets[piece], generatedAt: bestJ - best + 1 };
    },
    matchLengths(generated) {
      const out = new Int32Array(generated.length);
      scan(generated, (j, l) => {
        out[j] = l;
      });
      return out;
    },
  };
}

/** Open-addressing hash map (state, symbol) → target state, plus per-state edge lists. */
class TransitionTable {
  private keysState: Int32Array; // state + 1; 0 = empty slot
  private keysSym: Int32Array;
  private values: Int32Array;
  private mask: number;
  private size = 0;
  edgeNext: Int32Array;
  edgeSym: Int32Array;
  private edges = 0;

  constructor(textLen: number) {
    let capacity = 1024;
    while (capacity < textLen * 2) capacity *= 2;
    this.keysState = new Int32Array(capacity);
    this.keysSym = new Int32Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.edgeNext = new Int32Array(Math.max(16, textLen));
    this.edgeSym = new Int32Array(Math.max(16, textLen));
  }

  private slot(state: number, sym: number): number {
    let h = Math.imul(state ^ Math.imul(sym, 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    let i = h & this.mask;
    while (this.keysState[i] !== 0 && (this.keysState[i] !== state + 1 || this.keysSym[i] !== sym)) i = (i + 1) & this.mask;
    return i;
  }

  /** Target of (state, sym), or −1. */
  get(state: number, sym: number): number {
    const i = this.slot(state, sym);
    return this.keysState[i] === 0 ? -1 : this.values[i];
  }

  /** Sets (state, sym) → target; a new key is also appended to the state's edge list. */
  set(state: number, sym: number, target: number, edgeHead: Int32Array): void {
    const i = this.slot(state, sym);
    if (this.keysState[i] !== 0) {
      this.values[i] = target;
      return;
    }
    this.keysState[i] = state + 1;
    this.keysSym[i] = sym;
    this.values[i] = target;
    if (++this.size * 4 > this.mask * 3) this.grow();
    if (this.edges === this.edgeNext.length) {
      this.edgeNext = growInt32(this.edgeNext);
      this.edgeSym = growInt32(this.edgeSym);
    }
    this.edgeSym[this.edges] = sym;
    this.edgeNext[this.edges] = edgeHead[state];
    edgeHead[state] = this.edges++;
  }

  private grow(): void {
    const ks = this.keysState;
    const ky = this.keysSym;
    const vs = this.values;
    this.keysState = new Int32Array(ks.length * 2);
    this.keysSym = new Int32Array(ks.length * 2);
    this.values = new Int32Array(ks.length * 2);
    this.mask = ks.length * 2 - 1;
    for (let i = 0; i < ks.length; i++) {
      if (ks[i] === 0) continue;
      const j = this.slot(ks[i] - 1, ky[i]);
      this.keysState[j] = ks[i];
      this.keysSym[j] = ky[i];
      this.values[j] = vs[i];
    }
  }
}

function growInt32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
