/**
 * Errors meant for people: a {@link UserError} is shown as one line (no stack
 * trace unless --verbose), and {@link errCode} turns a file-system error into a short reason.
 */

/** An error whose message is meant to be shown to a user as one line. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
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
