/**
 * Files and folders for every stage: paths that may be bytes rather than
 * UTF-8 ({@link FilePath}) and their printable form, atomic writes, folders
 * made one level at a time, folder walks and JSON files, each failure a
 * one-line UserError naming the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode, UserError } from './errors';

/**
 * Writes a file atomically: the data goes to a temporary file in the same
 * folder, which is then renamed over the target, so readers never see a
 * half-written file. Creates the parent folder when missing.
 */
export function writeFileAtomic(file: FilePath, data: string | Uint8Array): void {
  const dir = parentPath(file);
  const tmp = joinPath(
    dir,
    onBytes((f) => `.${path.basename(f)}.${process.pid}.${Date.now().toString(36)}.tmp`, file),
  );
  makeDirs(dir, file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* nothing left to clean */
    }
    throw new UserError(`cannot write ${showPath(file)}: ${errCode(e)}`);
  }
}

/**
 * A file-system path: a string, or the raw bytes of a path that is not valid
 * UTF-8. Node's strings cannot hold such a name (fs encodes strings as UTF-8),
 * so these stay Buffers from the folder walk (or from the command line,
 * whose edge recovers them: lib/cli/paths.ts) to the read or write.
 */
export type FilePath = string | Buffer;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The path as a string when its bytes are valid UTF-8, else as the bytes. */
function pathOf(bytes: Buffer): FilePath {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes;
  }
}

/** A printable form of a path for messages: bytes that are not UTF-8 are shown as \xNN. */
export function showPath(p: FilePath): string {
  if (typeof p === 'string') return p;
  let out = '';
  let i = 0;
  while (i < p.length) {
    const b = p[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let text: string | undefined;
    if (len > 0 && i + len <= p.length) {
      try {
        text = utf8.decode(p.subarray(i, i + len));
      } catch {
        text = undefined;
      }
    }
    if (text === undefined) {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    } else {
      out += text;
      i += len;
    }
  }
  return out;
}

/**
 * Applies a node:path function to paths given as strings or bytes. Bytes are
 * passed as latin1 (one character per byte), so the function finds '/' and
 * '.' and keeps every other byte as it is; the result is a string when it is UTF-8.
 */
function onBytes(op: (...paths: string[]) => string, ...paths: readonly FilePath[]): FilePath {
  if (paths.every((p): p is string => typeof p === 'string')) return op(...paths);
  return pathOf(Buffer.from(op(...paths.map((p) => Buffer.from(p).toString('latin1'))), 'latin1'));
}

/** `dir`/`name` (as path.join), by bytes when either is not UTF-8. */
export function joinPath(dir: FilePath, name: FilePath): FilePath {
  return onBytes(path.join, dir, name);
}

/** `p` made absolute (as path.resolve), by bytes when it is not UTF-8. */
function resolvePath(p: FilePath): FilePath {
  return onBytes(path.resolve, process.cwd(), p);
}

/** The folder that holds `p` (made absolute), by bytes when it is not UTF-8. */
export function parentPath(p: FilePath): FilePath {
  return onBytes(path.dirname, resolvePath(p));
}

/** The hidden name `.<name>.<suffix>` beside `p`, in the same folder (a lock file, a staging folder), by bytes when `p` is not UTF-8. */
export function besidePath(p: FilePath, suffix: string): FilePath {
  return onBytes((abs) => path.join(path.dirname(abs), `.${path.basename(abs)}.${suffix}`), resolvePath(p));
}

/** Whether two paths are the same string or the same bytes. */
function samePath(a: FilePath, b: FilePath): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/**
 * Creates `dir` and its missing parents one level at a time, as a UserError
 * naming `target` when that fails. (fs.mkdirSync's recursive mode spins forever
 * on paths like /proc/x on Linux, where mkdir reports ENOENT under an existing parent.)
 */
export function makeDirs(dir: FilePath, target: FilePath): void {
  const missing: FilePath[] = [];
  let d = resolvePath(dir);
  while (!fs.existsSync(d) && !samePath(parentPath(d), d)) {
    missing.unshift(d);
    d = parentPath(d);
  }
  if (fs.existsSync(d) && !fs.statSync(d).isDirectory())
    throw new UserError(`cannot write ${showPath(target)}: ${showPath(d)} is not a folder`);
  for (const m of missing) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      throw new UserError(`cannot write ${showPath(target)}: cannot create folder ${showPath(m)} (${errCode(e)})`);
    }
  }
}

