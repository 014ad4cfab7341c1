/**
 * What a piece keeps as it is written: the meter it opens with, and its band.
 * Real pieces rarely change meter (piano-midi: 0.3 changes per 100 bars) and
 * play with a few instruments from their opening on; a remi model left alone
 * changes meter every few bars and brings in a new instrument every few dozen
 * notes. So, for a remi model:
 * - the first time signature read (the primer's, or the one the model opens
 *   with; MIDI's 4/4 when a note comes first) is the only one it may write
 *   after, unless `meterChanges`;
 * - the piece states its band when it opens, and no other instrument
 *   (General-MIDI program, the drums among them) may enter after, unless
 *   `newInstruments`: the band is the instruments of the primer when it has
 *   any (an opening from a file, or `programs`), closed where the primer
 *   ends; else the instruments the model plays in the first bar where it
 *   plays (within {@link BAND_BARS} bar), closed when that bar ends. Real
 *   songs keep 3–11 instruments for thousands of notes, and a model left to
 *   grow its band for 4 bars played 16–26 of them there (docs/experiments.md).
 * Controls that name a meter or programs (./controls) restrict these further.
 * Other schemes have no meter or instrument tokens, and keep nothing here.
 */
import type { Vocabulary } from '../tokens/vocabulary';
import type { GenerationControls } from './controls';

/** Bars, counted from the first where an instrument plays, in which a band the primer did not state may still grow. */
export const BAND_BARS = 1;

/** Follows the tokens of a piece and says which tokens would break what it keeps. */
export interface Keeper {
  /** Reads the next token of the piece (primer or sampled). */
  readonly read: (id: number) => void;
  /** The tokens that may come next as far as keeping goes (1 = allowed), or null when nothing is kept yet. */
  readonly mask: () => Float32Array | null;
}

/** A keeper for a piece written with `vocab` under `controls` whose first `primerLength` tokens are its primer (see the file comment). */
export function startKeeping(vocab: Vocabulary, controls: GenerationControls, primerLength = 0): Keeper {
  const keepMeter = vocab.config.scheme === 'remi' && controls.meterChanges !== true;
  const keepBand = vocab.config.scheme === 'remi' && controls.newInstruments !== true;
  let meter: number | null = null;
  const commonTime = vocab.tokens.findIndex((t) => t.kind === 'ts' && t.numerator === 4 && t.denominator === 4);
  const band = new Set<number>();
  /** Bars ended since an instrument first played. */
  let bars = 0;
  let read = 0;
  let bandClosed = false;
  let cached: Float32Array | null = null;
  let stale = true;
  return {
    read: (id) => {
      const t = vocab.tokens[id];
      read++;
      if (keepMeter && meter === null && (t.kind === 'ts' || (t.kind === 'event' && commonTime >= 0))) {
        meter = t.kind === 'ts' ? id : commonTime;
        stale = true;
      } else if (t.kind === 'program' && keepBand && !bandClosed) {
        band.add(id);
      } else if (t.kind === 'bar' && keepBand && !bandClosed && band.size > 0 && ++bars >= BAND_BARS) {
        bandClosed = true;
        stale = true;
      }
      // The primer states the band when it names instruments.
      if (read === primerLength && keepBand && !bandClosed && band.size > 0) {
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
