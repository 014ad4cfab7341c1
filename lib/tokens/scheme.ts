/**
 * The small interface every tokenization scheme implements (one file per
 * scheme: ./timed, ./classic). A scheme turns a Piece into tokens and back,
 * says which tokens may follow which (the grammar generation obeys), and
 * where in time a token prefix ends.
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

/** One tokenization scheme. */
export interface TokenScheme {
  readonly name: TokenizerConfig['scheme'];
  /** A piece as tokens. */
  encode(piece: Piece, config: TokenizerConfig): Token[];
  /** Tokens back to a piece; tolerant of ill-formed sequences (as a model may write). */
  decode(tokens: readonly Token[], config: TokenizerConfig, options: DecodeOptions): Piece;
  /** Whether `next` may follow `prev` (the grammar that generation is masked by). */
  mayFollow(prev: Token, next: Token): boolean;
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
