/**
 * A corpus: MIDI loaded from one or more folders (or files) as Pieces, with
 * the files that were skipped and why, and what was dropped from the files
 * that loaded.
 */
import { UserError } from '../core/errors';
import { showPath, type FilePath } from '../core/files';
import type { Piece } from '../core/piece';
import { loadMidiFolder, type LoadReport, type MidiReadOptions } from './read';

/** Several folders loaded as one corpus: what loading each gave ({@link LoadReport}), together. */
export interface Corpus extends LoadReport {
  /** The folders as given (a name that is not UTF-8 shows its bytes as \xNN). */
  readonly folders: readonly string[];
}

/** Loads MIDI from one or more folders (or files); piece names are prefixed by their folder when there are several. */
export function loadCorpus(
  folders: readonly FilePath[],
  options: MidiReadOptions & { readonly maxFiles?: number } = {},
  onFile?: (done: number, total: number, file: string) => void,
): Corpus {
  if (folders.length === 0) throw new UserError('no data folder given');
  const shown = folders.map(showPath);
  const reports: LoadReport[] = folders.map((f) => loadMidiFolder(f, options, onFile));
  const tag = (i: number, name: string): string => (folders.length > 1 ? `${shown[i]}/${name}` : name);
  let pieces = reports.flatMap((r, i) => r.pieces.map((p) => ({ ...p, name: tag(i, p.name) })));
  if (options.maxFiles !== undefined && options.maxFiles > 0) pieces = pieces.slice(0, options.maxFiles);
  const kept = new Set(pieces.map((p) => p.name));
  return {
    folders: shown,
    files: reports.reduce((a, r) => a + r.files, 0),
    passedOver: reports.reduce((a, r) => a + r.passedOver, 0),
    pieces,
    skipped: reports.flatMap((r, i) => r.skipped.map((s) => ({ ...s, file: tag(i, s.file) }))),
    warnings: reports.flatMap((r, i) => r.warnings.map((w) => ({ ...w, file: tag(i, w.file) }))).filter((w) => kept.has(w.file)),
  };
}
