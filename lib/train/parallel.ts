/**
 * Data-parallel gradients for the JavaScript backends. tfjs's wasm and cpu
 * backends compute on one thread in Node, so on a machine with several cores
 * a training batch is split by rows between the main thread and worker
 * threads (lib/train/grad-worker.ts), each with its own backend and a copy of the
 * weights; their losses and gradients are averaged, weighted by rows (the
 * token family's loss is a mean over rows of equal length) or by target
 * tokens (the note family's is a mean over tokens, and steps differ).
 *
 * Without dropout the result equals the one-thread kernel's (tested). With
 * dropout each share draws its own masks from a seed taken from the step's
 * random generator, so a run is reproducible for a given thread count.
 * The native backend (tfjs-node) already uses every core: no workers there.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../model/backend';
import type { Batch } from '../data/dataset';
import { noteBatchRows, type NoteBatch } from '../data/note-dataset';
import type { FromWorker, ToWorker, WorkerDropout } from './grad-worker';
import { noteLossAndGradients } from './note-bptt';
import { lossAndGradients, type BatchStateArrays, type DropoutSpec, type BatchGradients } from './bptt';
import { varList, type ModelConfig, type ModelVars } from '../model/network';
import { createRng, deriveSeed } from '../core/rng';

/** Fewest batch rows worth giving a thread of its own. */
const MIN_ROWS_PER_THREAD = 4;

/** Gradient computation spread over the main thread and worker threads. */
export interface GradientWorkers {
  /** Threads in use, the main one included. */
  readonly threads: number;
  /** Loss and gradients of the whole batch (and from `init`, the state its rows end in), as {@link lossAndGradients} gives them (tensors owned by the caller). */
  lossAndGradients(vars: ModelVars, batch: Batch, drop?: DropoutSpec, init?: BatchStateArrays): Promise<BatchGradients>;
  /** The note family's loss and gradients of a batch, as {@link noteLossAndGradients} gives them: its rows split over the threads, the shares weighted by their target tokens. */
  noteLossAndGradients(vars: ModelVars, batch: NoteBatch, drop?: DropoutSpec): Promise<BatchGradients>;
  /** Stops the workers. */
  terminate(): Promise<void>;
}

/** Threads to use when the config says 0 (auto): one per core, at most 8. */
export function autoThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 8));
}

/** Row counts of the shares of a batch of `rows` split `parts` ways (the first ones one larger when uneven). */
export function shareRows(rows: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, Math.floor(rows / MIN_ROWS_PER_THREAD)));
  return Array.from({ length: n }, (_, k) => Math.floor(rows / n) + (k < rows % n ? 1 : 0));
}

/** One worker thread and the reply it owes. */
interface Peer {
  readonly worker: Worker;
  pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null;
}

/**
 * Starts `threads - 1` workers on `backend` for a model of `config`; throws
 * when one cannot start (the caller then trains on one thread).
 */
