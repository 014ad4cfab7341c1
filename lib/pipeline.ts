/**
 * The stages wired together for the CLI and the notebook: load folders of
 * MIDI, build the vocabulary, encode and split, build a model, and prepare a
 * training run. Each stage stays callable on its own.
 */
import type { TrainConfig } from './config';
import { encodePieces, splitByFile, windowIndex, type DatasetConfig, type EncodedPiece } from './dataset';
import { UserError } from './fsutil';
import { loadMidiFolder, type LoadReport, type MidiReadOptions, type SkippedFile } from './midi';
import { buildModel, DEFAULT_MODEL_CONFIG, type ModelConfig, type MusicModel } from './model';
import type { Piece } from './music';
import type { ModelInfo } from './store';
import { countEvents, pieceToTokens, type TokenizerConfig } from './tokenize';
import { buildVocabulary, type Vocabulary } from './vocab';

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

/** Counts for a loaded corpus under a tokenizer. */
export interface CorpusStats {
  readonly files: number;
  readonly loaded: number;
  readonly skipped: readonly SkippedFile[];
  readonly notes: number;
  readonly events: number;
  readonly tokens: number;
  readonly vocabSize: number;
}

/** Summarizes a corpus (notes, events, tokens, vocabulary size). */
export function corpusStats(corpus: Corpus, tokenizer: TokenizerConfig): CorpusStats {
  let events = 0;
  let tokens = 0;
  for (const p of corpus.pieces) {
    const t = pieceToTokens(p, tokenizer);
    events += countEvents(t);
    tokens += t.length;
  }
  return {
    files: corpus.files,
    loaded: corpus.pieces.length,
    skipped: corpus.skipped,
    notes: corpus.pieces.reduce((a, p) => a + p.notes.length, 0),
    events,
    tokens,
    vocabSize: buildVocabulary(corpus.pieces, tokenizer).tokens.length,
  };
}

/** Encoded, split data ready for training. */
export interface PreparedData {
  readonly vocab: Vocabulary;
  readonly train: EncodedPiece[];
  readonly val: EncodedPiece[];
}

/**
 * Builds the vocabulary from all pieces (or uses the given one, when
 * resuming), encodes and splits by file. Fails with a clear message when
 * seqLen is longer than every piece.
 */
export function prepareData(pieces: readonly Piece[], tokenizer: TokenizerConfig, dataset: DatasetConfig, vocab?: Vocabulary): PreparedData {
  if (pieces.length === 0) throw new UserError('no usable MIDI files in the data');
  const v = vocab ?? buildVocabulary(pieces, tokenizer);
  const encoded = encodePieces(v, pieces);
  const longest = Math.max(...encoded.map((p) => p.ids.length));
  if (dataset.seqLen + 1 > longest) {
    throw new UserError(`seqLen ${dataset.seqLen} is larger than any piece: the longest has ${longest} tokens (use --seq-len ≤ ${longest - 1})`);
  }
  const { train, val } = splitByFile(encoded, dataset.valFraction, dataset.seed);
  if (windowIndex(train, dataset.seqLen, dataset.stride).length === 0) {
    throw new UserError(`seqLen ${dataset.seqLen} is longer than every training piece`);
  }
  return { vocab: v, train, val };
}

/** A fresh model sized for the vocabulary. */
export function newModel(vocab: Vocabulary, config: Partial<ModelConfig> = {}): MusicModel {
  return buildModel({ ...DEFAULT_MODEL_CONFIG, ...config, vocabSize: vocab.tokens.length });
}

/** The config.json contents for a run. */
export function modelInfo(model: MusicModel, data: PreparedData, dataset: DatasetConfig, training: TrainConfig, backend: string, folders: readonly string[]): ModelInfo {
  return {
    format: 'musicgen-model/1',
    model: model.config,
    dataset,
    training,
    backend,
    data: {
      folders,
      trainFiles: data.train.length,
      valFiles: data.val.length,
      trainTokens: data.train.reduce((a, p) => a + p.ids.length, 0),
    },
  };
}
