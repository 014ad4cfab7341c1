/**
 * Evaluation: how well the model predicts held-out music (NLL per token and
 * perplexity, next to an interpolated Kneser-Ney n-gram baseline trained on
 * the same training tokens), and whether what it writes resembles the data
 * (musical statistics of generated pieces vs the training pieces, and the
 * longest verbatim copy of training tokens).
 */
import { buildCopyIndex, type CopyMatch } from './copying';
import type { EncodedPiece } from '../data/dataset';
import { generateMusicAsync } from '../generate/generate';
import { DEFAULT_PRIMER_LENGTH, excerptPrimer } from '../generate/primer';
import { resolveSampling, type SamplingConfig } from '../generate/sample';
import type { GenerationSettings } from '../generate/settings';
import { musicStats, noteExcerpts, type MusicStats } from './metrics';
import { chanceSpread, DEFAULT_CHANCE_OPTIONS, type ChanceSpread } from './chance';
import { DEFAULT_TWO_SAMPLE_OPTIONS, twoSampleTest, type TwoSampleTest } from './two-sample';
import type { Piece } from '../core/piece';
import { DEFAULT_NGRAM_ORDER, evaluateNllAsync, trainNgramAsync } from './ngram';
import { createRng, deriveSeed } from '../core/rng';
import { DEFAULT_SCORE_OPTIONS, scorePieces } from './score';
import { scoreNotePieces } from './note-score';
import { countNotes } from '../tokens/scheme';
import { schemeOf, tokensToPiece } from '../tokens/tokenize';
import { decodeIds, type Vocabulary } from '../tokens/vocabulary';
import type { MusicModel } from '../model/network';
import { NonFiniteOutput } from '../model/inference';
import { UserError } from '../core/errors';
import { runStepsStoppable, turnAndCheck } from '../core/steps';

/** Evaluation settings. */
export interface EvaluateOptions {
  /** Generated pieces to compare with the data (0 = skip). */
  readonly samples: number;
  /** How to generate them (sampling, controls, and the run: length in events, seed, context). */
  readonly generate: GenerationSettings;
  /** Tokens of each sample's primer, an excerpt of the training data. */
  readonly primerLength: number;
  /** Order of the n-gram baseline. */
  readonly ngramOrder: number;
}

export const DEFAULT_EVALUATE_OPTIONS: Omit<EvaluateOptions, 'generate'> = {
  samples: 8,
  primerLength: DEFAULT_PRIMER_LENGTH,
  ngramOrder: DEFAULT_NGRAM_ORDER,
};

/** The figures `musicgen evaluate --json` prints. */
export interface Evaluation {
  /** Held-out files evaluated. */
  readonly files: number;
  /** Predicted tokens (all but the first of each file). */
  readonly tokens: number;
  /** Model NLL in nats per token, and its perplexity. */
  readonly nll: number;
  readonly perplexity: number;
  /** The n-gram baseline on the same tokens. */
  readonly baselineNll: number;
  readonly baselinePerplexity: number;
  readonly baselineOrder: number;
  /** (baselineNll − nll) / baselineNll: how much better than the baseline (0.15 = 15 % lower NLL). */
  readonly nllImprovement: number;
  /** Notes and beats in the held-out files (for measures that compare across schemes, whose tokens per note differ). */
  readonly notes: number;
  readonly beats: number;
  /** Model NLL in nats per note and per beat: the total NLL of the held-out tokens over their notes or beats. */
  readonly nllPerNote: number;
  readonly nllPerBeat: number;
  /** The n-gram baseline's NLL per note. */
  readonly baselineNllPerNote: number;
  /** Statistics of the generated pieces (their new notes) and of the whole training pieces. */
  readonly generated: MusicStats | null;
  readonly data: MusicStats;
  /**
   * Statistics of one excerpt per training piece of as many consecutive notes
   * as a generated sample has on average ({@link excerptNotes}): the like-for-like
   * comparison for the samples, since some statistics (velocity spread, pitch
   * range) grow with a piece's length. Null without samples.
   */
  readonly dataExcerpts: MusicStats | null;
  readonly excerptNotes: number | null;
  /**
   * How far as many random data excerpts as there are samples stray from
   * {@link dataExcerpts} by chance alone (see ./chance): a sample statistic's
   * difference within this spread is not evidence against the model. Null
   * without samples.
   */
  readonly chance: ChanceSpread | null;
  /**
   * Whether a classifier tells the samples from the data excerpts (see
   * ./two-sample): its cross-validated accuracy, 0.5 = it cannot, next to the
   * same for data against data. Null without at least two samples.
   */
  readonly twoSample: TwoSampleTest | null;
  /** Longest run of generated tokens found verbatim in the training data (max over samples). */
  readonly longestCopy: number;
  readonly longestCopyDetail: CopyMatch | null;
  /** The sampling settings the samples are drawn with (the top-p, where none was asked, the model's scheme's). */
  readonly sampling: SamplingConfig;
  /** The longest copy of each generated sample, in sample order (its maximum is `longestCopy`). */
  readonly sampleCopies: readonly number[];
  /**
   * For scale: the same measure for the held-out files, each cut to the
   * generated samples' mean length in tokens (median over files). Real tunes
   * the model never saw share this much with the training data too.
   */
  readonly heldOutCopyMedian: number | null;
}