export async function startGradientWorkers(config: ModelConfig, threads: number, backend: BackendName): Promise<GradientWorkers> {
  // Workers load the TypeScript sources through tsx, whatever ran the main thread (tsx, tslab, node).
  const boot = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\nrequire(${JSON.stringify(path.join(__dirname, 'grad-worker.ts'))});`;
  const peers: Peer[] = [];
  const ask = (p: Peer, m: ToWorker): Promise<FromWorker> =>
    new Promise((resolve, reject) => {
      p.pending = { resolve, reject };
      p.worker.postMessage(m);
    });
  const terminate = async (): Promise<void> => {
    await Promise.all(peers.map((p) => p.worker.terminate()));
  };
  try {
    for (let k = 1; k < threads; k++) {
      const peer: Peer = { worker: new Worker(boot, { eval: true }), pending: null };
      const fail = (e: Error): void => {
        const p = peer.pending;
        peer.pending = null;
        p?.reject(e);
      };
      peer.worker.on('message', (m: FromWorker) => {
        const p = peer.pending;
        peer.pending = null;
        if (m.type === 'error') p?.reject(new Error(`gradient worker: ${m.message}`));
        else p?.resolve(m);
      });
      peer.worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      peer.worker.on('exit', (code) => fail(new Error(`gradient worker exited (code ${code})`)));
      peers.push(peer);
    }
    await Promise.all(peers.map((p) => ask(p, { type: 'init', backend, config })));
  } catch (e) {
    await terminate();
    throw e;
  }

  /** Posts a step to every worker but the main thread's share (share k + 1 to peer k). */
  const post = (messages: readonly ToWorker[]): Promise<FromWorker>[] => messages.map((m, j) => ask(peers[j], m));

  return {
    threads,
    terminate,
    async lossAndGradients(vars: ModelVars, batch: Batch, drop?: DropoutSpec, init?: BatchStateArrays): Promise<BatchGradients> {
      const rows = shareRows(batch.batchSize, threads);
      const d = shareDropouts(drop);
      if (rows.length === 1) return lossAndGradients(vars, batch, d.local(0), init);
      const T = batch.seqLen;
      const weights = weightArrays(vars);
      const first = (k: number): number => rows.slice(0, k).reduce((a, r) => a + r, 0);
      const share = (k: number): Batch => {
        const start = first(k) * T;
        const end = start + rows[k] * T;
        return { batchSize: rows[k], seqLen: T, inputs: batch.inputs.slice(start, end), targets: batch.targets.slice(start, end) };
      };
      const units = vars.lstm[0].recurrentKernel.shape[0];
      const shareState = (k: number): BatchStateArrays | undefined => init && sliceRows(init, first(k), first(k) + rows[k], units);
      const replies = post(
        rows.slice(1).map((_, j): ToWorker => {
          const s = share(j + 1);
          return {
            type: 'step',
            weights,
            batchSize: s.batchSize,
            seqLen: T,
            inputs: s.inputs,
            targets: s.targets,
            dropout: d.remote(j + 1),
            state: shareState(j + 1) ?? null,
          };
        }),
      );
      // Each share's loss and gradients are means over its rows: weight them by rows.
      const { loss, grads, states } = await combineShares(() => lossAndGradients(vars, share(0), d.local(0), shareState(0)), replies, rows);
      if (!init) return { loss, grads };
      if (states.some((p) => !p)) throw new Error('gradient worker sent no state');
      return { loss, grads, state: joinRows(states as BatchStateArrays[]) };
    },
    async noteLossAndGradients(vars: ModelVars, batch: NoteBatch, drop?: DropoutSpec): Promise<BatchGradients> {
      const rows = shareRows(batch.batchSize, threads);
      const d = shareDropouts(drop);
      if (rows.length === 1) return noteLossAndGradients(vars, batch, d.local(0));
      const shares = rows.map((r, k) =>
        noteBatchRows(
          batch,
          rows.slice(0, k).reduce((a, n) => a + n, 0),
          r,
        ),
      );
      const weights = weightArrays(vars);
      const replies = post(shares.slice(1).map((s, j): ToWorker => ({ type: 'note-step', weights, batch: s, dropout: d.remote(j + 1) })));
      // The note loss is a mean over target tokens: weight the shares by their tokens.
      const { loss, grads } = await combineShares(
        () => noteLossAndGradients(vars, shares[0], d.local(0)),
        replies,
        shares.map((s) => s.tokens),
      );
      return { loss, grads };
    },
  };
}

/** Every variable's values, in varList order (the weights sent to the workers). */
function weightArrays(vars: ModelVars): Float32Array[] {
  return varList(vars).map((v) => v.dataSync() as Float32Array);
}

/** Each share's dropout: its masks drawn from a seed derived from one draw of the step's generator (none without dropout). */
function shareDropouts(drop: DropoutSpec | undefined): {
  local: (k: number) => DropoutSpec | undefined;
  remote: (k: number) => WorkerDropout | null;
} {
  const seed = drop ? Math.floor(drop.rng.next() * 2 ** 32) : 0;
  return {
    local: (k) => (drop ? { ...drop, rng: createRng(deriveSeed(seed, k)) } : undefined),
    remote: (k) => (drop ? { dropout: drop.dropout, recurrentDropout: drop.recurrentDropout, seed: deriveSeed(seed, k) } : null),
  };
}

/**
 * Computes the main thread's share (`mine`) while the workers compute theirs
 * (`replies`, already posted), then the mean of the shares' losses and
 * gradients weighted by `weights` (main's first; a share of weight 0 adds
 * nothing). Gradients belong to the caller; on an error none are left.
 */
async function combineShares(
  mine: () => BatchGradients,
  replies: readonly Promise<FromWorker>[],
  weights: readonly number[],
): Promise<{ loss: number; grads: tf.Tensor[]; states: (BatchStateArrays | null | undefined)[] }> {
  let own: BatchGradients;
  try {
    own = mine();
  } catch (e) {
    await Promise.allSettled(replies);
    throw e;
  }
  let others: Extract<FromWorker, { type: 'grads' }>[];
  try {
    others = (await Promise.all(replies)).map((o) => {
      if (o.type !== 'grads') throw new Error('gradient worker sent no gradients');
      return o;
    });
  } catch (e) {
    tf.dispose(own.grads);
    throw e;
  }
  const total = weights.reduce((a, x) => a + x, 0) || 1;
  const w = weights.map((x) => x / total);
  const loss = others.reduce((sum, o, j) => sum + o.loss * w[j + 1], own.loss * w[0]);
  const grads = tf.tidy(() =>
    own.grads.map((g, i) => others.reduce((sum, o, j) => tf.add(sum, tf.mul(tf.tensor(o.grads[i], g.shape), w[j + 1])), tf.mul(g, w[0]))),
  );
  tf.dispose(own.grads);
  return { loss, grads, states: [own.state, ...others.map((o) => o.state)] };
}

/** Rows [from, to) of every layer's state, each row `units` values. */
function sliceRows(state: BatchStateArrays, from: number, to: number, units: number): BatchStateArrays {
  return state.map((s) => ({ h: s.h.slice(from * units, to * units), c: s.c.slice(from * units, to * units) }));
}

/** The shares' states, rows in share order, joined layer by layer. */
function joinRows(parts: readonly BatchStateArrays[]): BatchStateArrays {
  const join = (arrays: readonly Float32Array[]): Float32Array => {
    const out = new Float32Array(arrays.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of arrays) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  return parts[0].map((_, l) => ({ h: join(parts.map((p) => p[l].h)), c: join(parts.map((p) => p[l].c)) }));
}
