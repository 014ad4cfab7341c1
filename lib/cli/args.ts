/**
 * Command-line flag parsing on node:util's parseArgs (strict: unknown flags
 * are errors), with typed number parsing that names the flag and its range.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../core/errors';

/** One flag's definition. */
interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Value name and description for --help. */
  readonly help: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** Parsed flags and positional arguments. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A flag as node:util's parseArgs takes it. */
type ParseOption = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

/** Flags every command accepts. */
const COMMON_FLAGS: FlagSpecs = {
  json: { type: 'boolean', help: 'print one JSON object as the last line of stdout' },
  verbose: { type: 'boolean', help: 'show stack traces on errors' },
  help: { type: 'boolean', short: 'h', help: 'show help for the command' },
};

/** Parses argv against the specs; an unknown flag, a missing value or a flag given twice (boolean or not) is a UserError naming it. */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const options: Record<string, ParseOption> = {};
  for (const [name, s] of Object.entries({ ...COMMON_FLAGS, ...specs })) {
    options[name] = { type: s.type, ...(s.multiple ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
  }
  const r = parse(argv, options);
  const seen = new Set<string>();
  for (const t of r.tokens) {
    if (t.kind !== 'option') continue;
    // An empty value would read as 0 (numbers), track 0 (lists) or "not given" (paths): always a mistake.
    if (options[t.name].type === 'string' && t.value === '') throw new UserError(`--${t.name} needs a value (got an empty string)`);
    if (seen.has(t.name) && !options[t.name].multiple) throw new UserError(`--${t.name} is given more than once`);
    seen.add(t.name);
  }
  return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
}

/** node:util's parseArgs with its errors turned into one-line UserErrors naming the flag. */
function parse(argv: readonly string[], options: Record<string, ParseOption>) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new UserError(`unknown flag ${unknown[1]} (see --help)`);
    const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(msg);
    if (ambiguous) throw new UserError(`${ambiguous[1]} needs a value (for a negative number write ${ambiguous[1]}=-1)`);
    throw new UserError(msg.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** Reads a string flag. */
export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads a string flag that may repeat. */
export function strs(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** Reads a required string flag. */
export function required(a: ParsedArgs, name: string): string {
  const v = str(a, name);
  if (v === undefined || v === '') throw new UserError(`--${name} is required`);
  return v;
}

/** A decimal integer, and a decimal number (no spaces, hex, "Infinity" or other forms Number() would also take). */
const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Reads a numeric flag; `int` demands an integer. Range checks live in the configs' validators. */
export function num(a: ParsedArgs, name: string, kind: 'int' | 'float' = 'float'): number | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(kind === 'int' ? INT : FLOAT).test(v) || !Number.isFinite(n) || (kind === 'int' && !Number.isSafeInteger(n))) {
    throw new UserError(`--${name} must be ${kind === 'int' ? 'an integer' : 'a number'} (got "${v}")`);
  }
  return n;
}

/** Reads an integer flag that must be at least `min` (for flags no config validator checks). */
export function intAtLeast(a: ParsedArgs, name: string, min: number): number | undefined {
  const n = num(a, name, 'int');
  if (n !== undefined && n < min) throw new UserError(`--${name} must be an integer ≥ ${min} (got ${n})`);
  return n;
}

/**
 * Requires the file a flag names to end in one of `exts` (lower-case, with
 * the dot; the name's case is ignored), so that nothing is written under a
 * name that says it holds something else.
 */
export function checkExtension(flag: string, file: string, exts: readonly string[]): void {
  if (!exts.includes(path.extname(file).toLowerCase()))
    throw new UserError(`--${flag} must name a ${exts.join(' or ')} file (got ${JSON.stringify(file)})`);
}

/**
 * Reads a comma-separated list of integers in [lo, hi]: every item digits only
 * (an empty item, as in "1,,2" or "", is an error, not 0).
 */
export function intList(a: ParsedArgs, name: string, lo: number, hi: number): number[] | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const items = v.split(',');
  if (items.some((x) => !/^\d{1,6}$/.test(x) || Number(x) < lo || Number(x) > hi)) {
    throw new UserError(`--${name} must be a comma-separated list of integers in [${lo}, ${hi}] (got "${v}")`);
  }
  return items.map(Number);
}

/** Drops undefined fields so defaults can be spread underneath. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Formats the flag list for --help. */
export function flagHelp(specs: FlagSpecs): string {
  const rows = Object.entries({ ...specs, ...COMMON_FLAGS }).map(([name, s]) => {
    const [value, ...rest] = s.type === 'string' ? s.help.split(' ') : ['', ...s.help.split(' ')];
    const left = `  ${s.short ? `-${s.short}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
    return [left, rest.join(' ')] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([l, r]) => l.padEnd(w) + r).join('\n');
}

/**
 * Maps a validator's RangeError ("units must be …") to the CLI's flag name
 * ("--units must be …") so the message names what the user typed.
 */
export function asFlagError(e: unknown, names: Readonly<Record<string, string>>): unknown {
  if (!(e instanceof RangeError)) return e;
  const m = /^(\w+) (.*)$/.exec(e.message);
  if (m && names[m[1]]) return new UserError(`--${names[m[1]]} ${m[2]}`);
  return new UserError(e.message);
}
