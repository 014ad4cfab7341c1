/**
 * The worker side of {@link startGradientWorkers} (lib/train/parallel.ts): a
 * worker thread with its own tfjs backend and its own copy of the model's
 * variables. For each step it receives the current weights and its share of
 * the batch, and sends back the loss and gradients of that share, computed
 * by the same kernel as the main thread (lib/train/bptt.ts, or for the note
 * family lib/train/note-bptt.ts).
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../model/backend';
import type { NoteBatch } from '../data/note-dataset';
import { lossAndGradients, type BatchGradients, type BatchStateArrays } from './bptt';
import { noteLossAndGradients } from './note-bptt';
import { buildModel, varList, type ModelConfig, type ModelVars } from '../model/network';
import { createRng } from '../core/rng';

/** Dropout rates and the seed of a share's masks. */
export interface WorkerDropout {
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly seed: number;
}

/** Messages from the main thread. */
export type ToWorker =
  | { readonly type: 'init'; readonly backend: BackendName; readonly config: ModelConfig }
  | {
      readonly type: 'step';
      /** Every variable's values, in varList order. */
      readonly weights: readonly Float32Array[];
      readonly batchSize: number;
      readonly seqLen: number;
      readonly inputs: Int32Array;
      readonly targets: Int32Array;
      /** This share's dropout; null = no dropout. */
      readonly dropout: WorkerDropout | null;
      /** The state this share's rows start from (training with the state carried over), or null for zeros. */
      readonly state: BatchStateArrays | null;
    }
  | {
      /** A step of the note family: this share's rows of the batch, its `tokens` counted anew. */
      readonly type: 'note-step';
      readonly weights: readonly Float32Array[];
      readonly batch: NoteBatch;
      readonly dropout: WorkerDropout | null;
    };

/** Messages to the main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'grads'; readonly loss: number; readonly grads: Float32Array[]; readonly state: BatchStateArrays | null }
  | { readonly type: 'error'; readonly message: string };

function serve(port: NonNullable<typeof parentPort>): void {
  let vars: ModelVars | null = null;
  const reply = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  port.on('message', (m: ToWorker) => {
    void (async () => {
      try {
        if (m.type === 'init') {
          await initBackend(m.backend);
          vars = buildModel(m.config).vars;
          reply({ type: 'ready' });
          return;
        }
        if (!vars) throw new Error('step before init');
        const list = varList(vars);
        tf.tidy(() => m.weights.forEach((w, i) => list[i].assign(tf.tensor(w, list[i].shape))));
        const drop = m.dropout
          ? { dropout: m.dropout.dropout, recurrentDropout: m.dropout.recurrentDropout, rng: createRng(m.dropout.seed) }
          : undefined;
        const { loss, grads, state }: BatchGradients =
          m.type === 'note-step'
            ? noteLossAndGradients(vars, m.batch, drop)
            : lossAndGradients(
                vars,
                { batchSize: m.batchSize, seqLen: m.seqLen, inputs: m.inputs, targets: m.targets },
                drop,
                m.state ?? undefined,
              );
        // Copies: on the cpu backend dataSync returns the tensor's own array.
        const arrays = grads.map((g) => (g.dataSync() as Float32Array).slice());
        tf.dispose(grads);
        reply(
          { type: 'grads', loss, grads: arrays, state: state ?? null },
          arrays.map((a) => a.buffer as ArrayBuffer),
        );
      } catch (e) {
        reply({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
}

if (parentPort) serve(parentPort);
