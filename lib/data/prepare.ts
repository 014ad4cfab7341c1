/**
 * Preparing a corpus for training: the vocabulary (built from the data, or a
 * saved one when resuming), every piece encoded, split into training and
 * validation by file; and the corpus's counts under a tokenizer.
 */
import { UserError } from '../core/errors';
import type { Piece } from '../core/piece';
import type { Corpus } from '../midi/corpus';
import type { SkippedFile } from '../midi/read';
import type { TokenizerConfig } from '../tokens/config';
import { countEvents } from '../tokens/scheme';
import { pieceToTokens } from '../tokens/tokenize';
import { buildVocabulary, type Vocabulary } from '../tokens/vocabulary';
import { encodePieces, splitByFile, windowIndex, type DatasetConfig, type EncodedPiece } from './dataset';

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
