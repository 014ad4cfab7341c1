/**
 * The small interface every tokenization scheme implements, one file per
 * scheme: ./remi (the default: bar, position, pitch, velocity and duration
 * tokens), ./timed (note/chord events, their durations and time shifts) and
 * ./classic (timing-free note/chord events). A scheme turns a Piece into
 * tokens and back, says which tokens may follow which (the grammar generation
 * obeys), and where in time a token prefix ends.
 */
import { makePiece, type Note, type Piece } from '../core/piece';
import type { TokenizerConfig } from './config';
import type { Token } from './token';

/** Metadata for a decoded piece (tokens carry no tempo, instrument or meter). */
export interface DecodeOptions {
  readonly name?: string;
  readonly bpm?: number;
  readonly program?: number;
  readonly timeSignature?: readonly [number, number];
}

/**
 * One state of a scheme's grammar over token ids: which tokens may come next,
 * and the state after one of them. States are immutable, so one can be kept
 * while sampling goes on from another.
 */
export interface GrammarState {
  /** 1 where token id j may come next, 0 where not; never all 0. Shared: do not modify. */
  allowed(): Float32Array;
  /**
   * The state after token `id`. Any id is followed, also one this state does
   * not allow (a primer may hold such), the way the decoder would read it.
   */
  after(id: number): GrammarState;
}

/** One tokenization scheme. */
export interface TokenScheme {
  readonly name: TokenizerConfig['scheme'];
  /** A piece as tokens. */
  encode(piece: Piece, config: TokenizerConfig): Token[];
  /** Tokens back to a piece; tolerant of ill-formed sequences (as a model may write). */
  decode(tokens: readonly Token[], config: TokenizerConfig, options: DecodeOptions): Piece;
  /** Whether `next` may follow `prev` (the grammar that generation is masked by, unless the scheme has a {@link grammar}). */
  mayFollow(prev: Token, next: Token): boolean;
  /**
   * A grammar that sees more than the previous token (where in the bar, which
   * meter, instrument and pitch came before), as a state machine over the ids
   * of `tokens` (a vocabulary of this scheme), in its state before any token.
   * Schemes without one are masked by {@link mayFollow} alone.
   */
  grammar?(tokens: readonly Token[], config: TokenizerConfig): GrammarState;
  /** Whether an excerpt may start at this token (decoding from there begins cleanly). */
  canStartAt(token: Token): boolean;
  /**
   * The tokens `from` up to `to` (exclusive) as a sequence that decodes on its
   * own: a scheme whose tokens depend on earlier context (meter, tempo,
   * instrument) puts that context in front.
   */
  excerpt(tokens: readonly Token[], from: number, to: number): Token[];
  /** Whether a sequence ending in this token is unfinished (a note still waiting for its duration, say). */
  needsMore(token: Token): boolean;
  /** Beat position reached after the given tokens. */
  beatsAfter(tokens: readonly Token[], config: TokenizerConfig): number;
  /** Every token the scheme can write under `config`, when its vocabulary is fixed by design rather than built from the data. */
  fixedVocabulary?(config: TokenizerConfig): Token[];
}

/** Number of notes in a token sequence (a chord event counts each of its notes). */
export function countNotes(tokens: readonly Token[]): number {
  let n = 0;
  for (const t of tokens) if (t.kind === 'event') n += t.pitches.length;
  return n;
}

/** Number of musical events (notes or chords) in a token sequence. */
export function countEvents(tokens: readonly Token[]): number {
  let n = 0;
  for (const t of tokens) if (t.kind === 'event') n++;
  return n;
}

/** A Piece for decoded notes, with the metadata asked for (120 bpm, 4/4, piano by default). */
export function decodedPiece(notes: readonly Note[], options: DecodeOptions): Piece {
  const ts = options.timeSignature ?? [4, 4];
  return makePiece(options.name ?? 'generated', notes, {
    tempos: [{ beat: 0, bpm: options.bpm ?? 120 }],
    timeSignatures: [{ beat: 0, numerator: ts[0], denominator: ts[1] }],
    program: options.program ?? 0,
  });
}
