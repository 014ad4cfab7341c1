/**
 * The sustain pedal (controller 64): which notes it lengthens, and to where.
 */
import type { SmfNote, SmfPedal } from './smf-track';

/** The General-MIDI drum channel (channel 10, 0-based 9). */
export const DRUM_CHANNEL = 9;

/**
 * End ticks of the notes the sustain pedal lengthens: a note whose release
 * falls while its channel's pedal is down ends when the pedal comes up (or at
 * the last pedal event when it never does), capped at the next onset of the
 * same pitch on that channel. Drum notes are left alone.
 */
export function sustainedEnds(notes: readonly SmfNote[], pedals: readonly SmfPedal[]): Map<SmfNote, number> {
  const out = new Map<SmfNote, number>();
  if (pedals.length === 0) return out;
  // Per channel: sorted [down, up) intervals.
  const intervals: [number, number][][] = Array.from({ length: 16 }, () => []);
  const byChannel: SmfPedal[][] = Array.from({ length: 16 }, () => []);
  for (const p of pedals) byChannel[p.channel].push(p);
  byChannel.forEach((events, ch) => {
    const sorted = [...events].sort((a, b) => a.tick - b.tick);
    let downAt = -1;
    for (const e of sorted) {
      if (e.down && downAt < 0) downAt = e.tick;
      else if (!e.down && downAt >= 0) {
        if (e.tick > downAt) intervals[ch].push([downAt, e.tick]);
        downAt = -1;
      }
    }
    const last = sorted[sorted.length - 1];
    if (downAt >= 0 && last && last.tick > downAt) intervals[ch].push([downAt, last.tick]);
  });
  // Next onset of the same channel and pitch, for the cap.
  const onsets = new Map<number, number[]>();
  for (const n of notes) {
    const key = n.channel * 128 + n.pitch;
    const list = onsets.get(key);
    if (list) list.push(n.startTick);
    else onsets.set(key, [n.startTick]);
  }
  for (const list of onsets.values()) list.sort((a, b) => a - b);
  for (const n of notes) {
    if (n.channel === DRUM_CHANNEL || n.durationTicks <= 0) continue;
    const release = n.startTick + n.durationTicks;
    const iv = findInterval(intervals[n.channel], release);
    if (!iv) continue;
    const next = firstAfter(onsets.get(n.channel * 128 + n.pitch) ?? [], n.startTick);
    const end = Math.min(iv[1], next ?? Infinity);
    if (end > release) out.set(n, end);
  }
  return out;
}

/** The interval [down, up) of sorted, disjoint intervals that contains `tick`. */
function findInterval(ivs: readonly [number, number][], tick: number): [number, number] | undefined {
  let lo = 0;
  let hi = ivs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ivs[mid][1] <= tick) lo = mid + 1;
    else if (ivs[mid][0] > tick) hi = mid - 1;
    else return ivs[mid];
  }
  return undefined;
}

/** The first value of a sorted list greater than `x`. */
function firstAfter(sorted: readonly number[], x: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo];
}
