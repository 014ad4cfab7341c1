/**
 * A model folder (`models/<name>/`) and the files it holds:
 * - `model.json` + `weights-*.bin`: the tfjs layers model (standard tfjs format);
 * - `vocab.json`: vocabulary and tokenizer settings;
 * - `config.json`: the settings of the run that made the model ({@link RunConfig});
 * - `history.json`: per-epoch training figures;
 * - `checkpoint.ckpt`: where an unfinished training stands (lib/store/checkpoint.ts).
 * Every file is written atomically (./save.ts); loading checks every file
 * field by field (./load.ts). This file names them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinPath, type FilePath } from '../core/files';

export const MODEL_JSON = 'model.json';
export const VOCAB_JSON = 'vocab.json';
export const CONFIG_JSON = 'config.json';
export const HISTORY_JSON = 'history.json';
export const CHECKPOINT_FILE = 'checkpoint.ckpt';

/** Files a complete model folder must have: what generation needs. */
export const MODEL_FILES: readonly string[] = [MODEL_JSON, VOCAB_JSON, CONFIG_JSON];

/** Whether `name` is a weights file: `weights-<stamp>.bin`. */
export function isWeightsFile(name: string): boolean {
  return /^weights-.*\.bin$/.test(name);
}

/** Whether `name` is a file that training writes into a model folder (a temporary one too); anything else there is the user's and is kept. */
export function isTrainingFile(name: string): boolean {
  return (
    [MODEL_JSON, VOCAB_JSON, CONFIG_JSON, HISTORY_JSON, CHECKPOINT_FILE].includes(name) || isWeightsFile(name) || /^\..*\.tmp$/.test(name)
  );
}

/** Whether `dir` holds a trained model (its model.json). */
export function isModelFolder(dir: FilePath): boolean {
  return fs.existsSync(joinPath(dir, MODEL_JSON));
}

/** Whether `dir` holds a training checkpoint. */
export function hasCheckpoint(dir: FilePath): boolean {
  return fs.existsSync(joinPath(dir, CHECKPOINT_FILE));
}

/** Folders of models/ that shipped under another name, so old commands and notebooks still find them. */
const FORMER_NAMES: Readonly<Record<string, string>> = { pretrained: 'folk' };

/**
 * The model folder that `name` stands for: `name` itself when it exists; a
 * bare name (no slash) is a folder of `root` (`piano` → models/piano); and a
 * shipped folder that was renamed is found under its new name
 * (models/pretrained → models/folk). Otherwise `name` as given, for the
 * loader to report as missing.
 */
export function findModelFolder(name: string, root = 'models'): string {
  if (fs.existsSync(name)) return name;
  const dir = name.includes('/') || name.includes(path.sep) ? name : path.join(root, name);
  if (fs.existsSync(dir)) return dir;
  const renamed = FORMER_NAMES[path.basename(dir)];
  const moved = renamed === undefined ? dir : path.join(path.dirname(dir), renamed);
  return isModelFolder(moved) ? moved : name;
}
