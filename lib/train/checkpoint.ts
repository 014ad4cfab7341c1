/**
 * Resumable training checkpoints: one file (`checkpoint.ckpt` in the model
 * folder) holding the current weights, the optimizer's moments and the
 * position in training. Written atomically, so a run killed at any moment
 * (Ctrl-C, SIGTERM or kill -9) leaves the previous checkpoint intact.
 *
 * Layout: 8 bytes magic "MGCKPT01", uint32 header length, JSON header, then
 * float32 data of every tensor in header order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EpochRecord } from './config';

import { errCode, UserError } from '../core/errors';
import { writeFileAtomic } from '../core/files';

/** A named tensor, as tfjs optimizers save their state. */
export interface NamedTensor {
  readonly name: string;
  readonly tensor: tf.Tensor;
}

/** Where training stood when the checkpoint was written. */
export interface TrainPosition {
  /** Epoch in progress (0-based). */
  readonly epoch: number;
  /** Batches of that epoch already done. */
  readonly batchesDone: number;
  /** Sum of training losses over those batches (for the epoch mean). */
  readonly lossSum: number;
  /** Best validation loss so far (Infinity when none). */
  readonly bestValLoss: number;
  /** Epochs since the best validation loss. */
  readonly badEpochs: number;
  /** Current learning rate (after decays); absent in older checkpoints, meaning the configured one. */
  readonly learningRate?: number;
  /** Seconds already spent in the epoch in progress (absent in older checkpoints). */
  readonly epochSec?: number;
  /** Seconds of training so far. */
  readonly elapsedSec: number;
  readonly history: readonly EpochRecord[];
}

/** A checkpoint read back: tensors are owned by the caller. */
export interface Checkpoint {
  readonly position: TrainPosition;
  readonly weights: tf.Tensor[];
  readonly optimizer: NamedTensor[];
}

const MAGIC = 'MGCKPT01';
export const CHECKPOINT_FILE = 'checkpoint.ckpt';

interface Header {
  readonly position: TrainPosition;
  readonly weights: { readonly shape: number[] }[];
  readonly optimizer: { readonly name: string; readonly shape: number[] }[];
}

/** Writes a checkpoint atomically. */
export async function writeCheckpoint(dir: string, position: TrainPosition, weights: readonly tf.Tensor[], optimizer: readonly NamedTensor[]): Promise<string> {
  const header: Header = {
    position: { ...position, bestValLoss: Number.isFinite(position.bestValLoss) ? position.bestValLoss : -1 },
    weights: weights.map((w) => ({ shape: w.shape })),
    optimizer: optimizer.map((o) => ({ name: o.name, shape: o.tensor.shape })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const tensors = [...weights, ...optimizer.map((o) => o.tensor)];
  const datas = await Promise.all(tensors.map((t) => t.data()));
  const floats = datas.reduce((a, d) => a + d.length, 0);
  const buf = Buffer.alloc(8 + 4 + headerBytes.length + floats * 4);
  buf.write(MAGIC, 0, 'ascii');
  buf.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(buf, 12);
  let off = 12 + headerBytes.length;
  for (const d of datas) {
    Buffer.from(new Float32Array(d).buffer).copy(buf, off);
    off += d.length * 4;
  }
  const file = path.join(dir, CHECKPOINT_FILE);
  writeFileAtomic(file, buf);
  return file;
}

/** Reads a checkpoint; a clear one-line error when it is missing or damaged. */
export function readCheckpoint(dir: string): Checkpoint {
  const file = path.join(dir, CHECKPOINT_FILE);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot resume: no checkpoint at ${file} (${errCode(e)})`);
  }
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== MAGIC) throw new UserError(`${file}: not a musicgen checkpoint`);
  const hlen = buf.readUInt32LE(8);
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as Header;
  } catch {
    throw new UserError(`${file}: damaged checkpoint header`);
  }
  const shapes = [...header.weights.map((w) => w.shape), ...header.optimizer.map((o) => o.shape)];
  const floats = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  if (buf.length !== 12 + hlen + floats * 4) throw new UserError(`${file}: damaged checkpoint (wrong size)`);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 12 + hlen, buf.byteOffset + buf.length));
  let off = 0;
  const take = (shape: number[]): tf.Tensor => {
    const n = shape.reduce((x, y) => x * y, 1);
    const t = tf.tensor(data.subarray(off, off + n), shape);
    off += n;
    return t;
  };
  const weights = header.weights.map((w) => take(w.shape));
  const optimizer = header.optimizer.map((o) => ({ name: o.name, tensor: take(o.shape) }));
  const p = header.position;
  return { position: { ...p, bestValLoss: p.bestValLoss < 0 ? Infinity : p.bestValLoss }, weights, optimizer };
}

/** True when the folder has a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, CHECKPOINT_FILE));
}
