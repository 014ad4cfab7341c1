/**
 * Parameter checks shared by every component's config validator: each throws
 * a RangeError whose message names the parameter, its allowed range and the
 * value given, e.g. "units must be an integer in [1, 4096] (got -3)", a
 * string quoted (got "505"), so that it does not read as the number; and the
 * field checks for saved JSON files.
 */
import { UserError } from './errors';

/** Requires an integer in [lo, hi]. */
export function checkInt(name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${shownValue(v)})`);
  }
}

/** Requires a finite number accepted by `ok`; `range` describes the allowed values, e.g. "in (0, 1]". */
export function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, range: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`${name} must be ${range} (got ${shownValue(v)})`);
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

/** How a value is shown in a message: strings quoted, so "2.5" is not mistaken for 2.5; numbers, booleans, null and undefined as they are. */
export function shownValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/**
 * Requires a value of JSON type number, before a range check with checkInt or
 * checkNumber (which would show the string "2.5" as 2.5).
 */
export function checkIsNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new RangeError(`${name} must be a number (got ${shownValue(v)})`);
  return v;
}

/** A tensor shape in a saved file: an array of integer sizes (each in [0, 2^31 − 1]). */
export function checkShape(name: string, v: unknown): number[] {
  const shape = checkArray(name, v);
  shape.forEach((d, i) => checkInt(`${name}[${i}]`, checkIsNumber(`${name}[${i}]`, d), 0, 2 ** 31 - 1));
  return shape as number[];
}

/**
 * Runs a validator over a nested field, prefixing its RangeError with the
 * field path (as checkField does for a file): "history[2]" + "trainLoss must
 * be …" gives "history[2].trainLoss must be …".
 */
export function inField<T>(field: string, validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (!(e instanceof RangeError) || e.message.startsWith(field)) throw e;
    throw new RangeError(`${field}.${e.message}`);
  }
}
