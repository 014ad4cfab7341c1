/**
 * File-system helpers at the edges of the pipeline: atomic writes and folder walks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode, UserError } from './errors';

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

/** Reads and parses a JSON file; a one-line UserError names the file when it cannot be read or parsed. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${errCode(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${file}: not valid JSON (damaged or truncated?)`);
  }
}
