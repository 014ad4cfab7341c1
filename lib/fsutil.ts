/**
 * File-system helpers at the edges of the pipeline: atomic writes and folder walks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** An error whose message is meant to be shown to a user as one line. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * Writes a file atomically: the data goes to a temporary file in the same
 * folder, which is then renamed over the target, so readers never see a
 * half-written file. Creates the parent folder when missing.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot write ${file}: cannot create folder ${dir} (${errCode(e)})`);
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* nothing left to clean */
    }
    throw new UserError(`cannot write ${file}: ${errCode(e)}`);
  }
}

/** Returns a short reason for a file-system error (its code or message). */
export function errCode(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const code = (e as { code: string }).code;
    const known: Record<string, string> = {
      EACCES: 'permission denied',
      EPERM: 'operation not permitted',
      ENOENT: 'no such file or folder',
      EISDIR: 'is a folder',
      ENOTDIR: 'a parent is not a folder',
      EROFS: 'read-only file system',
      ENOSPC: 'no space left on device',
    };
    return known[code] ?? code;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Lists files under `root` (recursively) whose extension is in `exts`
 * (lower-case, with dot), sorted for a deterministic order. A file path is
 * returned as-is when it matches.
 */
export function listFiles(root: string, exts: readonly string[]): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (e) {
    throw new UserError(`cannot read ${root}: ${errCode(e)}`);
  }
  if (stat.isFile()) return [root];
  const out: string[] = [];
  const walk = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && exts.includes(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(root);
  return out;
}
