/**
 * The note family's head over a batch, packed: the head's LSTM writes each
 * next step's tokens slot by slot, and only the rows that still have a token
 * to write at a slot are computed there. Rows are sorted by how many tokens
 * their next step has (most first), so the rows alive at slot j are a prefix
 * of that order and every row computed is a row scored; a step of 3.6 tokens
 * on average no longer costs the longest step's 7 or 8 slots.
 *
 * The head reads [h_top; embedding(previous token)]. The h_top share of its
 * gates is the same at every slot of a step, so it is computed once per step
 * (top · W_top + bias); the token's share is a row of embedding · W_emb,
 * computed once for the vocabulary. Only h_{j−1} · U is computed per slot.
 * Call inside tf.tidy; lib/train/note-head-bptt.ts is the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { colBlocks } from './forward';
import type { LstmVars } from './network';

/** What the head's backward pass needs (packed rows: slot by slot, each slot's rows in sorted order). */
export interface HeadTape {
  /** Rows alive at each slot (non-increasing). */
  readonly counts: readonly number[];
  /** [P] the original row (n, of N) of each packed row. */
  readonly source: Int32Array;
  /** [P] the head's input id at each packed row (the start id, then the step's tokens but its last). */
  readonly prefixIds: Int32Array;
  /** [N, units] the main stack's top outputs. */
  readonly top: tf.Tensor2D;
  /** The head's kernel split by its input: the rows h_top reads [units, 4·headUnits], and those the token's embedding reads. */
  readonly wTop: tf.Tensor2D;
  readonly wEmb: tf.Tensor2D;
  /** [P, headUnits] each packed row's h_{j−1} (zeros at slot 0), its gates and its cell state c_j and c_{j−1}. */
  readonly hPrev: tf.Tensor2D;
  readonly i: tf.Tensor2D;
  readonly f: tf.Tensor2D;
  readonly g: tf.Tensor2D;
  readonly o: tf.Tensor2D;
  readonly c: tf.Tensor2D;
  readonly cPrev: tf.Tensor2D;
}

/** The head's outputs at every packed row, where each packed row comes from, and the tape when asked for. */
export interface HeadForward {
  /** [P, headUnits] */
  readonly out: tf.Tensor2D;
  /** [P] the packed rows' places among the head's rows in slot-major order (j·N + n). */
  readonly rows: Int32Array;
  readonly tape: HeadTape | null;
}

/** The first `n` rows of a [r, c] tensor (host copy). */
function firstRows(x: tf.Tensor2D, n: number): tf.Tensor2D {
  return n === x.shape[0] ? x : tf.tensor2d((x.dataSync() as Float32Array).slice(0, n * x.shape[1]), [n, x.shape[1]]);
}

/**
 * Runs the head (see the file comment). `lengths[n]` is how many tokens row
 * n's next step has, `prefix[j·N + n]` the head's input id at slot j of row n
 * (slot-major), `embedding` the model's [V + 2, E] embedding.
 */
export function headForward(
  head: LstmVars,
  embedding: tf.Tensor2D,
  top: tf.Tensor2D,
  lengths: Int32Array,
  prefix: Int32Array,
  keepTape: boolean,
): HeadForward {
  const N = lengths.length;
  const units = top.shape[1];
  const H = head.recurrentKernel.shape[0];
  const order = Int32Array.from(lengths.keys()).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const slots = N > 0 ? lengths[order[0]] : 0;
  const counts: number[] = [];
  for (let j = 0, n = N; j < slots; j++) {
    while (n > 0 && lengths[order[n - 1]] <= j) n--;
    counts.push(n);
  }
  const P = counts.reduce((a, b) => a + b, 0);
  const source = new Int32Array(P);
  const rows = new Int32Array(P);
  const prefixIds = new Int32Array(P);
  for (let j = 0, p = 0; j < slots; j++)
    for (let k = 0; k < counts[j]; k++, p++) {
      source[p] = order[k];
      rows[p] = j * N + order[k];
      prefixIds[p] = prefix[j * N + order[k]];
    }
  const kernel = head.kernel as tf.Tensor2D;
  const wTop = kernel.slice([0, 0], [units, 4 * H]);
  const wEmb = kernel.slice([units, 0], [kernel.shape[0] - units, 4 * H]);
  const topShare = tf.add(tf.matMul(top, wTop), head.bias) as tf.Tensor2D;
  const embShare = tf.matMul(embedding, wEmb);
  const inputShare = tf.add(tf.gather(topShare, tf.tensor1d(source, 'int32')), tf.gather(embShare, tf.tensor1d(prefixIds, 'int32')));
  const shares = slots > 0 ? tf.split(inputShare, counts, 0) : [];
  const tape = {
    hPrev: [] as tf.Tensor2D[],
    i: [] as tf.Tensor2D[],
    f: [] as tf.Tensor2D[],
    g: [] as tf.Tensor2D[],
    o: [] as tf.Tensor2D[],
    c: [] as tf.Tensor2D[],
    cPrev: [] as tf.Tensor2D[],
  };
  const outs: tf.Tensor2D[] = [];
  let h: tf.Tensor2D = tf.zeros([counts[0] ?? 0, H]);
  let c: tf.Tensor2D = tf.zeros([counts[0] ?? 0, H]);
  for (let j = 0; j < slots; j++) {
    const n = counts[j];
    const hPrev = firstRows(h, n);
    const cPrev = firstRows(c, n);
    const z =
      j === 0 ? (shares[j] as tf.Tensor2D) : (tf.add(shares[j], tf.matMul(hPrev, head.recurrentKernel as tf.Tensor2D)) as tf.Tensor2D);
    const [zi, zf, zg, zo] = colBlocks(z, 4) as tf.Tensor2D[];
    const i = tf.sigmoid(zi) as tf.Tensor2D;
    const f = tf.sigmoid(zf) as tf.Tensor2D;
    const g = tf.tanh(zg) as tf.Tensor2D;
    const o = tf.sigmoid(zo) as tf.Tensor2D;
    c = tf.add(tf.mul(f, cPrev), tf.mul(i, g)) as tf.Tensor2D;
    h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
    outs.push(h);
    if (keepTape) {
      tape.hPrev.push(hPrev);
      tape.cPrev.push(cPrev);
      tape.i.push(i);
      tape.f.push(f);
      tape.g.push(g);
      tape.o.push(o);
      tape.c.push(c);
    }
  }
  const stack = (xs: tf.Tensor2D[]): tf.Tensor2D => (xs.length > 0 ? (tf.concat(xs, 0) as tf.Tensor2D) : tf.zeros([0, H]));
  const out = stack(outs);
  if (!keepTape) return { out, rows, tape: null };
  return {
    out,
    rows,
    tape: {
      counts,
      source,
      prefixIds,
      top,
      wTop,
      wEmb,
      hPrev: stack(tape.hPrev),
      i: stack(tape.i),
      f: stack(tape.f),
      g: stack(tape.g),
      o: stack(tape.o),
      c: stack(tape.c),
      cPrev: stack(tape.cPrev),
    },
  };
}