/** Progress: a stage name and its fraction done. */
export type EvaluateProgress = (stage: string, done: number, total: number) => void;

/**
 * Evaluates a model on held-out pieces (already encoded with its vocabulary),
 * given its training pieces, encoded the same way (for the baseline, the data
 * statistics and the copy check). Lets the event loop turn between batches,
 * samples and stages, and about every 50 ms while it fits and scores the
 * baseline and decodes the data; returns null once `shouldStop()` is true
 * after a turn. Throws a
 * {@link NonFiniteOutput} when the model's NLL is not finite (damaged weights).
 */
export async function evaluateModel(
  model: MusicModel,
  vocab: Vocabulary,
  heldOut: readonly EncodedPiece[],
  training: readonly EncodedPiece[],
  options: EvaluateOptions,
  onProgress?: EvaluateProgress,
  shouldStop: () => boolean = () => false,
): Promise<Evaluation | null> {
  const sampling = resolveSampling(options.generate.sampling, vocab.config.scheme);
  const usable = heldOut.filter((p) => p.ids.length >= 2);
  if (usable.length === 0) throw new UserError('nothing to score: every held-out piece has fewer than 2 tokens');
  const scores = await scoreStoppable(
    model,
    vocab,
    usable.map((p) => p.ids),
    (d, t) => onProgress?.('model', d, t),
    shouldStop,
  );
  if (!scores) return null;
  let nllSum = 0;
  let tokens = 0;
  for (const lp of scores) {
    for (const v of lp) nllSum -= v;
    tokens += lp.length;
  }
  const nll = nllSum / tokens;
  if (!Number.isFinite(nll)) throw new NonFiniteOutput(`scoring: the NLL of the held-out tokens is not finite (${nll})`);
  const scheme = schemeOf(vocab.config);
  let notes = 0;
  let beats = 0;
  for (const p of usable) {
    const t = decodeIds(vocab, p.ids);
    notes += countNotes(t);
    beats += scheme.beatsAfter(t, vocab.config);
  }
  onProgress?.('baseline', 0, 1);
  const ngram = await trainNgramAsync(
    training.map((p) => p.ids),
    { order: options.ngramOrder, vocabSize: vocab.tokens.length },
    shouldStop,
  );
  const base =
    ngram &&
    (await evaluateNllAsync(
      ngram,
      usable.map((p) => p.ids),
      shouldStop,
    ));
  if (!base) return null;
  onProgress?.('baseline', 1, 1);
  const generatedPieces: Piece[] = [];
  let copy: CopyMatch | null = null;
  let heldOutCopyMedian: number | null = null;
  const sampleCopies: number[] = [];
  if (options.samples > 0 && training.length > 0) {
    if (await turnAndCheck(shouldStop)) return null;
    const index = buildCopyIndex(training.map((p) => p.ids));
    let freshTokens = 0;
    for (let s = 0; s < options.samples; s++) {
      const seed = deriveSeed(options.generate.run.seed, s);
      const primer = excerptPrimer(training, vocab, options.primerLength, createRng(seed));
      const g = await generateMusicAsync(
        model,
        vocab,
        primer,
        { ...options.generate, run: { ...options.generate.run, seed } },
        { name: `sample ${s + 1}`, shouldStop },
      );
      if (!g) return null;
      const fresh = g.ids.slice(g.primerLength);
      generatedPieces.push({ ...g.piece, name: `sample ${s + 1}`, notes: [...g.continuation] });
      const m = index.longest(fresh);
      sampleCopies.push(m.length);
      if (!copy || m.length > copy.length) copy = m;
      freshTokens += fresh.length;
      onProgress?.('samples', s + 1, options.samples);
    }
    const cut = Math.max(1, Math.round(freshTokens / options.samples));
    heldOutCopyMedian = median(usable.map((p) => index.longest(p.ids.slice(0, cut)).length));
  }
  // The data as the model sees it (quantized), so both sides are on the same grid.
  const dataPieces = await runStepsStoppable(decodedPieces(training, vocab), shouldStop);
  if (!dataPieces) return null;
  const excerptNotes =
    generatedPieces.length > 0
      ? Math.max(1, Math.round(generatedPieces.reduce((a, p) => a + p.notes.length, 0) / generatedPieces.length))
      : null;
  const excerpts =
    excerptNotes === null ? null : noteExcerpts(dataPieces, excerptNotes, createRng(deriveSeed(options.generate.run.seed, EXCERPT_LABEL)));
  const dataExcerpts = excerpts && musicStats(excerpts);
  const chance =
    excerptNotes === null || dataExcerpts === null || dataPieces.length === 0
      ? null
      : chanceSpread(
          dataPieces,
          { ...DEFAULT_CHANCE_OPTIONS, samples: generatedPieces.length, notes: excerptNotes, reference: dataExcerpts },
          createRng(deriveSeed(options.generate.run.seed, CHANCE_LABEL)),
        );
  const twoSample =
    excerpts &&
    twoSampleTest(
      generatedPieces,
      excerpts,
      DEFAULT_TWO_SAMPLE_OPTIONS,
      createRng(deriveSeed(options.generate.run.seed, TWO_SAMPLE_LABEL)),
    );
  return {
    files: usable.length,
    tokens,
    nll,
    perplexity: Math.exp(nll),
    baselineNll: base.nll,
    baselinePerplexity: base.perplexity,
    baselineOrder: options.ngramOrder,
    nllImprovement: (base.nll - nll) / base.nll,
    notes,
    beats,
    nllPerNote: nllSum / notes,
    nllPerBeat: nllSum / beats,
    baselineNllPerNote: (base.nll * tokens) / notes,
    generated: generatedPieces.length > 0 ? musicStats(generatedPieces) : null,
    data: musicStats(dataPieces),
    dataExcerpts,
    excerptNotes,
    chance,
    twoSample,
    longestCopy: copy?.length ?? 0,
    longestCopyDetail: copy,
    sampling,
    sampleCopies,
    heldOutCopyMedian,
  };
}

