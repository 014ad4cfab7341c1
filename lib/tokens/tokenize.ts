/**
 * Piece ↔ tokens under the scheme a tokenizer config names. Each scheme lives
 * in its own file behind the {@link TokenScheme} interface.
 */
import type { Piece } from '../core/piece';
import { DEFAULT_TOKENIZER_CONFIG, type TokenizerConfig } from './config';
import { classicScheme } from './classic';
import type { DecodeOptions, TokenScheme } from './scheme';
import { remiScheme } from './remi';
import { timedScheme } from './timed';
import type { Token } from './token';

const SCHEMES: Readonly<Record<TokenizerConfig['scheme'], TokenScheme>> = { remi: remiScheme, timed: timedScheme, classic: classicScheme };

/** The scheme a config names. */
export function schemeOf(config: TokenizerConfig): TokenScheme {
  return SCHEMES[config.scheme];
}

/** Converts a piece to tokens under the config's scheme. */
export function pieceToTokens(piece: Piece, config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG): Token[] {
  return schemeOf(config).encode(piece, config);
}

/** Converts tokens back to a piece under the config's scheme (tolerant of ill-formed sequences). */
export function tokensToPiece(
  tokens: readonly Token[],
  config: TokenizerConfig = DEFAULT_TOKENIZER_CONFIG,
  options: DecodeOptions = {},
): Piece {
  return schemeOf(config).decode(tokens, config, options);
}
