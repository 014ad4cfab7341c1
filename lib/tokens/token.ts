/**
 * Tokens: the symbols the model reads and writes, as a tagged union with a
 * stable string form (the vocabulary stores the strings).
 *
 * - `event`: one musical event — a single note or a chord (notes that start
 *   together and last equally long), as sorted MIDI pitches.
 * - `dur`: the duration of the preceding event, in grid steps.
 * - `shift`: time from the previous onset to the next one, in grid steps.
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

export type Token = EventToken | DurToken | ShiftToken;

/** Token kinds in vocabulary order. */
const TOKEN_KINDS: readonly Token['kind'][] = ['shift', 'dur', 'event'];

/** The stable string form: `s:4`, `d:2`, `n:60` (note), `c:48.52.55` (chord). */
export function tokenToString(t: Token): string {
  switch (t.kind) {
    case 'shift':
      return `s:${t.steps}`;
    case 'dur':
      return `d:${t.steps}`;
    case 'event':
      return t.pitches.length === 1 ? `n:${t.pitches[0]}` : `c:${t.pitches.join('.')}`;
  }
}

/** Parses the string form; throws with the offending text when malformed. */
export function tokenFromString(s: string): Token {
  const m = /^([sdnc]):(\d+(?:\.\d+)*)$/.exec(s);
  if (!m) throw new Error(`malformed token "${s}"`);
  const nums = m[2].split('.').map(Number);
  switch (m[1]) {
    case 's':
    case 'd': {
      if (nums.length !== 1 || nums[0] < 1) throw new Error(`malformed token "${s}"`);
      return m[1] === 's' ? { kind: 'shift', steps: nums[0] } : { kind: 'dur', steps: nums[0] };
    }
    default: {
      if (nums.some((p) => p > 127) || (m[1] === 'n') !== (nums.length === 1)) {
        throw new Error(`malformed token "${s}"`);
      }
      for (let i = 1; i < nums.length; i++) if (nums[i] <= nums[i - 1]) throw new Error(`malformed token "${s}"`);
      return { kind: 'event', pitches: nums };
    }
  }
}

/** Orders tokens for a sorted vocabulary: by kind, then numerically. */
export function compareTokens(a: Token, b: Token): number {
  const ka = TOKEN_KINDS.indexOf(a.kind);
  const kb = TOKEN_KINDS.indexOf(b.kind);
  if (ka !== kb) return ka - kb;
  if (a.kind === 'event' && b.kind === 'event') {
    if (a.pitches.length !== b.pitches.length) return a.pitches.length - b.pitches.length;
    for (let i = 0; i < a.pitches.length; i++) {
      if (a.pitches[i] !== b.pitches[i]) return a.pitches[i] - b.pitches[i];
    }
    return 0;
  }
  return (a as DurToken | ShiftToken).steps - (b as DurToken | ShiftToken).steps;
}

/** A human-readable form, e.g. "C4", "[C3 E3 G3]", "dur 2", "wait 4". */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'shift':
      return `wait ${t.steps}`;
    case 'dur':
      return `dur ${t.steps}`;
    case 'event':
      return t.pitches.length === 1 ? pitchName(t.pitches[0]) : `[${t.pitches.map(pitchName).join(' ')}]`;
  }
}
