/**
 * Primers: the opening material a generated piece continues — an excerpt of
 * the data or the end of a user's MIDI file — as token ids, with the tempo and
 * meter of the music it came from. (The RNG *seed* only picks the excerpt.)
 */
import { checkInt } from '../core/check';
import { UserError } from '../core/errors';
import type { Piece } from '../core/piece';
import type { Rng } from '../core/rng';
import { encodePieces, type EncodedPiece } from '../data/dataset';
import { pieceToTokens, schemeOf } from '../tokens/tokenize';
import { decodeIds, encodeTokens, type UnknownPolicy, type Vocabulary } from '../tokens/vocabulary';

/** Tokens of primer taken from the data or a primer file, unless asked otherwise. */
export const DEFAULT_PRIMER_LENGTH = 32;

/** Throws a RangeError unless `length` is a primer length the choosers below take: an integer in [1, 100000]. */
export function validatePrimerLength(length: number): number {
  checkInt('primerLength', length, 1, 100_000);
  return length;
}

/** The opening material of a generated piece. */
export interface Primer {
  /** Token ids the model reads before it writes. */
  readonly ids: readonly number[];
  /** Where it comes from (a piece name). */
  readonly source: string;
  /** Tempo of the music it came from, when known. */
  readonly bpm?: number;
  /** Time signature of the music it came from, when known. */
  readonly timeSignature?: readonly [number, number];
}

/**
 * An excerpt of about `length` tokens from encoded pieces: a seeded random
 * piece and a random start where the scheme allows one, with the context the
 * scheme needs in front (so it decodes on its own).
 * Tempo and meter are unknown (encoded pieces carry none).
 */
export function excerptPrimer(pieces: readonly EncodedPiece[], vocab: Vocabulary, length: number, rng: Rng): Primer {
  validatePrimerLength(length);
  const usable = pieces.filter((p) => p.ids.length > 0);
  if (usable.length === 0) throw new UserError('no music in the data to take a primer from');
  const piece = usable[Math.floor(rng.next() * usable.length)];
  const scheme = schemeOf(vocab.config);
  const maxStart = Math.max(0, piece.ids.length - length);
  const starts: number[] = [];
  for (let i = 0; i <= maxStart; i++) if (i === 0 || scheme.canStartAt(vocab.tokens[piece.ids[i]])) starts.push(i);
  const start = starts[Math.floor(rng.next() * starts.length)];
  const tokens = scheme.excerpt(decodeIds(vocab, piece.ids), start, start + length);
  return { ids: encodeTokens(vocab, tokens, 'error'), source: piece.name };
}

/** An excerpt of the given pieces (see {@link excerptPrimer}), keeping the chosen piece's tempo and time signature. */
export function primerFromPieces(pieces: readonly Piece[], vocab: Vocabulary, length: number, rng: Rng): Primer {
  if (pieces.length === 0) throw new UserError('no MIDI files to take a primer from');
  const primer = excerptPrimer(encodePieces(vocab, pieces), vocab, length, rng);
  const piece = pieces.find((p) => p.name === primer.source);
  return piece ? { ...primer, ...metaOf(piece) } : primer;
}

/**
 * The end of a piece (a user's MIDI file to continue): its last `length`
 * tokens, from a point where the scheme can start, with the context it needs
 * in front; plus the piece's tempo and time signature. Symbols the vocabulary lacks follow `policy`.
 */
export function primerFromPiece(piece: Piece, vocab: Vocabulary, length: number, policy: UnknownPolicy = 'nearest'): Primer {
  validatePrimerLength(length);
  const tokens = pieceToTokens(piece, vocab.config);
  const ids = encodeTokens(vocab, schemeOf(vocab.config).excerpt(tokens, Math.max(0, tokens.length - length), tokens.length), policy);
  if (!ids.some((id) => vocab.tokens[id].kind === 'event'))
    throw new UserError(`primer ${piece.name}: no notes left after applying --unknown ${policy}`);
  return { ids, source: piece.name, ...metaOf(piece) };
}

function metaOf(piece: Piece): Pick<Primer, 'bpm' | 'timeSignature'> {
  const ts = piece.timeSignatures[0];
  return { bpm: piece.tempos[0].bpm, timeSignature: [ts.numerator, ts.denominator] };
}
