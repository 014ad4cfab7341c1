/**
 * config.json: the settings of the run that made a model (network, windows,
 * training, backend, data), saved beside its weights so the model can be
 * read, resumed and described without the command that made it.
 */
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from './train-config';
import { validateDatasetConfig, type DatasetConfig } from '../data/dataset';
import type { PreparedData } from '../data/prepare';
import { checkArray, checkField, checkInt, checkIsNumber, checkNumber, checkObject, checkString } from '../core/check';
import { readJsonFile, showPath, type FilePath } from '../core/files';
import { validateModelConfig, type ModelConfig, type MusicModel } from '../model/network';

/** The format tag of config.json. */
const RUN_CONFIG_FORMAT = 'musicgen-model/1';

/** Contents of config.json: the settings of the run that made the model. */
export interface RunConfig {
  readonly format: typeof RUN_CONFIG_FORMAT;
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

/** The config.json contents for a run. */
export function runConfig(
  model: MusicModel,
  data: PreparedData,
  dataset: DatasetConfig,
  training: TrainConfig,
  backend: string,
  folders: readonly string[],
): RunConfig {
  return {
    format: RUN_CONFIG_FORMAT,
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

/**
 * Checks config.json field by field, reusing each component's validator;
 * throws a one-line UserError naming `source` and the field, e.g.
 * "models/x/config.json: model.units must be an integer in [1, 4096] (got -3)".
 * Training settings added after the first release (lrDecay, threads, …) take
 * their defaults when missing, as does the optional data.maxFiles.
 */
function runConfigFromJson(json: unknown, source = 'config.json'): RunConfig {
  const j = checkField(source, '', () => checkObject('the file', json));
  checkField(source, '', () =>
    checkString('format', j.format, (f) => f === RUN_CONFIG_FORMAT, `"${RUN_CONFIG_FORMAT}" (is this a musicgen config.json?)`),
  );
  const model = checkField(source, 'model', () => validateModelConfig(checkObject('model', j.model) as unknown as ModelConfig));
  const dataset = checkField(source, 'dataset', () => validateDatasetConfig(checkObject('dataset', j.dataset) as unknown as DatasetConfig));
  const training = checkField(source, 'training', () =>
    validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, ...renamedTrainingKeys(checkObject('training', j.training)) } as TrainConfig),
  );
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
  const base = { format: RUN_CONFIG_FORMAT, model, dataset, training, backend, data } as const;
  if (j.initFrom === undefined) return base;
  return { ...base, initFrom: checkField(source, '', () => checkString('initFrom', j.initFrom)) };
}

/** Training settings saved under a former name: `transpose` is `transposeRange` since the word `transpose` went to the generation control alone. */
function renamedTrainingKeys(training: Record<string, unknown>): Record<string, unknown> {
  const { transpose, ...rest } = training;
  return transpose === undefined || 'transposeRange' in rest ? rest : { ...rest, transposeRange: transpose };
}

/** Reads and checks config.json; errors are one line naming the file and the field. */
export function loadRunConfig(file: FilePath): RunConfig {
  return runConfigFromJson(readJsonFile(file), showPath(file));
}
