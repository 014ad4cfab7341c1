/**
 * What a piece keeps as it is written: the meter it opens with, and its band.
 * Real pieces rarely change meter (piano-midi: 0.3 changes per 100 bars) and
 * play with a few instruments from their opening on; a remi model left alone
 * changes meter every few bars and brings in a new instrument every few dozen
 * notes. So, for a remi model:
 * - the first time signature read (the primer's, or the one the model opens
 *   with; MIDI's 4/4 when a note comes first) is the only one it may write
 *   after, unless `meterChanges`;
 * - the instruments (General-MIDI programs, the drums among them) read in the
 *   piece's first {@link BAND_BARS} bars are its band, and once those bars
 *   are over no other instrument may enter, unless `newInstruments`.
 * Controls that name a meter or programs (./controls) restrict these further.
 * Other schemes have no meter or instrument tokens, and keep nothing here.
 */
import type { Vocabulary } from '../tokens/vocabulary';
import type { GenerationControls } from './controls';

/** Bars at the start of a piece in which its band may still grow. */
export const BAND_BARS = 4;

/** Follows the tokens of a piece and says which tokens would break what it keeps. */
export interface Keeper {
  /** Reads the next token of the piece (primer or sampled). */
  readonly read: (id: number) => void;
  /** The tokens that may come next as far as keeping goes (1 = allowed), or null when nothing is kept yet. */
  readonly mask: () => Float32Array | null;
}

/** A keeper for a piece written with `vocab` under `controls` (see the file comment). */
export function startKeeping(vocab: Vocabulary, controls: GenerationControls): Keeper {
  const keepMeter = vocab.config.scheme === 'remi' && controls.meterChanges !== true;
  const keepBand = vocab.config.scheme === 'remi' && controls.newInstruments !== true;
  let meter: number | null = null;
  const commonTime = vocab.tokens.findIndex((t) => t.kind === 'ts' && t.numerator === 4 && t.denominator === 4);
  const band = new Set<number>();
  let bars = 0;
  let bandClosed = false;
  let cached: Float32Array | null = null;
  let stale = true;
  return {
    read: (id) => {
      const t = vocab.tokens[id];
      if (keepMeter && meter === null && (t.kind === 'ts' || (t.kind === 'event' && commonTime >= 0))) {
        meter = t.kind === 'ts' ? id : commonTime;
        stale = true;
      } else if (t.kind === 'program' && keepBand && !bandClosed) {
        band.add(id);
      } else if (t.kind === 'bar' && keepBand && ++bars > BAND_BARS && !bandClosed && band.size > 0) {
        bandClosed = true;
        stale = true;
      }
    },
    mask: () => {
      if (!stale) return cached;
      stale = false;
      if (meter === null && !bandClosed) return (cached = null);
      cached = Float32Array.from(vocab.tokens, (t, id) => {
        if (t.kind === 'ts') return meter === null || id === meter ? 1 : 0;
        if (t.kind === 'program') return !bandClosed || band.has(id) ? 1 : 0;
        return 1;
      });
      return cached;
    },
  };
}
