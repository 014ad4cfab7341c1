/**
 * `musicgen inspect`: load MIDI files and report what would be used, what is
 * skipped and why, and the token counts under a tokenizer.
 */
import { UserError } from '../core/errors';
import { corpusStats } from '../data/prepare';
import { loadCorpus } from '../midi/corpus';
import type { FlagSpecs, ParsedArgs } from './args';
import { MIDI_FLAGS, midiOptions, TOKENIZER_FLAGS, tokenizerFrom, type Io, type JsonResult } from './shared';

export const INSPECT_FLAGS: FlagSpecs = { ...TOKENIZER_FLAGS, ...MIDI_FLAGS };

export async function inspectCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const target = a.positionals[0];
  if (!target) throw new UserError('inspect needs a file or folder: musicgen inspect <file|dir>');
  const tokenizer = tokenizerFrom(a);
  const corpus = loadCorpus([target], midiOptions(a));
  for (const s of corpus.skipped) io.log(`skipped ${s.file}: ${s.reason}`);
  const st = corpusStats(corpus, tokenizer);
  io.log(`${st.files} MIDI files: ${st.loaded} loaded, ${st.skipped.length} skipped; ${st.notes} notes, ${st.events} events, ${st.tokens} tokens, vocabulary ${st.vocabSize}`);
  return { files: st.files, loaded: st.loaded, skipped: st.skipped, notes: st.notes, events: st.events, tokens: st.tokens, vocabSize: st.vocabSize };
}

