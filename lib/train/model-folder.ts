/**
 * A model folder (`models/<name>/`) holds everything generation needs:
 * - `model.json` + `weights-*.bin` — the tfjs layers model (standard tfjs format);
 * - `vocab.json` — vocabulary and tokenizer config;
 * - `config.json` — model, dataset and training settings, backend, data summary;
 * - `history.json` — per-epoch training figures.
 * Every file is written atomically; the weights file is new on every save and
 * model.json is switched to it last, so a crash never pairs model.json with
 * half-written weights.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EpochRecord, TrainConfig } from './config';
import type { DatasetConfig } from '../data/dataset';
import { errCode, UserError } from '../core/errors';
import { writeFileAtomic } from '../core/files';
import { validateModelConfig, wrapModel, type ModelConfig, type MusicModel } from '../model/network';
import { loadVocabulary, saveVocabulary } from '../tokens/vocab-file';
import { type Vocabulary } from '../tokens/vocabulary';
import type { PreparedData } from '../data/prepare';

/** Contents of config.json. */
export interface ModelInfo {
  readonly format: 'musicgen-model/1';
  readonly model: ModelConfig;
  readonly dataset: DatasetConfig;
  readonly training: TrainConfig;
  /** Backend the model was trained on. */
  readonly backend: string;
  /** What it was trained on (free-form summary). */
  readonly data: {
    readonly folders: readonly string[];
    readonly trainFiles: number;
    readonly valFiles: number;
    readonly trainTokens: number;
    /** The --max-files cap of the run, if any (a resumed run reuses it). */
    readonly maxFiles?: number;
  };
}

/** A model loaded from its folder. */
export interface LoadedModel {
  readonly dir: string;
  readonly model: MusicModel;
  readonly vocab: Vocabulary;
  readonly info: ModelInfo;
  readonly history: readonly EpochRecord[];
}

/** Writes vocab.json and config.json (once, at the start of training). */
export function saveModelInfo(dir: string, vocab: Vocabulary, info: ModelInfo): void {
  saveVocabulary(path.join(dir, 'vocab.json'), vocab);
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(info, null, 2) + '\n');
}

/** Writes the training history. */
export function saveHistory(dir: string, history: readonly EpochRecord[]): void {
  writeFileAtomic(path.join(dir, 'history.json'), JSON.stringify(history, null, 1) + '\n');
}

/** Saves the weights (new weights file, then model.json pointing at it, then removes older weights files). */
export async function saveWeights(dir: string, model: MusicModel): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.net.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts | null;
  if (!a || !a.weightData || !a.weightSpecs) throw new Error('tfjs returned no weights to save');
  const weightData = tf.io.CompositeArrayBuffer.join(a.weightData);
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const weightsFile = `weights-${stamp}.bin`;
  writeFileAtomic(path.join(dir, weightsFile), new Uint8Array(weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [`./${weightsFile}`], weights: a.weightSpecs }],
  };
  writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(modelJson) + '\n');
  for (const f of fs.readdirSync(dir)) {
    if (/^weights-.*\.bin$/.test(f) && f !== weightsFile) fs.rmSync(path.join(dir, f), { force: true });
  }
}

/** Files a complete model folder must have. */
export const MODEL_FILES: readonly string[] = ['model.json', 'vocab.json', 'config.json'];

/**
 * Reads and checks a model folder's config.json and vocab.json (and that the
 * `files` exist): what --resume needs when training stopped before the first
 * weights were saved. Errors are one line naming the folder and what is wrong.
 */
export function loadModelSettings(dir: string, files: readonly string[] = ['vocab.json', 'config.json']): { readonly vocab: Vocabulary; readonly info: ModelInfo } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`model folder ${dir} not found`);
  const missing = files.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length > 0) throw new UserError(`model folder ${dir} is incomplete: missing ${missing.join(', ')}`);
  const info = readJson(path.join(dir, 'config.json')) as ModelInfo;
  if (!info || info.format !== 'musicgen-model/1' || !info.model) {
    throw new UserError(`${path.join(dir, 'config.json')}: not a musicgen model config (format musicgen-model/1)`);
  }
  try {
    validateModelConfig(info.model);
  } catch (e) {
    throw new UserError(`${path.join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  const vocab = loadVocabulary(path.join(dir, 'vocab.json'));
  if (vocab.tokens.length !== info.model.vocabSize) {
    throw new UserError(
      `model folder ${dir}: vocab.json has ${vocab.tokens.length} tokens but config.json says vocabSize ${info.model.vocabSize} (files from different models?)`,
    );
  }
  return { vocab, info };
}

/**
 * Loads a model folder, checking before any work that it is complete and
 * consistent (vocabulary size, config and weight shapes agree). Errors are
 * one line naming the folder and what is wrong.
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const { vocab, info } = loadModelSettings(dir, MODEL_FILES);
  const mj = readJson(path.join(dir, 'model.json')) as {
    modelTopology?: object;
    weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  if (!mj?.modelTopology || !Array.isArray(mj.weightsManifest)) {
    throw new UserError(`${path.join(dir, 'model.json')}: not a tfjs layers model`);
  }
  const specs = mj.weightsManifest.flatMap((g) => g.weights);
  const buffers: Uint8Array[] = [];
  for (const p of mj.weightsManifest.flatMap((g) => g.paths)) {
    const f = path.join(dir, p);
    try {
      buffers.push(fs.readFileSync(f));
    } catch (e) {
      throw new UserError(`model folder ${dir} is incomplete: cannot read weights ${p} (${errCode(e)})`);
    }
  }
  const total = buffers.reduce((a, b) => a + b.length, 0);
  const expected = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (total !== expected) throw new UserError(`model folder ${dir}: weights file has ${total} bytes, model.json expects ${expected}`);
  const joined = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    joined.set(b, off);
    off += b.length;
  }
  let net: tf.LayersModel;
  try {
    net = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData: joined.buffer }));
  } catch (e) {
    throw new UserError(`model folder ${dir}: cannot load model.json (${(e as Error).message.split('\n')[0]})`);
  }
  let model: MusicModel;
  try {
    model = wrapModel(net, info.model);
  } catch (e) {
    net.dispose();
    throw new UserError(`model folder ${dir}: weights do not match config.json (${(e as Error).message})`);
  }
  const histFile = path.join(dir, 'history.json');
  const history = fs.existsSync(histFile) ? (readJson(histFile) as EpochRecord[]) : [];
  return { dir, model, vocab, info, history };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${errCode(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${file}: not valid JSON`);
  }
}

/** The config.json contents for a run. */
export function modelInfo(model: MusicModel, data: PreparedData, dataset: DatasetConfig, training: TrainConfig, backend: string, folders: readonly string[]): ModelInfo {
  return {
    format: 'musicgen-model/1',
    model: model.config,
    dataset,
    training,
    backend,
    data: {
      folders,
      trainFiles: data.train.length,
      valFiles: data.val.length,
      trainTokens: data.train.reduce((a, p) => a + p.ids.length, 0),
    },
  };
}
