/**
 * A model folder (`models/<name>/`) holds everything generation needs:
 * - `model.json` + `weights-*.bin` — the tfjs layers model (standard tfjs format);
 * - `vocab.json` — vocabulary and tokenizer config;
 * - `config.json` — model, dataset and training settings, backend, data summary;
 * - `history.json` — per-epoch training figures.
 * Every file is written atomically; the weights file is new on every save and
 * model.json is switched to it last, so a crash never pairs model.json with
 * half-written weights. Loading checks every file field by field: a damaged
 * one is a one-line UserError naming the file and the field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_TRAIN_CONFIG, validateEpochRecord, validateTrainConfig, type EpochRecord, type TrainConfig } from './config';
import { validateDatasetConfig, type DatasetConfig } from '../data/dataset';
import { checkArray, checkField, checkInt, checkIsNumber, checkNumber, checkObject, checkShape, checkString } from '../core/check';
import { errCode, UserError } from '../core/errors';
import { argPath, joinPath, readJsonFile, showPath, writeFileAtomic, type FilePath } from '../core/files';
import { validateModelConfig, wrapModel, type ModelConfig, type MusicModel } from '../model/network';
import { loadVocabulary, saveVocabulary } from '../tokens/vocab-file';
import { type Vocabulary } from '../tokens/vocabulary';
import type { PreparedData } from '../data/prepare';

/** The format tag of config.json. */
const MODEL_INFO_FORMAT = 'musicgen-model/1';

/** Contents of config.json. */
export interface ModelInfo {
  readonly format: typeof MODEL_INFO_FORMAT;
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
  /** The model folder whose weights the run started from (`train --init-from`), if any. */
  readonly initFrom?: string;
}

/** A model loaded from its folder. */
export interface LoadedModel {
  readonly dir: FilePath;
  readonly model: MusicModel;
  readonly vocab: Vocabulary;
  readonly info: ModelInfo;
  /** The training history, read from history.json when first used (a damaged file throws then, naming itself). */
  readonly history: readonly EpochRecord[];
}

/** Writes vocab.json and config.json (once, at the start of training). */
export function saveModelInfo(dir: FilePath, vocab: Vocabulary, info: ModelInfo): void {
  saveVocabulary(joinPath(dir, 'vocab.json'), vocab);
  writeFileAtomic(joinPath(dir, 'config.json'), JSON.stringify(info, null, 2) + '\n');
}

/** Writes the training history. */
export function saveHistory(dir: FilePath, history: readonly EpochRecord[]): void {
  writeFileAtomic(joinPath(dir, 'history.json'), JSON.stringify(history, null, 1) + '\n');
}

/** Saves the weights (new weights file, then model.json pointing at it, then removes older weights files). */
export async function saveWeights(dir: FilePath, model: MusicModel): Promise<void> {
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
  writeFileAtomic(joinPath(dir, weightsFile), new Uint8Array(weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [`./${weightsFile}`], weights: a.weightSpecs }],
  };
  writeFileAtomic(joinPath(dir, 'model.json'), JSON.stringify(modelJson) + '\n');
  for (const f of fs.readdirSync(dir)) {
    if (/^weights-.*\.bin$/.test(f) && f !== weightsFile) fs.rmSync(joinPath(dir, f), { force: true });
  }
}

/**
 * Checks config.json field by field, reusing each component's validator;
 * throws a one-line UserError naming `source` and the field, e.g.
 * "models/x/config.json: model.units must be an integer in [1, 4096] (got -3)".
 * Training settings added after the first release (lrDecay, threads, …) take
 * their defaults when missing, as does the optional data.maxFiles.
 */
function modelInfoFromJson(json: unknown, source = 'config.json'): ModelInfo {
  const j = checkField(source, '', () => checkObject('the file', json));
  checkField(source, '', () => checkString('format', j.format, (f) => f === MODEL_INFO_FORMAT, `"${MODEL_INFO_FORMAT}" (is this a musicgen config.json?)`));
  const model = checkField(source, 'model', () => validateModelConfig(checkObject('model', j.model) as unknown as ModelConfig));
  const dataset = checkField(source, 'dataset', () => validateDatasetConfig(checkObject('dataset', j.dataset) as unknown as DatasetConfig));
  const training = checkField(source, 'training', () => validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, ...checkObject('training', j.training) } as TrainConfig));
  const backend = checkField(source, '', () => checkString('backend', j.backend));
  const data = checkField(source, 'data', () => {
    const d = checkObject('data', j.data);
    const folders = checkArray('folders', d.folders).map((f, i) => checkString(`folders[${i}]`, f));
    const count = (name: string): number => {
      checkInt(name, checkIsNumber(name, d[name]), 0, Number.MAX_SAFE_INTEGER);
      return d[name] as number;
    };
    const summary = { folders, trainFiles: count('trainFiles'), valFiles: count('valFiles'), trainTokens: count('trainTokens') };
    if (d.maxFiles === undefined) return summary;
    checkNumber('maxFiles', checkIsNumber('maxFiles', d.maxFiles), Number.isInteger, 'an integer (0 or less = no cap)');
    return { ...summary, maxFiles: d.maxFiles as number };
  });
  const base = { format: MODEL_INFO_FORMAT, model, dataset, training, backend, data } as const;
  if (j.initFrom === undefined) return base;
  return { ...base, initFrom: checkField(source, '', () => checkString('initFrom', j.initFrom)) };
}

