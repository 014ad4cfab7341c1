/**
 * Piece ↔ token sequences.
 *
 * Two schemes:
 * - `timed` (default), "notes and their timings": notes are quantized to a grid
 *   (default a sixteenth note, 4 steps per beat); notes that start together and
 *   last equally long form one event (a note or a chord), followed by its
 *   duration; the time between onsets is a shift token. Decoding reproduces
 *   pitch, onset and duration on the grid exactly.
 * - `classic`: the classic timing-free note/chord vocabulary — every onset is
 *   one event holding all pitches that start there; decoding places events a
 *   fixed step apart with a fixed duration.
 */
import { makePiece, type Note, type Piece } from './music';
import type { EventToken, Token } from './tokens';
import { checkInt, checkNumber } from './validate';

/** Tokenizer settings; saved with the model. */
export interface TokenizerConfig {
  readonly scheme: 'timed' | 'classic';
  /** Grid resolution in steps per beat (4 = sixteenth notes). */
  readonly stepsPerBeat: number;
  /** Longest single shift token in steps; longer gaps use several. */
  readonly maxShiftSteps: number;
  /** Durations longer than this many steps are clamped to it. */
  readonly maxDurationSteps: number;
  /** Classic scheme: beats between decoded events and their duration. */
  readonly classicStepBeats: number;
  /** Velocity given to decoded notes. */
  readonly velocity: number;
}

export const DEFAULT_TOKENIZER_CONFIG: TokenizerConfig = {
  scheme: 'timed',
  stepsPerBeat: 4,
  maxShiftSteps: 16,
  maxDurationSteps: 64,
  classicStepBeats: 0.5,
  velocity: 90,
};

/** Checks a tokenizer config; throws naming the bad parameter and the allowed range. */
export function validateTokenizerConfig(c: TokenizerConfig): TokenizerConfig {
  if (c.scheme !== 'timed' && c.scheme !== 'classic') {
    throw new RangeError(`scheme must be "timed" or "classic" (got ${String(c.scheme)})`);
  }
  checkInt('stepsPerBeat', c.stepsPerBeat, 1, 48);
  checkInt('maxShiftSteps', c.maxShiftSteps, 1, 1024);
  checkInt('maxDurationSteps', c.maxDurationSteps, 1, 4096);
  checkInt('velocity', c.velocity, 1, 127);
  checkNumber('classicStepBeats', c.classicStepBeats, (v) => v > 0 && v <= 16, 'in (0, 16]');
  return c;
}

/** A note on the grid: integer step onset and duration. */
export interface GridNote {
  readonly pitch: number;
  readonly step: number;
  readonly steps: number;
}

/** Quantizes notes to the grid (onset rounded, duration rounded, at least 1 and at most maxDurationSteps). */
export function quantizeNotes(notes: readonly Note[], config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG): GridNote[] {
  const out: GridNote[] = [];
  const seen = new Set<string>();
  for (const n of notes) {
    const step = Math.round(n.start * config.stepsPerBeat);
    const steps = Math.min(config.maxDurationSteps, Math.max(1, Math.round(n.duration * config.stepsPerBeat)));
    const key = `${n.pitch}/${step}/${steps}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pitch: n.pitch, step, steps });
  }
  return out.sort((a, b) => a.step - b.step || a.steps - b.steps || a.pitch - b.pitch);
}

/** Converts a piece to tokens under the given scheme. */
export function pieceToTokens(piece: Piece, config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG): Token[] {
  const grid = quantizeNotes(piece.notes, config);
  const tokens: Token[] = [];
  let i = 0;
  let now = 0;
  while (i < grid.length) {
    const step = grid[i].step;
    let j = i;
    while (j < grid.length && grid[j].step === step) j++;
    const atOnset = grid.slice(i, j);
    if (config.scheme === 'classic') {
      const pitches = [...new Set(atOnset.map((g) => g.pitch))].sort((a, b) => a - b);
      tokens.push({ kind: 'event', pitches });
    } else {
      pushShift(tokens, step - now, config.maxShiftSteps);
      now = step;
      // Group by duration; within an onset, events go lowest pitch first.
      const byDur = new Map<number, number[]>();
      for (const g of atOnset) byDur.set(g.steps, [...(byDur.get(g.steps) ?? []), g.pitch]);
      const groups = [...byDur.entries()].map(([steps, ps]) => ({ steps, pitches: [...new Set(ps)].sort((a, b) => a - b) }));
      groups.sort((a, b) => a.pitches[0] - b.pitches[0] || a.steps - b.steps);
      for (const g of groups) {
        tokens.push({ kind: 'event', pitches: g.pitches });
        tokens.push({ kind: 'dur', steps: g.steps });
      }
    }
    i = j;
  }
  return tokens;
}

function pushShift(tokens: Token[], steps: number, max: number): void {
  let left = steps;
  while (left > 0) {
    const s = Math.min(max, left);
    tokens.push({ kind: 'shift', steps: s });
    left -= s;
  }
}

/** Options for decoding tokens into a piece. */
export interface DecodeOptions {
  readonly name?: string;
  readonly bpm?: number;
  readonly program?: number;
  readonly timeSignature?: readonly [number, number];
}

/**
 * Converts tokens back to a piece. Tolerant of ill-formed sequences (as a
 * model may write): an event without a following duration lasts one beat, and
 * a duration without an event is ignored.
 */
export function tokensToPiece(
  tokens: readonly Token[],
  config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG,
  options: DecodeOptions = {},
): Piece {
  const notes: Note[] = [];
  const spb = config.stepsPerBeat;
  const emit = (ev: EventToken, startStep: number, steps: number): void => {
    for (const pitch of ev.pitches) {
      notes.push({ pitch, start: startStep / spb, duration: steps / spb, velocity: config.velocity });
    }
  };
  if (config.scheme === 'classic') {
    const stepBeats = config.classicStepBeats;
    let k = 0;
    for (const t of tokens) {
      if (t.kind !== 'event') continue;
      for (const pitch of t.pitches) {
        notes.push({ pitch, start: k * stepBeats, duration: stepBeats, velocity: config.velocity });
      }
      k++;
    }
  } else {
    let now = 0;
    let pending: EventToken | null = null;
    for (const t of tokens) {
      if (t.kind === 'dur') {
        if (pending) emit(pending, now, t.steps);
        pending = null;
        continue;
      }
      if (pending) emit(pending, now, spb);
      pending = null;
      if (t.kind === 'shift') now += t.steps;
      else pending = t;
    }
    if (pending) emit(pending, now, spb);
  }
  const ts = options.timeSignature ?? [4, 4];
  return makePiece(options.name ?? 'generated', notes, {
    tempos: [{ beat: 0, bpm: options.bpm ?? 120 }],
    timeSignatures: [{ beat: 0, numerator: ts[0], denominator: ts[1] }],
    program: options.program ?? 0,
  });
}

/** Number of musical events (notes or chords) in a token sequence. */
export function countEvents(tokens: readonly Token[]): number {
  let n = 0;
  for (const t of tokens) if (t.kind === 'event') n++;
  return n;
}
