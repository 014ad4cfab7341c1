/**
 * Where a piece from a saved model starts, whatever its tokens: a remi model
 * starts from nothing but the controls (the meter, tempo and instrument it
 * opens with and keeps); any other model continues an excerpt of the tunes in
 * the data folders, with no controls (they could only relabel the excerpt's
 * meter and tempo, which that model cannot be steered to keep).
 */
import { createRng } from '../core/rng';
import { loadCorpus } from '../midi/corpus';
import type { Vocabulary } from '../tokens/vocabulary';
import { controlsPrimer, type GenerationControls } from './controls';
import { DEFAULT_PRIMER_LENGTH, primerFromPieces, type Primer } from './primer';

/** A primer and the controls that go with it. */
export interface Opening {
  readonly primer: Primer;
  readonly controls: GenerationControls;
}

/**
 * The opening for a model of `vocab` (see the file comment). The excerpt of
 * `dataFolders` is chosen with `seed`; a folder without usable MIDI files is
 * a one-line error.
 */
export function openingFor(
  vocab: Vocabulary,
  controls: GenerationControls,
  dataFolders: readonly string[],
  seed: number,
  primerLength = DEFAULT_PRIMER_LENGTH,
): Opening {
  if (vocab.config.scheme === 'remi') return { primer: controlsPrimer(vocab, controls), controls };
  const pieces = loadCorpus(dataFolders).pieces;
  if (pieces.length === 0) throw new RangeError(`no MIDI files to take an opening from in ${dataFolders.join(', ')}`);
  return { primer: primerFromPieces(pieces, vocab, primerLength, createRng(seed)), controls: {} };
}
