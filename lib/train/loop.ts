/**
 * The training loop: seeded shuffles and dropout, Adam with gradient
 * clipping, validation loss and perplexity per epoch, early stopping, the
 * best model written atomically to the model folder, resumable checkpoints,
 * and callbacks for progress bars and live plots (no console output here).
 */
import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, writeCheckpoint, type NamedTensor, type TrainPosition } from '../store/checkpoint';
import { validateTrainConfig, type EpochRecord, type TrainConfig } from '../store/train-config';
import { openModelOutput, type ModelOutput } from '../store/output';
import { makeTransposer } from '../data/transpose';
import type { DatasetConfig, EncodedPiece, StreamBatch } from '../data/dataset';
import { UserError } from '../core/errors';
import { turnAndCheck } from '../core/steps';
import { showPath, type FilePath } from '../core/files';
import { currentBackend } from '../model/backend';
import type { BatchGradients, BatchStateArrays } from './bptt';
import { batchGradients, batchLossAndWeight, batchTokenCount, runBatches, type StreamedData, type TrainingBatch } from './batching';
import { autoThreads, startGradientWorkers, type GradientWorkers } from './parallel';
import { varList, type ModelConfig, type MusicModel } from '../model/network';
import { createRng, deriveSeed } from '../core/rng';
import type { RunConfig } from '../store/run-config';
import { saveHistory, saveRunConfig, saveWeights } from '../store/save';
import type { Vocabulary } from '../tokens/vocabulary';

/** Progress after each batch. */
interface BatchProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  /** This batch's loss (nats per token). */
  readonly loss: number;
  /** Training throughput so far in this run (supervised tokens/s). */
  readonly tokensPerSec: number;
  /** Estimated seconds left in this epoch. */
  readonly etaSec: number;
}

/** Hooks for progress bars, live plots and interruption. */
export interface TrainCallbacks {
  readonly onBatch?: (p: BatchProgress) => void;
  readonly onEpoch?: (record: EpochRecord, isBest: boolean) => void;
  readonly onCheckpoint?: (file: FilePath) => void;
  /** A line worth telling the user: the new model has replaced the old one in the model folder. */
  readonly onNote?: (line: string) => void;
  /**
   * Polled after each training and validation batch, once the event loop has
   * turned; return true to stop (a checkpoint is written first; stopped while
   * validating, it resumes with that validation).
   */
  readonly shouldStop?: () => boolean;
}

/** Everything a training run needs. */
export interface TrainRun {
  readonly model: MusicModel;
  readonly vocab: Vocabulary;
  readonly train: readonly EncodedPiece[];
  readonly val: readonly EncodedPiece[];
  readonly dataset: DatasetConfig;
  /** The token family's windows read from a prepared folder's shards (`train` and `val` then empty). */
  readonly streamed?: StreamedData;
  readonly config: TrainConfig;
  /**
   * Model folder to write (weights, vocab, config, history, checkpoint). Given
   * as a path, training locks it for the run and writes as {@link openModelOutput}
   * says (a model already there is replaced only with `replace`, and kept
   * until the new one's first epoch is saved). A caller that opened the
   * output itself (to fail before loading data) passes it and releases it.
   */
  readonly outDir: FilePath | ModelOutput;
  /** config.json: the settings of this run. */
  readonly runConfig: RunConfig;
  /** Replace a model or checkpoint already in `outDir` (ignored when the output is given opened). */
  readonly replace?: boolean;
  /** Continue from the folder's checkpoint. */
  readonly resume?: boolean;
}

/** How a run ended. */
export interface TrainResult {
  readonly history: readonly EpochRecord[];
  readonly bestValLoss: number;
  readonly stoppedEarly: boolean;
  /** The run stopped because its `maxMinutes` budget was used up. */
  readonly outOfTime: boolean;
  readonly interrupted: boolean;
  /** Mean training throughput of this run (supervised tokens/s). */
  readonly tokensPerSec: number;
  /** Threads that computed gradients. */
  readonly threads: number;
  /** Why fewer threads were used than configured, or null. */
  readonly threadsNote: string | null;
}

