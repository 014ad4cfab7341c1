/**
 * Paths the commands check or translate:
 * - outputs that would destroy an input: `generate --out` naming its own
 *   primer, a file of the model folder, or the same file as `--wav`. Paths are
 *   compared as the files they reach (symbolic links and `..` resolved, hard
 *   links by inode), and an output that does not exist yet is placed by the
 *   real path of its nearest existing folder;
 * - names that are not UTF-8 (docs/midi-files.md, "Names that are not UTF-8"): a path
 *   given on the command line is recovered by its bytes ({@link argPath})
 *   before any stage sees it, and a data folder that has one is recorded in config.json as `showPath` shows it
 *   (\xNN) and found again by those bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { showPath, stringPath, type FilePath } from '../core/files';
import { findModelFolder } from '../store/folder';

/**
 * A path as the user typed it. Node decodes command-line arguments as UTF-8
 * and replaces bytes that are not UTF-8 by U+FFFD, so such a name would read
 * (or write) another file. On Linux the raw arguments are in
 * /proc/self/cmdline: when exactly one of them decodes to `arg` (or to
 * `--flag=arg`), its bytes are returned. Otherwise — no U+FFFD in `arg`, not
 * Linux, a path built from an argument rather than given whole, several
 * arguments that decode alike — `arg` is returned as it is. The commands
 * apply this once to every path they are given (the MIDI folder or file,
 * --data, --primer, --out, --wav, --model, --init-from) before passing it
 * down; paths built from them keep the bytes when built with joinPath and
 * besidePath (not with node:path).
 */
export function argPath(arg: string): FilePath {
  if (!arg.includes('\ufffd')) return arg;
  let raw: Buffer;
  try {
    raw = fs.readFileSync('/proc/self/cmdline');
  } catch {
    return arg;
  }
  const found = new Map<string, Buffer>();
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && raw[i] !== 0) continue;
    let entry = raw.subarray(start, i);
    start = i + 1;
    const eq = entry.indexOf(0x3d);
    if (entry.toString('utf8') !== arg && entry[0] === 0x2d && eq > 0) entry = entry.subarray(eq + 1);
    if (entry.toString('utf8') === arg) found.set(entry.toString('hex'), Buffer.from(entry));
  }
  return found.size === 1 ? [...found.values()][0] : arg;
}

/** The bytes `p` stands for when they are not UTF-8 (a name as the user typed it; see `argPath`), else null. */
function nonUtf8(p: string): Buffer | null {
  const given = argPath(p);
  return typeof given === 'string' ? null : given;
}

/**
 * The real path `p` reaches: symbolic links resolved as far as it exists, the
 * rest appended as given. `byBytes` (when a path compared is not UTF-8) works
 * on the bytes, as a latin1 string of one char per byte, so two such names never
 * look alike; otherwise on ordinary strings (where Windows' case rules apply).
 */
function realTarget(p: string, byBytes: boolean): string {
  const latin1 = (b: Buffer): string => b.toString('latin1');
  const real = byBytes
    ? (h: string): string => latin1(fs.realpathSync.native(Buffer.from(h, 'latin1'), { encoding: 'buffer' }))
    : (h: string): string => fs.realpathSync(h);
  let head = byBytes
    ? path.resolve(latin1(fs.realpathSync.native('.', { encoding: 'buffer' })), latin1(Buffer.from(argPath(p))))
    : path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(real(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return head;
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

/** The same file: the same real path, or (both existing) the same inode. */
function sameFile(a: string, b: string): boolean {
  const byBytes = nonUtf8(a) !== null || nonUtf8(b) !== null;
  if (realTarget(a, byBytes) === realTarget(b, byBytes)) return true;
  try {
    const sa = fs.statSync(argPath(a));
    const sb = fs.statSync(argPath(b));
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** `file` lies inside `folder` (at any depth). */
function isInside(file: string, folder: string): boolean {
  const byBytes = nonUtf8(file) !== null || nonUtf8(folder) !== null;
  const rel = path.relative(realTarget(folder, byBytes), realTarget(file, byBytes));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** A path named by a flag. */
interface Named {
  readonly flag: string;
  readonly path: string;
}

/**
 * Refuses outputs that would overwrite an input file, land in an input folder
 * (a model folder: its files must stay the model's), or be written twice.
 * Throws a one-line UserError naming both flags and the path.
 */
export function checkOutputs(outputs: readonly Named[], inputFiles: readonly Named[], inputFolders: readonly Named[]): void {
  const shown = (p: string): string => showPath(argPath(p));
  outputs.forEach((o, i) => {
    for (const f of inputFiles) {
      if (sameFile(o.path, f.path))
        throw new UserError(
          `--${o.flag} ${shown(o.path)} is the --${f.flag} file: writing it would destroy it (choose another --${o.flag})`,
        );
    }
    for (const d of inputFolders) {
      if (sameFile(o.path, d.path) || isInside(o.path, d.path)) {
        throw new UserError(
          `--${o.flag} ${shown(o.path)} is inside the --${d.flag} folder ${shown(d.path)}: write it elsewhere (the folder's files belong to the model)`,
        );
      }
    }
    for (const other of outputs.slice(i + 1)) {
      if (sameFile(o.path, other.path))
        throw new UserError(`--${o.flag} and --${other.flag} are the same file (${shown(o.path)}): give them different names`);
    }
  });
}

/** How a data folder is recorded in a model's config.json: as given, with the bytes of a name that is not UTF-8 shown as \xNN. */
export function recordedFolder(given: string): string {
  return showPath(argPath(given));
}

/** The bytes `recordedFolder` stood for: each \xNN one byte, the rest UTF-8; null when there is no \xNN. */
function recordedBytes(recorded: string): Buffer | null {
  const parts = recorded.split(/\\x([0-9a-f]{2})/);
  if (parts.length === 1) return null;
  return Buffer.concat(parts.map((part, i) => (i % 2 === 1 ? Buffer.from([parseInt(part, 16)]) : Buffer.from(part, 'utf8'))));
}

/**
 * Recorded data folders as paths the loading worker (which takes strings)
 * can read: a folder that exists under its recorded name is kept; one that
 * exists only by the bytes of its \xNN escapes (a folder, not a file) is
 * opened and named by its descriptor, /proc/self/fd/N (Linux). `close` closes those descriptors.
 * Null when such a folder is one of several: pieces are then named after
 * their folder, and another name would split the files differently (the
 * caller asks for the folders on the command line instead, where their bytes
 * are found as for any argument).
 */
export function openRecordedFolders(recorded: readonly string[]): { readonly paths: readonly string[]; readonly close: () => void } | null {
  const opened: (() => void)[] = [];
  const close = (): void => opened.splice(0).forEach((closeOne) => closeOne());
  const paths = recorded.map((r): string => {
    const bytes = recordedBytes(r);
    if (fs.existsSync(r) || !bytes || !fs.existsSync(bytes) || !fs.statSync(bytes).isDirectory() || process.platform !== 'linux') return r;
    const s = stringPath(bytes);
    opened.push(s.close);
    return s.path;
  });
  if (opened.length > 0 && recorded.length > 1) {
    close();
    return null;
  }
  return { paths, close };
}

/** The model folder that --model or --init-from names: its bytes recovered ({@link argPath}), then found as store/folder.ts `findModelFolder` says (`piano` → models/piano, models/pretrained → models/folk). */
export function modelArg(given: string): FilePath {
  const dir = argPath(given);
  return typeof dir === 'string' ? findModelFolder(dir) : dir;
}
