/**
 * A corpus: MIDI loaded from one or more folders (or files) as Pieces, with
 * the files that were skipped and why.
 */
import { UserError } from '../core/errors';
import type { Piece } from '../core/piece';
import { loadMidiFolder, type LoadReport, type MidiReadOptions, type SkippedFile } from './read';

/** Several folders loaded as one corpus. */
export interface Corpus {
  readonly folders: readonly string[];
  readonly files: number;
  readonly pieces: readonly Piece[];
  readonly skipped: readonly SkippedFile[];
}

/** Loads MIDI from one or more folders (or files); piece names are prefixed by their folder when there are several. */
export function loadCorpus(
  folders: readonly string[],
  options: MidiReadOptions & { readonly maxFiles?: number } = {},
  onFile?: (done: number, total: number, file: string) => void,
): Corpus {
  if (folders.length === 0) throw new UserError('no data folder given');
  const reports: LoadReport[] = folders.map((f) => loadMidiFolder(f, options, onFile));
  const tag = (folder: string, name: string): string => (folders.length > 1 ? `${folder}/${name}` : name);
  let pieces = reports.flatMap((r, i) => r.pieces.map((p) => ({ ...p, name: tag(folders[i], p.name) })));
  if (options.maxFiles !== undefined && options.maxFiles > 0) pieces = pieces.slice(0, options.maxFiles);
  return {
    folders,
    files: reports.reduce((a, r) => a + r.files, 0),
    pieces,
    skipped: reports.flatMap((r, i) => r.skipped.map((s) => ({ ...s, file: tag(folders[i], s.file) }))),
  };
}
