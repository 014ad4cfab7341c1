/**
 * What `train` trains on: a prepared folder given as `--data`, or MIDI
 * folders through the cache of prepared corpora (./prepared.ts), or, when the
 * cache cannot serve the run (`--max-files`, a vocabulary of its own that is
 * not the corpus's, `MUSICGEN_CACHE=off`), the MIDI loaded in memory as
 * before. From a prepared corpus the token family streams its windows from
 * the shards; the note family and `--carry-state` read its pieces into memory.
 */
import { UserError } from '../core/errors';
import { showPath, type FilePath } from '../core/files';
import type { DatasetConfig, EncodedPiece } from '../data/dataset';
import { piecesInMemory, sameIds, type PreparedFolder } from '../data/prepared-data';
import { pitchedIds, streamPieces } from '../data/stream-windows';
import type { MidiReadOptions } from '../midi/read';
import type { TokenizerConfig } from '../tokens/config';
import type { Vocabulary } from '../tokens/vocabulary';
import type { StreamedData } from '../train/batching';
import { encodeCorpusStoppable, prepareDataStoppable } from './offload';
import { logPreparedReport, preparedFor, splitPrepared } from './prepared';
import { argPath } from './paths';
import { startBar } from './progress';
import { logLoadReport, type Io } from './shared';

/** The data of a run. */
export interface TrainingData {
  readonly vocab: Vocabulary;
  /** The pieces in memory (empty when streamed). */
  readonly train: EncodedPiece[];
  readonly val: EncodedPiece[];
  readonly streamed?: StreamedData;
  readonly trainFiles: number;
  readonly valFiles: number;
  readonly trainTokens: number;
  /** Closes the shards (when streamed). */
  readonly close: () => void;
}

/** What a run asks of its data. */
export interface DataRequest {
  readonly paths: readonly string[];
  /** The folders as the user gave them (piece names are prefixed by them when there are several). */
  readonly shown: readonly string[];
  readonly midi: MidiReadOptions;
  readonly maxFiles: number | undefined;
  readonly tokenizer: TokenizerConfig;
  /** Whether tokenizer flags were given (a prepared folder made with other settings is then refused). */
  readonly tokenizerGiven: boolean;
  readonly dataset: DatasetConfig;
  /** The vocabulary the run must use (resuming, fine-tuning), if any. */
  readonly given: Vocabulary | undefined;
  readonly streamable: boolean;
}

/** Loads the data of a run (see the file comment). */
export async function loadTrainingData(io: Io, r: DataRequest): Promise<TrainingData> {
  const { valFraction, seed } = r.dataset;
  // A capped run builds its vocabulary from the files it keeps, as it always has: the cache holds the whole corpus's.
  const cache = r.maxFiles !== undefined ? 'off' : r.given !== undefined ? 'if-ready' : 'make';
  let found = await preparedFor(io, r.paths.map(argPath), r.tokenizer, r.midi, { valFraction, seed }, cache);
  if (found && !found.cached && r.tokenizerGiven && JSON.stringify(found.prep.vocab.config) !== JSON.stringify(r.tokenizer)) {
    found.prep.reader.close();
    throw new UserError(
      `${r.shown[0]} was prepared with other tokenizer settings (${found.prep.vocab.config.scheme}): leave out the tokenizer flags, or prepare it again with them`,
    );
  }
  if (found?.cached && r.given && !sameIds(r.given, found.prep.vocab)) {
    found.prep.reader.close();
    found = null;
  }
  if (found) return fromPrepared(io, found.prep, found.cached ? r.shown : null, r, found.notes);
  const bar = startBar('load ', 1, io.quiet);
  const { corpus, data } = await prepareDataStoppable(
    io,
    r.paths,
    { ...r.midi, maxFiles: r.maxFiles },
    r.tokenizer,
    r.dataset,
    r.given,
    (d, t) => {
      bar.setTotal(t);
      bar.update(d);
    },
  ).finally(() => bar.stop());
  logLoadReport(io, corpus, false);
  return {
    ...data,
    trainFiles: data.train.length,
    valFiles: data.val.length,
    trainTokens: data.train.reduce((s, p) => s + p.ids.length, 0),
    close: () => undefined,
  };
}

/** The run's data from a prepared folder: streamed when the run can be, else in memory. */
function fromPrepared(
  io: Io,
  prep: PreparedFolder,
  folders: readonly string[] | null,
  r: DataRequest,
  notes: readonly string[],
): TrainingData {
  const split = splitPrepared(prep, folders, r.dataset.valFraction, r.dataset.seed, r.maxFiles);
  const lengths = prep.manifest.pieces.map((p) => p.length);
  const longest = Math.max(0, ...split.train.map((i) => lengths[i]), ...split.val.map((i) => lengths[i]));
  const { seqLen } = r.dataset;
  if (seqLen + 1 > longest) {
    prep.reader.close();
    throw new UserError(`seqLen ${seqLen} is larger than any piece: the longest has ${longest} tokens (use --seq-len ≤ ${longest - 1})`);
  }
  for (const n of notes) io.log(n);
  logPreparedReport(io, prep.manifest);
  const vocab = r.given ?? prep.vocab;
  const counts = {
    vocab,
    trainFiles: split.train.length,
    valFiles: split.val.length,
    trainTokens: split.train.reduce((s, i) => s + lengths[i], 0),
  };
  if (r.streamable && sameIds(vocab, prep.vocab)) {
    io.log(`streaming the training windows from ${showPath(prep.dir)}`);
    return {
      ...counts,
      train: [],
      val: [],
      streamed: { train: streamPieces(prep.reader, split.train), val: streamPieces(prep.reader, split.val), pitched: pitchedIds(vocab) },
      close: () => prep.reader.close(),
    };
  }
  try {
    const train = piecesInMemory(
      prep,
      split.train,
      split.train.map((i) => split.names[i]),
      vocab,
    );
    const val = piecesInMemory(
      prep,
      split.val,
      split.val.map((i) => split.names[i]),
      vocab,
    );
    return { ...counts, train, val, trainTokens: train.reduce((s, p) => s + p.ids.length, 0), close: () => undefined };
  } finally {
    prep.reader.close();
  }
}

/**
 * Folders' pieces encoded with a model's vocabulary, for `evaluate`: from a
 * prepared folder, or from the cache when it holds these folders (it is not
 * made here), else loaded from MIDI; what was skipped is printed, warnings
 * listed one a line when `listWarnings`.
 */
export async function loadEncoded(
  io: Io,
  folders: readonly string[],
  vocab: Vocabulary,
  maxFiles: number | undefined,
  listWarnings: boolean,
): Promise<{ readonly loaded: number; readonly encoded: EncodedPiece[] }> {
  const split = { valFraction: 0, seed: 0 };
  const found = await preparedFor(
    io,
    folders.map(argPath),
    vocab.config,
    {},
    split,
    maxFiles !== undefined || listWarnings ? 'off' : 'if-ready',
  );
  if (!found) {
    const { corpus, encoded } = await encodeCorpusStoppable(io, folders, { maxFiles }, vocab);
    logLoadReport(io, corpus, listWarnings);
    return { loaded: corpus.loaded, encoded };
  }
  try {
    for (const n of found.notes) io.log(n);
    logPreparedReport(io, found.prep.manifest);
    const { names } = splitPrepared(found.prep, found.cached ? folders : null, 0, 0, maxFiles);
    const all = names.map((_, i) => i);
    return { loaded: names.length, encoded: piecesInMemory(found.prep, all, names, vocab) };
  } finally {
    found.prep.reader.close();
  }
}
