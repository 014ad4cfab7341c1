/**
 * Quantizing notes to the tokenizer's grid: onsets and durations become whole
 * grid steps (stepsPerBeat per beat).
 */
import type { Note } from '../core/piece';
import { DEFAULT_TOKENIZER_CONFIG, type TokenizerConfig } from './config';

/** A note on the grid: onset and duration in whole grid steps. */
export interface GridNote {
  readonly pitch: number;
  /** Onset, in grid steps from the start. */
  readonly onset: number;
  /** Duration in grid steps (≥ 1). */
  readonly duration: number;
}

/**
 * Quantizes notes to the grid (onset rounded; duration rounded, at least 1 and
 * at most maxDurationSteps). Duplicates are dropped; sorted by onset, duration, pitch.
 */
export function quantizeNotes(notes: readonly Note[], config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG): GridNote[] {
  const out: GridNote[] = [];
  const seen = new Set<string>();
  for (const n of notes) {
    const onset = Math.round(n.start * config.stepsPerBeat);
    const duration = Math.min(config.maxDurationSteps, Math.max(1, Math.round(n.duration * config.stepsPerBeat)));
    const key = `${n.pitch}/${onset}/${duration}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pitch: n.pitch, onset, duration });
  }
  return out.sort((a, b) => a.onset - b.onset || a.duration - b.duration || a.pitch - b.pitch);
}

/** Groups grid notes (sorted by onset) into runs that start on the same step. */
export function groupByOnset(grid: readonly GridNote[]): GridNote[][] {
  const groups: GridNote[][] = [];
  for (const g of grid) {
    const last = groups[groups.length - 1];
    if (last && last[0].onset === g.onset) last.push(g);
    else groups.push([g]);
  }
  return groups;
}