/** Trains the model; on return the model holds the best weights found. */
export async function trainModel(run: TrainRun, cb: TrainCallbacks = {}): Promise<TrainResult> {
  if (typeof run.outDir === 'object' && !Buffer.isBuffer(run.outDir)) return trainInto(run, run.outDir, cb);
  const output = openModelOutput(run.outDir, { resume: run.resume === true, replace: run.replace === true });
  try {
    return await trainInto(run, output, cb);
  } finally {
    output.release();
  }
}

/** {@link trainModel} writing to an opened model folder. */
async function trainInto(run: TrainRun, output: ModelOutput, cb: TrainCallbacks): Promise<TrainResult> {
  const cfg = validateTrainConfig(run.config);
  const { seqLen } = run.dataset;
  const transposer = cfg.transposeRange > 0 ? makeTransposer(run.vocab, cfg.transposeRange) : undefined;
  const data = runBatches(
    { config: run.model.config, vocab: run.vocab, train: run.train, val: run.val, dataset: run.dataset, streamed: run.streamed },
    cfg,
    transposer,
  );
  const vars = varList(run.model.vars);
  let pos: TrainPosition = {
    epoch: 0,
    batchesDone: 0,
    lossSum: 0,
    bestValLoss: Infinity,
    badEpochs: 0,
    learningRate: cfg.learningRate,
    elapsedSec: 0,
    history: [],
  };
  let optimizer: tf.Optimizer;
  if (!run.resume) optimizer = tf.train.adam(cfg.learningRate);
  else {
    const ck = readCheckpoint(output.dir());
    if (ck.weights.length !== vars.length || ck.weights.some((w, i) => w.shape.join() !== vars[i].shape.join())) {
      tf.dispose([...ck.weights, ...ck.optimizer.map((o) => o.tensor)]);
      throw new UserError(`cannot resume: the checkpoint in ${showPath(output.dir())} is from a model of another shape`);
    }
    ck.weights.forEach((w, i) => vars[i].assign(w));
    pos = { ...ck.position, learningRate: ck.position.learningRate ?? cfg.learningRate };
    optimizer = await adamWithState(pos.learningRate ?? cfg.learningRate, ck.optimizer);
    tf.dispose(ck.weights);
  }
  // Written on resume too: flags given with --resume (epochs, patience, …) are part of the record.
  saveRunConfig(output.dir(), run.vocab, run.runConfig);
  const { workers, threadsNote } = await gradientWorkers(run.model, cfg);
  let best: tf.Tensor[] | null = null;
  const nBatches = data.perEpoch;
  const started = Date.now();
  let tokensDone = 0;
  let trainMs = 0;
  let lastCkpt = Date.now();
  let stoppedEarly = false;
  let outOfTime = false;
  let failed = false;
  /** Wall seconds of the whole run so far, resumes included. */
  const runSeconds = (): number => pos.elapsedSec + (Date.now() - started) / 1000;
  const checkpoint = async (p: TrainPosition): Promise<void> => {
    const file = await writeCheckpoint(
      output.dir(),
      { ...p, elapsedSec: p.elapsedSec + (Date.now() - started) / 1000 },
      vars,
      await optimizer.getWeights(),
    );
    lastCkpt = Date.now();
    cb.onCheckpoint?.(file);
  };
  try {
    for (let epoch = pos.epoch; epoch < cfg.epochs; epoch++) {
      // A resumed epoch counts the seconds it had run before the checkpoint.
      const epochStart = Date.now() - (epoch === pos.epoch ? (pos.epochSec ?? 0) * 1000 : 0);
      const lr = pos.learningRate ?? cfg.learningRate;
      let lossSum = epoch === pos.epoch ? pos.lossSum : 0;
      const skip = epoch === pos.epoch ? pos.batchesDone : 0;
      let b = 0;
      // With carryState each row goes on from the state its stream ended the batch before in (zeros for a fresh row, and after a resume).
      let carried: BatchStateArrays | undefined;
      for (const batch of data.train(epoch)) {
        if (b < skip) {
          b++;
          continue;
        }
        const init = batch.family === 'token' && 'fresh' in batch.batch ? startState(carried, batch.batch, run.model.config) : undefined;
        const t0 = Date.now();
        const rng = createRng(deriveSeed(cfg.seed, epoch * 1_000_003 + b));
        const drop = { dropout: run.model.config.dropout, recurrentDropout: run.model.config.recurrentDropout, rng };
        let step: BatchGradients;
        try {
          step = await batchGradients(run.model.vars, batch, drop, workers, init);
        } catch (e) {
          throw outOfMemory(e, cfg.batchSize, seqLen, run.vocab.tokens.length) ?? e;
        }
        const { loss, grads } = step;
        carried = step.state;
        if (!Number.isFinite(loss)) {
          tf.dispose(grads);
          throw new UserError(`training diverged (loss ${loss}) at epoch ${epoch + 1}, batch ${b + 1}: lower the learning rate`);
        }
        applyClipped(optimizer, vars, grads, cfg.clipNorm);
        trainMs += Date.now() - t0;
        tokensDone += batchTokenCount(batch);
        lossSum += loss;
        b++;
        const tps = tokensDone / Math.max(1e-3, trainMs / 1000);
        cb.onBatch?.({
          epoch: epoch + 1,
          epochs: cfg.epochs,
          batch: b,
          batches: nBatches,
          loss,
          tokensPerSec: tps,
          etaSec: ((nBatches - b) * data.batchTokens) / tps,
        });
        const stop = await turnAndCheck(() => cb.shouldStop?.() === true);
        const here: TrainPosition = { ...pos, epoch, batchesDone: b, lossSum, epochSec: (Date.now() - epochStart) / 1000 };
        if (stop) {
          await checkpoint(here);
          return finish(true);
        }
        if (cfg.maxMinutes > 0 && runSeconds() >= cfg.maxMinutes * 60) {
          outOfTime = true;
          break;
        }
        if (cfg.checkpointEverySec > 0 && Date.now() - lastCkpt > cfg.checkpointEverySec * 1000 && b < nBatches) await checkpoint(here);
      }
      // An epoch cut short by the time budget averages the batches it ran.
      const trainLoss = lossSum / (outOfTime ? b : nBatches);
      const valLoss = data.valWindows > 0 ? await meanLoss(run.model, data.val(), () => cb.shouldStop?.() === true) : trainLoss;
      if (valLoss === null) {
        // The checkpoint holds the batches done: a resumed run skips them and validates this epoch.
        await checkpoint({ ...pos, epoch, batchesDone: b, lossSum, epochSec: (Date.now() - epochStart) / 1000 });
        return finish(true);
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        trainLoss,
        valLoss,
        valPerplexity: Math.exp(valLoss),
        seconds: (Date.now() - epochStart) / 1000,
        tokensPerSec: tokensDone / Math.max(1e-3, trainMs / 1000),
        learningRate: lr,
      };
      const isBest = valLoss < pos.bestValLoss;
      const history = [...pos.history, record];
      const nextLr = isBest ? lr : lr * cfg.lrDecay;
      if (nextLr !== lr) {
        const old = optimizer;
        optimizer = await adamWithState(nextLr, await old.getWeights());
        old.dispose();
      }
      pos = {
        epoch: epoch + 1,
        batchesDone: 0,
        lossSum: 0,
        bestValLoss: isBest ? valLoss : pos.bestValLoss,
        badEpochs: isBest ? 0 : pos.badEpochs + 1,
        learningRate: nextLr,
        epochSec: 0,
        elapsedSec: pos.elapsedSec,
        history,
      };
      if (isBest) {
        await saveWeights(output.dir(), run.model);
        tf.dispose(best ?? []);
        best = vars.map((v) => tf.clone(v));
      }
      saveHistory(output.dir(), history);
      await checkpoint(pos);
      cb.onEpoch?.(record, isBest);
      const swapped = output.epochSaved();
      if (swapped) cb.onNote?.(swapped);
      if (outOfTime) break;
      if (cfg.patience > 0 && pos.badEpochs >= cfg.patience) {
        stoppedEarly = true;
        break;
      }
      if (cb.shouldStop?.()) return finish(true);
    }
    return finish(false);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // After a failure the backend may be broken (an out-of-memory WebAssembly heap): the first error is the one to report.
    try {
      optimizer.dispose();
    } catch (e) {
      if (!failed) throw e;
    }
    await workers?.terminate();
  }

  function finish(interrupted: boolean): TrainResult {
    if (best) {
      best.forEach((t, i) => vars[i].assign(t));
      tf.dispose(best);
      best = null;
    }
    return {
      history: pos.history,
      bestValLoss: pos.bestValLoss,
      stoppedEarly,
      outOfTime,
      interrupted,
      tokensPerSec: tokensDone / Math.max(1e-3, trainMs / 1000),
      threads: workers?.threads ?? 1,
      threadsNote,
    };
  }
}

