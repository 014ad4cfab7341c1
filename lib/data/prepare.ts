/**
 * The stages wired together for the CLI and the notebook: load folders of
 * MIDI, build the vocabulary, encode and split, build a model, and prepare a
 * training run. Each stage stays callable on its own.
 */
import type { TrainConfig } from '../train/config';
import { encodePieces, splitByFile, windowIndex, type DatasetConfig, type EncodedPiece } from './dataset';
import { UserError } from '../core/errors';
import { loadMidiFolder, type LoadReport, type MidiReadOptions, type SkippedFile } from '../midi/read';
import { buildModel, DEFAULT_MODEL_CONFIG, type ModelConfig, type MusicModel } from '../model/network';
import type { Piece } from '../core/piece';
import type { ModelInfo } from '../train/model-folder';
import { countEvents } from '../tokens/scheme';
import { pieceToTokens } from '../tokens/tokenize';
import { type TokenizerConfig } from '../tokens/config';
import { buildVocabulary, type Vocabulary } from '../tokens/vocabulary';
import type { Corpus } from '../midi/corpus';

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
