/**
 * The `classic` scheme: the timing-free note/chord vocabulary of the classic
 * deep-learning music generator. Every onset is one event holding all pitches
 * that start there; decoding places events a fixed time apart
 * (classicStepBeats) with that same duration.
 */
import type { Note, Piece } from '../core/piece';
import type { TokenizerConfig } from './config';
import { groupByOnset, quantizeNotes } from './grid';
import { countEvents, decodedPiece, type DecodeOptions, type TokenScheme } from './scheme';
import type { Token } from './token';

function encode(piece: Piece, config: TokenizerConfig): Token[] {
  return groupByOnset(quantizeNotes(piece.notes, config)).map((atOnset) => ({
    kind: 'event',
    pitches: [...new Set(atOnset.map((g) => g.pitch))].sort((a, b) => a - b),
  }));
}

function decode(tokens: readonly Token[], config: TokenizerConfig, options: DecodeOptions): Piece {
  const stepBeats = config.classicStepBeats;
  const notes: Note[] = [];
  let k = 0;
  for (const t of tokens) {
    if (t.kind !== 'event') continue;
    for (const pitch of t.pitches) notes.push({ pitch, start: k * stepBeats, duration: stepBeats, velocity: config.velocity });
    k++;
  }
  return decodedPiece(notes, options);
}

export const classicScheme: TokenScheme = {
  name: 'classic',
  encode,
  decode,
  mayFollow: () => true,
  canStartAt: () => true,
  excerpt: (tokens, from, to) => tokens.slice(from, to),
  needsMore: () => false,
  beatsAfter: (tokens, config) => countEvents(tokens) * config.classicStepBeats,
};
