/**
 * Command-line flag parsing on node:util's parseArgs (strict: unknown flags
 * are errors), with typed number parsing that names the flag and its range.
 */
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

/** Flags every command accepts. */
const COMMON_FLAGS: FlagSpecs = {
  json: { type: 'boolean', help: 'print one JSON object as the last line of stdout' },
  verbose: { type: 'boolean', help: 'show stack traces on errors' },
  help: { type: 'boolean', short: 'h', help: 'show help for the command' },
};

/** Parses argv against the specs; an unknown flag or a missing value is a UserError naming it. */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, s] of Object.entries({ ...COMMON_FLAGS, ...specs })) {
    options[name] = { type: s.type, ...(s.multiple ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
  }
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
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

/** Reads a numeric flag; `int` demands an integer. Range checks live in the configs' validators. */
export function num(a: ParsedArgs, name: string, kind: 'int' | 'float' = 'float'): number | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
    throw new UserError(`--${name} must be ${kind === 'int' ? 'an integer' : 'a number'} (got "${v}")`);
  }
  return n;
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