/**
 * A one-line error for a batch that did not fit in memory (the WebAssembly
 * backend has at most 4 GB, and the output layer takes batch × window ×
 * vocabulary floats several times over), or null for any other error.
 */
function outOfMemory(e: unknown, batchSize: number, seqLen: number, vocabSize: number): UserError | null {
  const msg = e instanceof Error ? e.message : String(e);
  if (!/memory access out of bounds|out of memory|Array buffer allocation failed|OOM/i.test(msg)) return null;
  const gb = (batchSize * seqLen * vocabSize * 4) / 2 ** 30;
  return new UserError(
    `out of memory in a training batch (${msg.split('\n')[0]}): ${batchSize} windows × ${seqLen} tokens × ` +
      `a vocabulary of ${vocabSize} is ${gb.toFixed(2)} GB per copy of the output layer; lower --batch-size ` +
      `or --seq-len, or use the remi scheme (a fixed vocabulary of about 500)`,
  );
}

/** Worker threads for the gradients when the config and the backend call for them (see lib/train/parallel.ts). */
async function gradientWorkers(
  model: MusicModel,
  cfg: TrainConfig,
): Promise<{ workers: GradientWorkers | null; threadsNote: string | null }> {
  const threads = cfg.threads === 0 ? autoThreads() : cfg.threads;
  const backend = currentBackend();
  if (threads <= 1 || !backend || backend.native) return { workers: null, threadsNote: null };
  try {
    return { workers: await startGradientWorkers(model.config, threads, backend.name), threadsNote: null };
  } catch (e) {
    return {
      workers: null,
      threadsNote: `gradient worker threads could not start (${e instanceof Error ? e.message : String(e)}): training on one thread`,
    };
  }
}

