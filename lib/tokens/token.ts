/**
 * Tokens: the symbols the model reads and writes, as a tagged union with a
 * stable string form (the vocabulary stores the strings). Each scheme uses a
 * subset:
 *
 * - `event`: a note (one pitch) or, in `timed`/`classic`, a chord (notes that
 *   start together and last equally long), as sorted MIDI pitches. In `remi`
 *   it is always one note, followed by its velocity and duration.
 * - `dur`: the duration of the preceding note or chord, in grid steps.
 * - `shift`: time from the previous onset to the next one, in grid steps.
 * - `bos`: the start of a piece.
 * - `bar`: the start of a new bar.
 * - `ts`: the time signature from this bar on.
 * - `pos`: a position in the bar, in grid steps from its start.
 * - `tempo`: the tempo from this position on, in beats per minute.
 * - `vel`: the velocity bin of the note before it.
 * - `program`: the instrument of the notes that follow (a General-MIDI program, or drums).
 */
import { pitchName } from '../core/piece';

/** A note (one pitch) or a chord (several pitches sounding together). */
export interface EventToken {
  readonly kind: 'event';
  /** Sorted ascending, distinct, 0–127. */
  readonly pitches: readonly number[];
}

/** Duration of the preceding event in grid steps (≥ 1). */
interface DurToken {
  readonly kind: 'dur';
  readonly steps: number;
}

/** Advance time by a number of grid steps (≥ 1) before the next event. */
interface ShiftToken {
  readonly kind: 'shift';
  readonly steps: number;
}

/** Start of a piece. */
interface BosToken {
  readonly kind: 'bos';
}

/** Start of a bar. */
interface BarToken {
  readonly kind: 'bar';
}

/** Time signature from this bar on. */
interface TimeSignatureToken {
  readonly kind: 'ts';
  readonly numerator: number;
  readonly denominator: number;
}

/** Position in the bar, in grid steps from its start (≥ 0). */
interface PositionToken {
  readonly kind: 'pos';
  readonly position: number;
}

/** Tempo from here on, in whole beats per minute. */
interface TempoToken {
  readonly kind: 'tempo';
  readonly bpm: number;
}

/** Velocity bin (0 = softest) of the preceding note. */
interface VelocityToken {
  readonly kind: 'vel';
  readonly bin: number;
}

/** Instrument of the notes that follow: a General-MIDI program 0–127, or drums. */
interface ProgramToken {
  readonly kind: 'program';
  readonly program: number;
  readonly drum: boolean;
}

export type Token =
  EventToken | DurToken | ShiftToken | BosToken | BarToken | TimeSignatureToken | PositionToken | TempoToken | VelocityToken | ProgramToken;

/** The last token of `kind` among `tokens` (the one in force at their end), or undefined. */
export function lastOfKind<K extends Token['kind']>(tokens: readonly Token[], kind: K): Extract<Token, { kind: K }> | undefined {
  for (let i = tokens.length - 1; i >= 0; i--) if (tokens[i].kind === kind) return tokens[i] as Extract<Token, { kind: K }>;
  return undefined;
}

/** Marks the positions of `tokens` that hold a pitched note, one played by a program that is not the drums: 1 = pitched (a transposition moves it). */
export function pitchedPositions(tokens: readonly Token[]): Uint8Array {
  const out = new Uint8Array(tokens.length);
  let drum = false;
  tokens.forEach((t, i) => {
    if (t.kind === 'program') drum = t.drum;
    else if (t.kind === 'event' && !drum) out[i] = 1;
  });
  return out;
}

/** Token kinds in vocabulary order (the first three as in vocabularies saved before the others existed). */
const TOKEN_KINDS: readonly Token['kind'][] = ['shift', 'dur', 'event', 'bos', 'bar', 'ts', 'pos', 'tempo', 'vel', 'program'];

