/**
 * Data-parallel gradients for the JavaScript backends. tfjs's wasm and cpu
 * backends compute on one thread in Node, so on a machine with several cores
 * a training batch is split by rows between the main thread and worker
 * threads (lib/train/grad-worker.ts), each with its own backend and a copy of the
 * weights; their losses and gradients are averaged, weighted by rows.
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
import type { FromWorker, ToWorker } from './grad-worker';
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

  return {
    threads,
    terminate,
    async lossAndGradients(vars: ModelVars, batch: Batch, drop?: DropoutSpec, init?: BatchStateArrays): Promise<BatchGradients> {
      const rows = shareRows(batch.batchSize, threads);
      const seed = drop ? Math.floor(drop.rng.next() * 2 ** 32) : 0;
      const shareDrop = (k: number): DropoutSpec | undefined => (drop ? { ...drop, rng: createRng(deriveSeed(seed, k)) } : undefined);
      if (rows.length === 1) return lossAndGradients(vars, batch, shareDrop(0), init);
      const T = batch.seqLen;
      const weights = varList(vars).map((v) => v.dataSync() as Float32Array);
      const first = (k: number): number => rows.slice(0, k).reduce((a, r) => a + r, 0);
      const share = (k: number): Batch => {
        const start = first(k) * T;
        const end = start + rows[k] * T;
        return { batchSize: rows[k], seqLen: T, inputs: batch.inputs.slice(start, end), targets: batch.targets.slice(start, end) };
      };
      const units = vars.lstm[0].recurrentKernel.shape[0];
      const shareState = (k: number): BatchStateArrays | undefined => init && sliceRows(init, first(k), first(k) + rows[k], units);
      const replies = rows.slice(1).map((_, j) => {
        const s = share(j + 1);
        return ask(peers[j], {
          type: 'step', weights, batchSize: s.batchSize, seqLen: T, inputs: s.inputs, targets: s.targets,
          dropout: drop ? { dropout: drop.dropout, recurrentDropout: drop.recurrentDropout, seed: deriveSeed(seed, j + 1) } : null,
          state: shareState(j + 1) ?? null,
        });
      });
      // The main thread's own share runs while the workers compute theirs.
      let mine: BatchGradients;
      try {
        mine = lossAndGradients(vars, share(0), shareDrop(0), shareState(0));
      } catch (e) {
        await Promise.allSettled(replies);
        throw e;
      }
      let others: { readonly loss: number; readonly grads: Float32Array[]; readonly state: BatchStateArrays | null }[];
      try {
        others = (await Promise.all(replies)).map((o) => {
          if (o.type !== 'grads') throw new Error('gradient worker sent no gradients');
          return o;
        });
      } catch (e) {
        tf.dispose(mine.grads);
        throw e;
      }
      // Each share's loss and gradients are means over its rows: weight them by rows.
      const B = batch.batchSize;
      const loss = others.reduce((sum, o, j) => sum + (o.loss * rows[j + 1]) / B, (mine.loss * rows[0]) / B);
      const grads = tf.tidy(() =>
        mine.grads.map((g, i) => others.reduce((sum, o, j) => tf.add(sum, tf.mul(tf.tensor(o.grads[i], g.shape), rows[j + 1] / B)), tf.mul(g, rows[0] / B))),
      );
      tf.dispose(mine.grads);
      if (!init) return { loss, grads };
      const parts = [mine.state, ...others.map((o) => o.state)];
      if (parts.some((p) => !p)) throw new Error('gradient worker sent no state');
      return { loss, grads, state: joinRows(parts as BatchStateArrays[]) };
    },
  };
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
