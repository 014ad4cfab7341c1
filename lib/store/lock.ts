/**
 * An exclusive lock on a model folder while a training writes it, so two runs
 * into one folder cannot interleave their files (weights of one, config of the
 * other). The lock is a file beside the folder (`.<name>.lock`, so it stays
 * put when the folder is swapped for a new one), created with O_EXCL and
 * holding the owner's pid, host and start time. It is removed when the owner
 * releases it or exits (also on an error or a second Ctrl-C); a lock left by
 * a process that is gone (kill -9, a crash) is taken over.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { errCode, UserError } from '../core/errors';
import { besidePath, showPath, type FilePath } from '../core/files';

/** What a lock file holds. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid from the owner. */
  readonly started: number | null;
  /** When the lock was taken (ISO time), for messages. */
  readonly since: string;
}

/** The lock file of a model folder. */
export function lockFileOf(dir: FilePath): FilePath {
  return besidePath(dir, 'lock');
}

/** A process's start time (field 22 of /proc/<pid>/stat), or null where that cannot be read. */
function processStart(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const started = Number(fields[19]);
    return Number.isFinite(started) ? started : null;
  } catch {
    return null;
  }
}

/** Whether the owner recorded in a lock may still be running (another host's process cannot be checked: it may). */
function mayBeAlive(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return owner.started === null || processStart(owner.pid) === null || processStart(owner.pid) === owner.started;
}

/** The owner in a lock file, or null when it cannot be read as one. */
function readOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string'
      ? { pid: o.pid, host: o.host, started: o.started ?? null, since: String(o.since) }
      : null;
  } catch {
    return null;
  }
}

/** A lock file that cannot be read is taken as being written by its owner for this long, then as left behind. */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * Locks model folder `dir` for this process; returns the function that
 * releases it (safe to call more than once). Throws a one-line UserError
 * naming the folder and the owner when another live process holds it.
 */
export function lockModelFolder(dir: FilePath): () => void {
  const file = lockFileOf(dir);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), started: processStart(process.pid), since: new Date().toISOString() };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole beside it, then linked into place: link fails if the lock exists, and a reader never sees it half-written.
    const draft = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(draft, text);
      fs.linkSync(draft, file);
      return releaser(file, text);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw new UserError(`cannot lock ${showPath(dir)}: cannot create ${showPath(file)} (${errCode(e)})`);
    } finally {
      fs.rmSync(draft, { force: true });
    }
    let held: string;
    let age: number;
    try {
      held = fs.readFileSync(file, 'utf8');
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      continue; // released meanwhile: try again
    }
    const owner = readOwner(held);
    if (owner ? mayBeAlive(owner) : age < UNREADABLE_GRACE_MS) {
      const who = owner
        ? `process ${owner.pid}${owner.host === me.host ? '' : ` on ${owner.host}`} since ${owner.since}`
        : 'another process';
      throw new UserError(
        `${showPath(dir)} is being written by another training (${who}): wait for it to end or stop it (lock file ${showPath(file)})`,
      );
    }
    // Left behind by a process that is gone: remove it, unless it changed since it was read (another run took it over).
    try {
      if (fs.readFileSync(file, 'utf8') === held) fs.rmSync(file);
    } catch {
      /* gone already */
    }
  }
  throw new UserError(`cannot lock ${showPath(dir)}: ${showPath(file)} keeps changing (another training is starting?)`);
}

/** The release function of a lock this process holds: removes the file if it is still ours, on call or at exit. */
function releaser(file: FilePath, text: string): () => void {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (fs.readFileSync(file, 'utf8') === text) fs.rmSync(file);
    } catch {
      /* already gone */
    }
  };
  process.on('exit', release);
  return release;
}