/** The stable string form: `s:4`, `d:2`, `n:60` (note), `c:48.52.55` (chord), `<s>`, `|`, `ts:3/4`, `p:12`, `t:120`, `v:5`, `i:0`, `i:drums`. */
export function tokenToString(t: Token): string {
  switch (t.kind) {
    case 'shift':
      return `s:${t.steps}`;
    case 'dur':
      return `d:${t.steps}`;
    case 'event':
      return t.pitches.length === 1 ? `n:${t.pitches[0]}` : `c:${t.pitches.join('.')}`;
    case 'bos':
      return '<s>';
    case 'bar':
      return '|';
    case 'ts':
      return `ts:${t.numerator}/${t.denominator}`;
    case 'pos':
      return `p:${t.position}`;
    case 'tempo':
      return `t:${t.bpm}`;
    case 'vel':
      return `v:${t.bin}`;
    case 'program':
      return t.drum ? 'i:drums' : `i:${t.program}`;
  }
}

/** Parses the string form; throws with the offending text when malformed. */
export function tokenFromString(s: string): Token {
  const bad = (): never => {
    throw new Error(`malformed token "${s}"`);
  };
  if (s === '<s>') return { kind: 'bos' };
  if (s === '|') return { kind: 'bar' };
  if (s === 'i:drums') return { kind: 'program', program: 0, drum: true };
  const ts = /^ts:(\d{1,2})\/(\d{1,2})$/.exec(s);
  if (ts) {
    const [numerator, denominator] = [Number(ts[1]), Number(ts[2])];
    if (numerator < 1 || ![1, 2, 4, 8, 16, 32].includes(denominator)) bad();
    return { kind: 'ts', numerator, denominator };
  }
  const one = /^([ptvi]):(\d{1,4})$/.exec(s);
  if (one) {
    const v = Number(one[2]);
    switch (one[1]) {
      case 'p':
        return { kind: 'pos', position: v };
      case 't':
        return v >= 1 && v <= 1000 ? { kind: 'tempo', bpm: v } : bad();
      case 'v':
        return v <= 127 ? { kind: 'vel', bin: v } : bad();
      default:
        return v <= 127 ? { kind: 'program', program: v, drum: false } : bad();
    }
  }
  const m = /^([sdnc]):(\d+(?:\.\d+)*)$/.exec(s);
  if (!m) return bad();
  const nums = m[2].split('.').map(Number);
  switch (m[1]) {
    case 's':
    case 'd': {
      if (nums.length !== 1 || nums[0] < 1) bad();
      return m[1] === 's' ? { kind: 'shift', steps: nums[0] } : { kind: 'dur', steps: nums[0] };
    }
    default: {
      if (nums.some((p) => p > 127) || (m[1] === 'n') !== (nums.length === 1)) bad();
      for (let i = 1; i < nums.length; i++) if (nums[i] <= nums[i - 1]) bad();
      return { kind: 'event', pitches: nums };
    }
  }
}

/** The numbers a token is ordered by within its kind. */
export function sortKeyOf(t: Token): readonly number[] {
  switch (t.kind) {
    case 'shift':
    case 'dur':
      return [t.steps];
    case 'event':
      return [t.pitches.length, ...t.pitches];
    case 'bos':
    case 'bar':
      return [];
    case 'ts':
      return [t.denominator, t.numerator];
    case 'pos':
      return [t.position];
    case 'tempo':
      return [t.bpm];
    case 'vel':
      return [t.bin];
    case 'program':
      return [t.drum ? 1 : 0, t.program];
  }
}

/** Orders tokens for a sorted vocabulary: by kind, then numerically. */
export function compareTokens(a: Token, b: Token): number {
  const ka = TOKEN_KINDS.indexOf(a.kind);
  const kb = TOKEN_KINDS.indexOf(b.kind);
  if (ka !== kb) return ka - kb;
  const x = sortKeyOf(a);
  const y = sortKeyOf(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** A human-readable form, e.g. "C4", "[C3 E3 G3]", "dur 2", "wait 4", "bar", "3/4", "@12", "♩=120", "vel 5", "program 0". */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'shift':
      return `wait ${t.steps}`;
    case 'dur':
      return `dur ${t.steps}`;
    case 'event':
      return t.pitches.length === 1 ? pitchName(t.pitches[0]) : `[${t.pitches.map(pitchName).join(' ')}]`;
    case 'bos':
      return 'start';
    case 'bar':
      return 'bar';
    case 'ts':
      return `${t.numerator}/${t.denominator}`;
    case 'pos':
      return `@${t.position}`;
    case 'tempo':
      return `♩=${t.bpm}`;
    case 'vel':
      return `vel ${t.bin}`;
    case 'program':
      return t.drum ? 'drums' : `program ${t.program}`;
  }
}