/** Reads and checks config.json; errors are one line naming the file and the field. */
function loadModelInfo(file: FilePath): ModelInfo {
  return modelInfoFromJson(readJsonFile(file), showPath(file));
}

/**
 * Checks history.json (an array of epoch records) entry by entry; throws a
 * one-line UserError naming `source` and the field, e.g.
 * "models/x/history.json: [2].trainLoss must be a number (got "1.4")".
 */
function historyFromJson(json: unknown, source = 'history.json'): EpochRecord[] {
  const list = checkField(source, '', () => checkArray('the file', json));
  return list.map((r, i) => checkField(source, `[${i}]`, () => validateEpochRecord(checkObject(`[${i}]`, r) as unknown as EpochRecord)));
}

/** Reads and checks history.json; errors are one line naming the file and the field. */
function loadHistory(file: FilePath): EpochRecord[] {
  return historyFromJson(readJsonFile(file), showPath(file));
}

/** The format tag tfjs writes into a layers model's model.json. */
const TFJS_LAYERS_FORMAT = 'layers-model';

/** What loading needs from model.json: the topology, and the weight files and specs in order. */
interface ModelJson {
  readonly modelTopology: object;
  readonly paths: readonly string[];
  readonly specs: readonly tf.io.WeightsManifestEntry[];
}

/** A weights path that stays inside the model folder (relative, no "..", not empty). */
function isFolderFile(p: string): boolean {
  const parts = p.split(/[\\/]+/).filter((x) => x !== '' && x !== '.');
  return parts.length > 0 && !path.isAbsolute(p) && !parts.includes('..');
}

/**
 * Checks a tfjs model.json as far as loading relies on it: format tag,
 * topology object, and every weightsManifest group's paths and weight specs
 * (name, integer shape, float32 dtype). Errors are one-line UserErrors naming
 * `source` and the field, e.g. "model.json: weightsManifest[0].weights[3].shape[1] must be …".
 */
function modelJsonFromJson(json: unknown, source = 'model.json'): ModelJson {
  const j = checkField(source, '', () => checkObject('the file', json));
  checkField(source, '', () => checkString('format', j.format, (f) => f === TFJS_LAYERS_FORMAT, `"${TFJS_LAYERS_FORMAT}" (is this a tfjs layers model?)`));
  const modelTopology = checkField(source, 'modelTopology', () => {
    const t = checkObject('modelTopology', j.modelTopology);
    checkString('class_name', t.class_name);
    checkObject('config', t.config);
    return t;
  });
  const groups = checkField(source, '', () => checkArray('weightsManifest', j.weightsManifest));
  if (groups.length === 0) throw new UserError(`${source}: weightsManifest must not be empty`);
  const paths: string[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  groups.forEach((g, gi) =>
    checkField(source, `weightsManifest[${gi}]`, () => {
      const group = checkObject(`weightsManifest[${gi}]`, g);
      checkArray('paths', group.paths).forEach((p, i) => paths.push(checkString(`paths[${i}]`, p, isFolderFile, 'a file name in the model folder')));
      checkArray('weights', group.weights).forEach((w, i) => {
        const e = checkObject(`weights[${i}]`, w);
        const name = checkString(`weights[${i}].name`, e.name, (s) => s.length > 0, 'a weight name');
        const shape = checkShape(`weights[${i}].shape`, e.shape);
        checkString(`weights[${i}].dtype`, e.dtype, (d) => d === 'float32', '"float32"');
        specs.push({ name, shape, dtype: 'float32' });
      });
    }),
  );
  if (specs.length === 0) throw new UserError(`${source}: weightsManifest lists no weights`);
  return { modelTopology, paths, specs };
}

/** Files a complete model folder must have. */
const MODEL_FILES: readonly string[] = ['model.json', 'vocab.json', 'config.json'];

/**
 * Reads and checks a model folder's config.json and vocab.json (and that the
 * `files` exist): what --resume needs when training stopped before the first
 * weights were saved. Errors are one line naming the file and what is wrong.
 */
export function loadModelSettings(dir: FilePath, files: readonly string[] = ['vocab.json', 'config.json']): { readonly vocab: Vocabulary; readonly info: ModelInfo } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`model folder ${showPath(dir)} not found`);
  const missing = files.filter((f) => !fs.existsSync(joinPath(dir, f)));
  if (missing.length > 0) throw new UserError(`model folder ${showPath(dir)} is incomplete: missing ${missing.join(', ')}`);
  const info = loadModelInfo(joinPath(dir, 'config.json'));
  const vocab = loadVocabulary(joinPath(dir, 'vocab.json'));
  if (vocab.tokens.length !== info.model.vocabSize) {
    throw new UserError(
      `model folder ${showPath(dir)}: vocab.json has ${vocab.tokens.length} tokens but config.json says vocabSize ${info.model.vocabSize} (files from different models?)`,
    );
  }
  return { vocab, info };
}

