/**
 * Parameter checks shared by every component's config validator: each throws
 * a RangeError whose message names the parameter, its allowed range and the
 * value given, e.g. "units must be an integer in [1, 4096] (got -3)".
 */

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
