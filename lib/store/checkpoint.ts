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
import * as tf from '@tensorflow/tfjs';
import { validateEpochRecord, type EpochRecord } from './train-config';
import { CHECKPOINT_FILE } from './folder';
import { checkArray, checkField, checkInt, checkIsNumber, checkNumber, checkObject, checkShape, checkString, inField } from '../core/check';
import { errCode, UserError } from '../core/errors';
import { joinPath, showPath, writeFileAtomic, type FilePath } from '../core/files';

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

interface Header {
  readonly position: TrainPosition;
  readonly weights: { readonly shape: number[] }[];
  readonly optimizer: { readonly name: string; readonly shape: number[] }[];
}

/** Writes a checkpoint atomically. */
export async function writeCheckpoint(
  dir: FilePath,
  position: TrainPosition,
  weights: readonly tf.Tensor[],
  optimizer: readonly NamedTensor[],
): Promise<FilePath> {
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
  const file = joinPath(dir, CHECKPOINT_FILE);
  writeFileAtomic(file, buf);
  return file;
}

/**
 * Checks a checkpoint's training position field by field; throws a RangeError
 * naming the field, e.g. "epoch must be an integer in [0, 100000] (got -1)".
 * `bestValLoss` is as saved (-1 for none yet); `learningRate` and `epochSec`
 * are optional (older checkpoints lack them).
 */
function validateTrainPosition(p: TrainPosition): TrainPosition {
  checkInt('epoch', checkIsNumber('epoch', p.epoch), 0, 100_000);
  checkInt('batchesDone', checkIsNumber('batchesDone', p.batchesDone), 0, Number.MAX_SAFE_INTEGER);
  checkNumber('lossSum', checkIsNumber('lossSum', p.lossSum), (v) => v >= 0, '≥ 0');
  checkNumber('bestValLoss', checkIsNumber('bestValLoss', p.bestValLoss), (v) => v >= 0 || v === -1, '≥ 0 (or -1 for none yet)');
  checkInt('badEpochs', checkIsNumber('badEpochs', p.badEpochs), 0, 100_000);
  if (p.learningRate !== undefined)
    checkNumber('learningRate', checkIsNumber('learningRate', p.learningRate), (v) => v > 0 && v <= 1, 'in (0, 1]');
  if (p.epochSec !== undefined) checkNumber('epochSec', checkIsNumber('epochSec', p.epochSec), (v) => v >= 0, '≥ 0');
  checkNumber('elapsedSec', checkIsNumber('elapsedSec', p.elapsedSec), (v) => v >= 0, '≥ 0');
  const history = checkArray('history', p.history);
  history.forEach((r, i) => inField(`history[${i}]`, () => validateEpochRecord(checkObject(`history[${i}]`, r) as unknown as EpochRecord)));
  if (history.length !== p.epoch)
    throw new RangeError(`history must have one entry per finished epoch (${p.epoch}, got ${history.length})`);
  return p;
}

/** Checks the JSON header field by field; errors are one-line UserErrors naming `file` and the field. */
function headerFromJson(json: unknown, file: string): Header {
  const h = checkField(file, '', () => checkObject('header', json));
  const position = checkField(file, 'position', () =>
    validateTrainPosition(checkObject('position', h.position) as unknown as TrainPosition),
  );
  const weights = checkField(file, '', () => checkArray('weights', h.weights)).map((w, i) =>
    checkField(file, `weights[${i}]`, () => ({ shape: checkShape('shape', checkObject(`weights[${i}]`, w).shape) })),
  );
  if (weights.length === 0) throw new UserError(`${file}: weights must not be empty`);
  const optimizer = checkField(file, '', () => checkArray('optimizer', h.optimizer)).map((o, i) =>
    checkField(file, `optimizer[${i}]`, () => {
      const e = checkObject(`optimizer[${i}]`, o);
      return { name: checkString('name', e.name, (s) => s.length > 0, 'a variable name'), shape: checkShape('shape', e.shape) };
    }),
  );
  return { position, weights, optimizer };
}

/** Reads a checkpoint, checking its header field by field and its size; errors are one line naming the file. */
export function readCheckpoint(dir: FilePath): Checkpoint {
  const where = joinPath(dir, CHECKPOINT_FILE);
  const file = showPath(where);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(where);
  } catch (e) {
    throw new UserError(`cannot resume: no checkpoint at ${file} (${errCode(e)})`);
  }
  const tag = buf.toString('latin1', 0, Math.min(8, buf.length));
  if (tag !== MAGIC.slice(0, tag.length)) throw new UserError(`${file}: not a musicgen checkpoint (no ${MAGIC} tag)`);
  if (buf.length < 12) throw new UserError(`${file}: truncated checkpoint (${buf.length} bytes)`);
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length)
    throw new UserError(`${file}: truncated checkpoint (the header needs ${hlen} bytes, ${buf.length - 12} are there)`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', 12, 12 + hlen));
  } catch {
    throw new UserError(`${file}: damaged checkpoint header (not valid JSON)`);
  }
  const header = headerFromJson(json, file);
  const sizes = [...header.weights, ...header.optimizer].map((t) => t.shape.reduce((x, y) => x * y, 1));
  const expected = sizes.reduce((a, n) => a + n * 4, 0);
  const got = buf.length - 12 - hlen;
  if (got !== expected) {
    throw new UserError(
      `${file}: ${got < expected ? 'truncated' : 'damaged'} checkpoint (the header lists ${expected} bytes of tensors, ${got} are there)`,
    );
  }
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