/**
 * A string path that reaches `p`, for code that names files by strings only:
 * `p` itself, or for bytes that are not UTF-8 (Linux) /proc/self/fd/N, N a
 * descriptor opened on `p` that `close` closes. Throws a one-line UserError
 * when `p` cannot be opened.
 */
export function stringPath(p: FilePath): { readonly path: string; readonly close: () => void } {
  if (typeof p === 'string') return { path: p, close: () => undefined };
  if (process.platform !== 'linux') throw new UserError(`${showPath(p)}: a name that is not UTF-8 can be used on Linux only`);
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch (e) {
    throw new UserError(`cannot open ${showPath(p)}: ${errCode(e)}`);
  }
  return { path: `/proc/self/fd/${fd}`, close: () => fs.closeSync(fd) };
}

/** A file or folder that a walk found but could not use, with a one-line reason. */
export interface UnusableEntry {
  readonly path: FilePath;
  readonly reason: string;
}

/**
 * Lists files under `root` (recursively) whose extension is in `exts`
 * (lower-case, with dot), sorted by name bytes for a deterministic order. A
 * file path is returned as-is when it matches. Names are read as bytes, so a
 * name that is not valid UTF-8 is found (and returned as a Buffer). Entries
 * whose name starts with "." are left out. Symbolic links are followed (a
 * linked folder once: loops are cut); a matching name that cannot be used —
 * a broken link, a folder that cannot be read, something that is not a
 * regular file — goes to `unusable` with the reason. Files whose extension
 * is not in `exts` are passed over and go to `passedOver` (so a caller can
 * say how many: a folder of .txt files is then not just "0 files").
 */
export function listFiles(
  root: FilePath,
  exts: readonly string[],
  unusable: UnusableEntry[] = [],
  passedOver: FilePath[] = [],
): FilePath[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (e) {
    throw new UserError(`cannot read ${showPath(root)}: ${errCode(e)}`);
  }
  if (!stat.isDirectory()) return [root];
  const matches = (name: Buffer): boolean => exts.includes(path.extname(name.toString('latin1')).toLowerCase());
  const out: FilePath[] = [];
  const seen = new Set<string>();
  const walk = (dir: FilePath, st: fs.Stats): void => {
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      unusable.push({ path: dir, reason: `cannot read folder: ${errCode(e)}` });
      return;
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const e of entries) {
      if (e.name[0] === 0x2e) continue;
      const p = joinPath(dir, e.name);
      let target: fs.Stats | undefined;
      if (e.isDirectory() || e.isSymbolicLink()) {
        try {
          target = fs.statSync(p);
        } catch (err) {
          if (matches(e.name)) unusable.push({ path: p, reason: `broken symbolic link (${errCode(err)})` });
          continue;
        }
      }
      if (target?.isDirectory()) walk(p, target);
      else if (!matches(e.name)) {
        if (e.isFile() || target?.isFile()) passedOver.push(p);
      } else if (e.isFile() || target?.isFile()) out.push(p);
      else unusable.push({ path: p, reason: 'not a regular file' });
    }
  };
  walk(root, stat);
  return out;
}

/** Reads and parses a JSON file; a one-line UserError names the file when it cannot be read or parsed. */
export function readJsonFile(file: FilePath): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${showPath(file)}: ${errCode(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${showPath(file)}: not valid JSON (damaged or truncated?)`);
  }
}