/** The pieces decoded from their tokens, one step per piece. */
function* decodedPieces(pieces: readonly EncodedPiece[], vocab: Vocabulary): Generator<void, Piece[], void> {
  const out: Piece[] = [];
  for (const p of pieces) {
    out.push(tokensToPiece(decodeIds(vocab, p.ids), vocab.config, { name: p.name }));
    yield;
  }
  return out;
}

/** Label of the seed that places the data excerpts (the samples' seeds use labels 0, 1, …). */
const EXCERPT_LABEL = 0x657863;
/** Label of the seed that draws the sets of {@link chanceSpread}. */
const CHANCE_LABEL = 0x636863;
/** Label of the seed that draws the excerpts and folds of {@link twoSampleTest}. */
const TWO_SAMPLE_LABEL = 0x747374;

/**
 * {@link scorePieces} one batch at a time (the same batches: longest first;
 * a note-family model's pieces with ./note-score.ts), letting the event loop
 * turn between them; results in input order, or null once `shouldStop()` is true.
 */
async function scoreStoppable(
  model: MusicModel,
  vocab: Vocabulary,
  seqs: readonly Int32Array[],
  onProgress: (done: number, total: number) => void,
  shouldStop: () => boolean,
): Promise<Float64Array[] | null> {
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[b].length - seqs[a].length);
  const out: Float64Array[] = new Array<Float64Array>(seqs.length);
  const { batchSize } = DEFAULT_SCORE_OPTIONS;
  for (let start = 0; start < order.length; start += batchSize) {
    const group = order.slice(start, start + batchSize);
    const scored =
      model.config.family === 'note'
        ? scoreNotePieces(
            model,
            vocab,
            group.map((k) => seqs[k]),
          )
        : scorePieces(
            model,
            group.map((k) => seqs[k]),
            DEFAULT_SCORE_OPTIONS,
          );
    scored.forEach((lp, j) => (out[group[j]] = lp));
    onProgress(Math.min(order.length, start + batchSize), order.length);
    if (await turnAndCheck(shouldStop)) return null;
  }
  return out;
}

/** The middle value (the upper of the two middle ones for an even count), or null for none; the input is not modified. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}