/** An Adam optimizer at `learningRate` holding saved moments and step count (from a checkpoint, or from the optimizer it replaces). */
async function adamWithState(learningRate: number, state: NamedTensor[]): Promise<tf.Optimizer> {
  const next = tf.train.adam(learningRate);
  await next.setWeights(state);
  return next;
}

/** The state a stream batch starts from: the carried one, with fresh rows (and every row when there is none) at zeros. */
function startState(carried: BatchStateArrays | undefined, batch: StreamBatch, config: ModelConfig): BatchStateArrays {
  const H = config.units;
  return Array.from({ length: config.layers }, (_, l) => {
    const h = carried ? carried[l].h.slice() : new Float32Array(batch.batchSize * H);
    const c = carried ? carried[l].c.slice() : new Float32Array(batch.batchSize * H);
    batch.fresh.forEach((f, row) => {
      if (f) {
        h.fill(0, row * H, (row + 1) * H);
        c.fill(0, row * H, (row + 1) * H);
      }
    });
    return { h, c };
  });
}

/** Mean loss per token over the validation batches (no dropout); the event loop turns after each batch, and null means `shouldStop()` said so. */
async function meanLoss(model: MusicModel, val: Iterable<TrainingBatch>, shouldStop: () => boolean): Promise<number | null> {
  let sum = 0;
  let n = 0;
  for (const batch of val) {
    const { loss, weight } = batchLossAndWeight(model.vars, batch);
    sum += loss * weight;
    n += weight;
    if (await turnAndCheck(shouldStop)) return null;
  }
  return sum / Math.max(1, n);
}

/** Applies gradients (in varList order), scaled down when their global norm exceeds clipNorm; disposes them. */
export function applyClipped(opt: tf.Optimizer, vars: readonly tf.Variable[], grads: tf.Tensor[], clipNorm: number): void {
  tf.tidy(() => {
    let scale = 1;
    if (clipNorm > 0) {
      const sq = grads.map((g) => tf.sum(tf.square(g)));
      const norm = Math.sqrt(tf.addN(sq).dataSync()[0]);
      if (norm > clipNorm) scale = clipNorm / norm;
    }
    const named: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      named[v.name] = scale === 1 ? grads[i] : tf.mul(grads[i], scale);
    });
    opt.applyGradients(named);
  });
  tf.dispose(grads);
}
