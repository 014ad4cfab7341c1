/**
 * Parameter checks shared by every component's config validator: each throws
 * a RangeError whose message names the parameter, its allowed range and the
 * value given, e.g. "units must be an integer in [1, 4096] (got -3)"; and
 * the field checks for saved JSON files.
 */
import { UserError } from './errors';

/** Requires an integer in [lo, hi]. */
export function checkInt(name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${String(v)})`);
  }
}

/** Requires a finite number accepted by `ok`; `range` describes the allowed values, e.g. "in (0, 1]". */
export function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, range: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${name} must be ${range} (got ${String(v)})`);
}

/** A JSON value as an object, or a RangeError naming `name` (e.g. "model must be an object (got null)"). */
export function checkObject(name: string, v: unknown): Readonly<Record<string, unknown>> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new RangeError(`${name} must be an object (got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v})`);
  }
  return v as Record<string, unknown>;
}

/** A JSON value as an array, or a RangeError naming `name`. */
export function checkArray(name: string, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw new RangeError(`${name} must be an array (got ${v === null ? 'null' : typeof v})`);
  return v;
}

/** Requires a string; `ok` may narrow it further (e.g. a fixed format tag). */
export function checkString(name: string, v: unknown, ok: (s: string) => boolean = () => true, what = 'a string'): string {
  if (typeof v !== 'string' || !ok(v)) throw new RangeError(`${name} must be ${what} (got ${JSON.stringify(v) ?? 'nothing'})`);
  return v;
}

/**
 * Runs a validator over a field of a saved file, turning its RangeError into
 * a one-line UserError that names the file and the field path, e.g.
 * "models/x/config.json: model.units must be an integer in [1, 4096] (got -3)".
 */
export function checkField<T>(file: string, field: string, validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const msg = e.message;
    throw new UserError(`${file}: ${field && !msg.startsWith(field) ? `${field}.` : ''}${msg}`);
  }
}
