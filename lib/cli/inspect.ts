/**
 * `musicgen inspect`: load MIDI files and report what would be used, what is
 * skipped and why, and the token counts under a tokenizer. The files are read
 * in a worker thread, so Ctrl-C or SIGTERM stops a long inspect at once.
 */
import { UserError } from '../core/errors';
import type { FlagSpecs, ParsedArgs } from './args';
import { corpusStatsStoppable } from './offload';
import { startBar } from './progress';
import { logLoadReport, MIDI_FLAGS, midiOptions, TOKENIZER_FLAGS, tokenizerFrom, type Io, type JsonResult } from './shared';

export const INSPECT_FLAGS: FlagSpecs = { ...TOKENIZER_FLAGS, ...MIDI_FLAGS };

export async function inspectCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const target = a.positionals[0];
  if (!target) throw new UserError('inspect needs a file or folder: musicgen inspect <file|dir>');
  const tokenizer = tokenizerFrom(a);
  const bar = startBar('load ', 1, io.quiet);
  const { corpus, stats: st } = await corpusStatsStoppable(io, [target], midiOptions(a), tokenizer, (d, t) => {
    bar.setTotal(t);
    bar.update(d);
  });
  bar.stop();
  logLoadReport(io, corpus, true);
  io.log(
    `${st.files} MIDI files: ${st.loaded} loaded, ${st.skipped.length} skipped; ${st.notes} notes, ${st.events} ` +
      `events, ${st.tokens} tokens, vocabulary ${st.vocabSize}`,
  );
  return {
    files: st.files,
    passedOver: corpus.passedOver,
    loaded: st.loaded,
    skipped: st.skipped,
    warnings: corpus.warnings,
    notes: st.notes,
    events: st.events,
    tokens: st.tokens,
    vocabSize: st.vocabSize,
  };
}
