/**
 * Loading a model folder (./folder.ts) for generation, evaluation or
 * fine-tuning: every file is checked field by field before any work, and
 * the files must agree (vocabulary size, config and weight shapes, weight
 * bytes). A damaged one is a one-line UserError naming the file and the field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateEpochRecord, type EpochRecord } from './train-config';
import { checkArray, checkField, checkObject, checkShape, checkString } from '../core/check';
import { errCode, UserError } from '../core/errors';
import { joinPath, readJsonFile, showPath, type FilePath } from '../core/files';
import { wrapModel, type MusicModel } from '../model/network';
import { loadVocabulary } from '../tokens/vocab-file';
import { type Vocabulary } from '../tokens/vocabulary';
import { CONFIG_JSON, HISTORY_JSON, MODEL_FILES, MODEL_JSON, VOCAB_JSON } from './folder';
import { loadRunConfig, type RunConfig } from './run-config';

/** A model loaded from its folder. */
export interface LoadedModel {
  readonly dir: FilePath;
  readonly model: MusicModel;
  readonly vocab: Vocabulary;
  /** config.json: the settings of the run that made the model. */
  readonly config: RunConfig;
  /** The training history, read from history.json when first used (a damaged file throws then, naming itself). */
  readonly history: readonly EpochRecord[];
}

/**
 * Checks history.json (an array of epoch records) entry by entry; throws a
 * one-line UserError naming `source` and the field, e.g.
 * "models/x/history.json: [2].trainLoss must be a number (got "1.4")".
 */
function historyFromJson(json: unknown, source = HISTORY_JSON): EpochRecord[] {
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
function modelJsonFromJson(json: unknown, source = MODEL_JSON): ModelJson {
  const j = checkField(source, '', () => checkObject('the file', json));
  checkField(source, '', () =>
    checkString('format', j.format, (f) => f === TFJS_LAYERS_FORMAT, `"${TFJS_LAYERS_FORMAT}" (is this a tfjs layers model?)`),
  );
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
      checkArray('paths', group.paths).forEach((p, i) =>
        paths.push(checkString(`paths[${i}]`, p, isFolderFile, 'a file name in the model folder')),
      );
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

/**
 * Reads and checks a model folder's config.json and vocab.json (and that the
 * `files` exist): what --resume needs when training stopped before the first
 * weights were saved. Errors are one line naming the file and what is wrong.
 */
export function loadModelSettings(
  dir: FilePath,
  files: readonly string[] = [VOCAB_JSON, CONFIG_JSON],
): { readonly vocab: Vocabulary; readonly config: RunConfig } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`model folder ${showPath(dir)} not found`);
  const missing = files.filter((f) => !fs.existsSync(joinPath(dir, f)));
  if (missing.length > 0) throw new UserError(`model folder ${showPath(dir)} is incomplete: missing ${missing.join(', ')}`);
  const config = loadRunConfig(joinPath(dir, CONFIG_JSON));
  const vocab = loadVocabulary(joinPath(dir, VOCAB_JSON));
  if (vocab.tokens.length !== config.model.vocabSize) {
    throw new UserError(
      `model folder ${showPath(dir)}: vocab.json has ${vocab.tokens.length} tokens but config.json says vocabSize ` +
        `${config.model.vocabSize} (files from different models?)`,
    );
  }
  return { vocab, config };
}

/**
 * Loads a model folder, checking every file field by field before any work,
 * and that the files agree (vocabulary size, config and weight shapes, weight
 * bytes). Errors are one line naming the file and what is wrong.
 */
export async function loadModel(dir: FilePath): Promise<LoadedModel> {
  const { vocab, config } = loadModelSettings(dir, MODEL_FILES);
  const mjPath = joinPath(dir, MODEL_JSON);
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
    net = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: [...mj.specs], weightData: joined.buffer }),
    );
  } catch (e) {
    // tfjs's first line may end by introducing a list of possible reasons ("Unknown layer: X. This may be due to …:").
    const reason = (e as Error).message.split('\n')[0].replace(/\.\s[^.]*:$/, '');
    throw new UserError(`${mjFile}: modelTopology and weightsManifest do not load in tfjs (${reason})`);
  }
  let model: MusicModel;
  try {
    model = wrapModel(net, config.model);
  } catch (e) {
    net.dispose();
    throw new UserError(`${mjFile}: the weights do not match config.json (${(e as Error).message})`);
  }
  // history.json is read (and checked) when it is first used: generating needs none of it, so a damaged one does not stop that.
  const histFile = joinPath(dir, HISTORY_JSON);
  let history: readonly EpochRecord[] | undefined;
  return {
    dir,
    model,
    vocab,
    config,
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
    throw new UserError(
      `${showPath(joinPath(dir, mj.paths[file]))}: weight ${mj.specs[spec].name}[${i - first}] is ${what}: the weights are damaged`,
    );
  }
}
