/**
 * Where training writes, so that nothing the user had is lost:
 * - the model folder is locked for the run (./lock.ts): a second training
 *   into it fails at once, naming the first;
 * - a folder that already holds a model (or another run's checkpoint) is
 *   refused unless asked to replace it; then the new model is trained in a
 *   folder beside it (`.<name>.new`) and swapped in when its first epoch is
 *   saved, so until a complete new model exists the old one stays whole;
 * - resuming continues a checkpoint in the folder, or in `.<name>.new` when
 *   a replacing run was stopped before its first epoch.
 * The swap is two renames (old folder aside to `.<name>.old`, new one in);
 * a run stopped between them is completed by the next run into the folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode, UserError } from '../core/errors';
import { besidePath, joinPath, makeDirs, parentPath, showPath, type FilePath } from '../core/files';
import { CHECKPOINT_FILE, hasCheckpoint, isModelFolder, isTrainingFile } from './folder';
import { lockModelFolder } from './lock';

/** The model folder a training writes, as it may change during the run. */
export interface ModelOutput {
  /** The folder to write now: the model folder, or `.<name>.new` until the swap (read it at every write). */
  readonly dir: () => FilePath;
  /** After an epoch has been saved: swaps `.<name>.new` in for the model folder (once); returns a line to log, or null. */
  readonly epochSaved: () => string | null;
  /** Releases the lock (also done at exit). */
  readonly release: () => void;
}

/** Runs one file-system step; its failure becomes a one-line UserError: `what` and the error code (Node's own message would show a name that is not UTF-8 as U+FFFD). */
function attempt<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw e instanceof UserError ? e : new UserError(`${what} (${errCode(e)})`);
  }
}

/** Whether `dir` holds (part of) a trained model. */
function holdsModel(dir: FilePath): boolean {
  return attempt(
    `cannot read ${showPath(dir)}`,
    () =>
      fs.existsSync(dir) && fs.statSync(dir).isDirectory() && fs.readdirSync(dir).some((f) => isTrainingFile(f) && f !== CHECKPOINT_FILE),
  );
}

/** Removes a folder that this module made: its model files, then the folder; files of the user's are moved to `keepIn` first. */
function removeModelFolder(dir: FilePath, keepIn?: FilePath): void {
  if (!fs.existsSync(dir)) return;
  for (const f of attempt(`cannot read ${showPath(dir)}`, () => fs.readdirSync(dir, { encoding: 'buffer' }))) {
    const file = joinPath(dir, f);
    if (isTrainingFile(f.toString())) attempt(`cannot remove ${showPath(file)}`, () => fs.rmSync(file, { force: true }));
    else if (keepIn && !fs.existsSync(joinPath(keepIn, f)))
      attempt(`cannot move ${showPath(file)} to ${showPath(keepIn)}`, () => fs.renameSync(file, joinPath(keepIn, f)));
  }
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    throw new UserError(
      `cannot remove ${showPath(dir)} (${errCode(e)}): it holds files that are not a model's; move them and delete the folder`,
    );
  }
}

/** Completes a swap that a killed run left half-done (see the file comment). */
function recoverSwap(out: FilePath, staged: FilePath, old: FilePath): void {
  if (!fs.existsSync(old)) return;
  const from = isModelFolder(staged) ? staged : old;
  if (!fs.existsSync(out))
    attempt(`cannot finish the swap a stopped training left: move ${showPath(from)} to ${showPath(out)}`, () => fs.renameSync(from, out));
  removeModelFolder(old, out);
}

/** Moves the old model folder aside and the new one in its place; on failure the old one is put back. */
function swapIn(out: FilePath, staged: FilePath, old: FilePath): void {
  try {
    fs.renameSync(out, old);
  } catch (e) {
    throw new UserError(
      `cannot move ${showPath(out)} aside to put the new model there (${errCode(e)}): the new model is in ${showPath(staged)}`,
    );
  }
  try {
    fs.renameSync(staged, out);
  } catch (e) {
    const code = errCode(e);
    attempt(
      `cannot move the new model from ${showPath(staged)} to ${showPath(out)} (${code}), nor the old one back: it is in ${showPath(old)}`,
      () => fs.renameSync(old, out),
    );
    throw new UserError(`cannot move the new model from ${showPath(staged)} to ${showPath(out)} (${code})`);
  }
}

/** How the caller's options are spelled in messages (the CLI's flags, or the library's own names). */
export interface OutputWording {
  readonly resume: string;
  readonly replace: string;
  readonly out: string;
}

/** The option names of {@link openModelOutput} (and of trainModel), for messages. */
const OPTION_NAMES: OutputWording = { resume: 'resume', replace: 'replace', out: 'outDir' };

/**
 * Locks the model folder `out` (creating its parent) and decides where this
 * run writes (see the file comment). Throws a one-line UserError when the
 * folder is in use, holds a model or a checkpoint without `replace` or
 * `resume`, or has nothing to resume; messages name the options as `words` spells them.
 */
export function openModelOutput(
  out: FilePath,
  opts: { readonly resume: boolean; readonly replace: boolean },
  words: OutputWording = OPTION_NAMES,
): ModelOutput {
  if (opts.resume && opts.replace) throw new UserError(`give ${words.resume} or ${words.replace}, not both`);
  const shown = showPath(out);
  if (path.basename(path.resolve(shown)) === '') throw new UserError(`${words.out} ${shown} cannot be a model folder: name a folder`);
  makeDirs(parentPath(out), out);
  const staged = besidePath(out, 'new');
  const old = besidePath(out, 'old');
  const release = lockModelFolder(out);
  try {
    recoverSwap(out, staged, old);
    let dir = out;
    if (opts.resume) {
      if (!hasCheckpoint(out) && hasCheckpoint(staged)) dir = staged;
      else if (!hasCheckpoint(out)) throw new UserError(`cannot resume: no checkpoint in ${shown}`);
    } else if (hasCheckpoint(out) && !opts.replace) {
      throw new UserError(
        `${shown} already has a training checkpoint: add ${words.resume} to continue it, ${words.replace} to start ` +
          `over (the model stays until the new one's first epoch), or choose another ${words.out}`,
      );
    } else if (holdsModel(out) && !opts.replace) {
      throw new UserError(
        `${shown} already holds a model: add ${words.replace} to replace it (it stays until the new model's first ` +
          `epoch is saved), or choose another ${words.out}`,
      );
    } else if (opts.replace && (hasCheckpoint(out) || holdsModel(out))) {
      removeModelFolder(staged);
      dir = staged;
    }
    return {
      dir: () => dir,
      epochSaved: () => {
        if (dir !== staged || !isModelFolder(staged)) return null;
        swapIn(out, staged, old);
        dir = out;
        try {
          removeModelFolder(old, out);
        } catch (e) {
          return `the new model replaced the old one in ${shown}; ${(e as Error).message}`;
        }
        return `the new model replaced the old one in ${shown}`;
      },
      release,
    };
  } catch (e) {
    release();
    throw e;
  }
}
