/**
 * The `timed` scheme, "notes and their timings": notes are
 * quantized to a grid (default a sixteenth note, 4 steps per beat); notes that
 * start together and last equally long form one event (a note or a chord),
 * followed by its duration; the time between onsets is one or more shift
 * tokens. Decoding reproduces pitch, onset and duration on the grid exactly,
 * except that a silence longer than maxSilenceBeats is shortened by whole
 * beats (so one file costs at most a few tokens per note, whatever its gaps).
 */
import type { Note, Piece } from '../core/piece';
import type { TokenizerConfig } from './config';
import { groupByOnset, quantizeNotes } from './grid';
import { decodedPiece, type DecodeOptions, type TokenScheme } from './scheme';
import type { EventToken, Token } from './token';

function encode(piece: Piece, config: TokenizerConfig): Token[] {
  const tokens: Token[] = [];
  const spb = config.stepsPerBeat;
  const maxGap = config.maxSilenceBeats * spb;
  let now = 0;
  for (const atOnset of groupByOnset(quantizeNotes(piece.notes, config))) {
    const gap = atOnset[0].onset - now;
    // A long silence loses whole beats, so the onset keeps its place in the beat.
    pushShift(tokens, gap > maxGap ? gap - Math.ceil((gap - maxGap) / spb) * spb : gap, config.maxShiftSteps);
    now = atOnset[0].onset;
    // Group by duration; within an onset, events go lowest pitch first.
    const byDur = new Map<number, number[]>();
    for (const g of atOnset) byDur.set(g.duration, [...(byDur.get(g.duration) ?? []), g.pitch]);
    const groups = [...byDur.entries()].map(([steps, ps]) => ({ steps, pitches: [...new Set(ps)].sort((a, b) => a - b) }));
    groups.sort((a, b) => a.pitches[0] - b.pitches[0] || a.steps - b.steps);
    for (const g of groups) {
      tokens.push({ kind: 'event', pitches: g.pitches });
      tokens.push({ kind: 'dur', steps: g.steps });
    }
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

/** An event without a following duration lasts one beat; a duration without an event is ignored. */
function decode(tokens: readonly Token[], config: TokenizerConfig, options: DecodeOptions): Piece {
  const notes: Note[] = [];
  const spb = config.stepsPerBeat;
  const emit = (ev: EventToken, startStep: number, steps: number): void => {
    for (const pitch of ev.pitches) notes.push({ pitch, start: startStep / spb, duration: steps / spb, velocity: config.velocity });
  };
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
    else if (t.kind === 'event') pending = t;
  }
  if (pending) emit(pending, now, spb);
  return decodedPiece(notes, options);
}

export const timedScheme: TokenScheme = {
  name: 'timed',
  encode,
  decode,
  // An event is always followed by its duration; a duration or shift by an event or a shift.
  mayFollow: (prev, next) => (prev.kind === 'event' ? next.kind === 'dur' : next.kind !== 'dur'),
  canStartAt: (t) => t.kind === 'shift',
  excerpt: (tokens, from, to) => tokens.slice(from, to),
  needsMore: (t) => t.kind === 'event',
  beatsAfter: (tokens, config) => {
    let steps = 0;
    for (const t of tokens) if (t.kind === 'shift') steps += t.steps;
    return steps / config.stepsPerBeat;
  },
};