/**
 * Loads a model folder (a name given on the command line is found by its
 * bytes, see `argPath`), checking every file field by field before any work,
 * and that the files agree (vocabulary size, config and weight shapes, weight
 * bytes). Errors are one line naming the file and what is wrong.
 */
export async function loadModel(given: FilePath): Promise<LoadedModel> {
  const dir = argPath(given);
  const { vocab, info } = loadModelSettings(dir, MODEL_FILES);
  const mjPath = joinPath(dir, 'model.json');
  const mjFile = showPath(mjPath);
  const mj = modelJsonFromJson(readJsonFile(mjPath), mjFile);
  const buffers: Uint8Array[] = [];
  for (const p of mj.paths) {
    try {
      buffers.push(fs.readFileSync(joinPath(dir, p)));
    } catch (e) {
      throw new UserError(`model folder ${showPath(dir)} is incomplete: cannot read weights ${p} (${errCode(e)})`);
    }
  }
  const total = buffers.reduce((a, b) => a + b.length, 0);
  const expected = mj.specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (total !== expected) {
    const files = mj.paths.map((p) => showPath(joinPath(dir, p))).join(' + ');
    throw new UserError(`${files}: weights have ${total} bytes, ${mjFile} expects ${expected} (damaged, or from another save?)`);
  }
  const joined = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    joined.set(b, off);
    off += b.length;
  }
  checkWeightValues(new Float32Array(joined.buffer, 0, total / 4), mj, buffers, dir);
  let net: tf.LayersModel;
  try {
    net = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: [...mj.specs], weightData: joined.buffer }));
  } catch (e) {
    // tfjs's first line may end by introducing a list of possible reasons ("Unknown layer: X. This may be due to …:").
    const reason = (e as Error).message.split('\n')[0].replace(/\.\s[^.]*:$/, '');
    throw new UserError(`${mjFile}: modelTopology and weightsManifest do not load in tfjs (${reason})`);
  }
  let model: MusicModel;
  try {
    model = wrapModel(net, info.model);
  } catch (e) {
    net.dispose();
    throw new UserError(`${mjFile}: the weights do not match config.json (${(e as Error).message})`);
  }
  // history.json is read (and checked) when it is first used: generating needs none of it, so a damaged one does not stop that.
  const histFile = joinPath(dir, 'history.json');
  let history: readonly EpochRecord[] | undefined;
  return {
    dir, model, vocab, info,
    get history() {
      history ??= fs.existsSync(histFile) ? loadHistory(histFile) : [];
      return history;
    },
  };
}

/**
 * The largest weight magnitude a model folder may hold. Training keeps weights
 * small (the shipped model's largest is 3.5); random bytes read as float32
 * give magnitudes up to 3e38, most of them above this.
 */
const MAX_WEIGHT = 1e4;

/**
 * Checks that every weight is a finite number of sane size: a weights file
 * holding NaN, infinities or random bytes would otherwise load and generate
 * noise. The error names the file, the weight and the position.
 */
function checkWeightValues(values: Float32Array, mj: ModelJson, buffers: readonly Uint8Array[], dir: FilePath): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && Math.abs(v) <= MAX_WEIGHT) continue;
    let file = 0;
    for (let bytes = buffers[0].length; i * 4 >= bytes; bytes += buffers[file].length) file++;
    let spec = 0;
    let first = 0;
    for (let size = 0; ; spec++, first += size) {
      size = mj.specs[spec].shape.reduce((x, y) => x * y, 1);
      if (i < first + size) break;
    }
    const what = Number.isFinite(v) ? `${v} (beyond ±${MAX_WEIGHT})` : String(v);
    throw new UserError(`${showPath(joinPath(dir, mj.paths[file]))}: weight ${mj.specs[spec].name}[${i - first}] is ${what}: the weights are damaged`);
  }
}

/** The config.json contents for a run. */
export function modelInfo(model: MusicModel, data: PreparedData, dataset: DatasetConfig, training: TrainConfig, backend: string, folders: readonly string[]): ModelInfo {
  return {
    format: MODEL_INFO_FORMAT,
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
