/**
 * What the CLI commands share: the I/O surface, flag-name mapping for
 * validator errors, and MIDI and tokenizer options from flags.
 */
import { MIDI_EXTENSIONS, type FileWarning, type MidiReadOptions, type SkippedFile } from '../midi/read';
import { DEFAULT_TOKENIZER_CONFIG, defaultTokenizerConfig, validateTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import { UserError } from '../core/errors';
import { asFlagError, defined, intList, num, str, type FlagSpecs, type ParsedArgs } from './args';

/** What a command may print besides its JSON (stderr; silenced with --json where noisy). */
export interface Io {
  readonly log: (line: string) => void;
  readonly quiet: boolean;
  /** Set when the user pressed Ctrl-C (or SIGTERM arrived). */
  readonly interrupted: () => boolean;
  /** Aborted at the same moment, for work that waits (a worker thread, a sleep). */
  readonly signal: AbortSignal;
}

/**
 * Thrown when a command stops on SIGINT/SIGTERM before its work is done; the
 * CLI prints the message as one line and exits 130 (SIGINT) or 143 (SIGTERM).
 */
export class Interrupted extends Error {
  constructor(message = 'interrupted: nothing written') {
    super(message);
    this.name = 'Interrupted';
  }
}

export type JsonResult = Record<string, unknown>;

/** Flag names the validators' parameter names map to. */
export const FLAG_NAMES: Record<string, string> = {
  units: 'units',
  layers: 'layers',
  family: 'family',
  headUnits: 'head-units',
  stepUnits: 'step-units',
  embeddingDim: 'embedding',
  dropout: 'dropout',
  recurrentDropout: 'recurrent-dropout',
  epochs: 'epochs',
  batchSize: 'batch-size',
  learningRate: 'lr',
  lrDecay: 'lr-decay',
  clipNorm: 'clip-norm',
  patience: 'patience',
  seed: 'seed',
  seqLen: 'seq-len',
  stride: 'stride',
  valFraction: 'val-fraction',
  stepsPerBeat: 'grid',
  velocityBins: 'velocity-bins',
  scheme: 'scheme',
  temperature: 'temperature',
  topK: 'top-k',
  topP: 'top-p',
  length: 'length',
  primerLength: 'primer-length',
  context: 'context',
  bpm: 'bpm',
  program: 'program',
  programs: 'programs',
  timeSignature: 'time-signature',
  dynamics: 'dynamics',
  maxValWindows: 'max-val-windows',
  threads: 'threads',
  checkpointEverySec: 'checkpoint-every',
  transposeRange: 'transpose-range',
  transpose: 'transpose',
  maxMinutes: 'max-minutes',
};

/** Flags every command that reads MIDI accepts. */
export const MIDI_FLAGS: FlagSpecs = {
  'include-drums': { type: 'boolean', help: 'keep drum tracks' },
  tracks: { type: 'string', help: 'LIST only these track indices, e.g. 1,2 (0-based, as in the file)' },
  programs: { type: 'string', help: 'LIST only notes played with these General-MIDI programs, e.g. 0,24' },
};

/** Flags choosing the tokenizer. */
export const TOKENIZER_FLAGS: FlagSpecs = {
  scheme: { type: 'string', help: 'NAME tokenizer scheme: remi (default), timed or classic' },
  grid: { type: 'string', help: 'N grid steps per beat (default 12 for remi: sixteenths and triplets; 4 for timed)' },
  'velocity-bins': { type: 'string', help: 'N loudness levels a note can have, 1 = one loudness for all (remi; default 8)' },
  meter: {
    type: 'string',
    help: 'WHERE remi states the time signature: every-bar (default; a model need not remember it) or changes (only where it changes)',
  },
};

/** MIDI reading options from --include-drums, --tracks and --programs. */
export function midiOptions(a: ParsedArgs): MidiReadOptions {
  return {
    includeDrums: a.values['include-drums'] === true,
    tracks: intList(a, 'tracks', 0, 65535),
    programs: intList(a, 'programs', 0, 127),
  };
}

/** The tokenizer config from --scheme, --grid and --velocity-bins. */
export function tokenizerFrom(a: ParsedArgs): TokenizerConfig {
  try {
    const { scheme } = validateTokenizerConfig({
      ...DEFAULT_TOKENIZER_CONFIG,
      ...defined({ scheme: str(a, 'scheme') as TokenizerConfig['scheme'] | undefined }),
    });
    const meter = str(a, 'meter');
    if (meter !== undefined && meter !== 'every-bar' && meter !== 'changes')
      throw new UserError(`--meter must be every-bar or changes (got ${JSON.stringify(meter)})`);
    const meterEveryBar = meter === undefined ? undefined : meter === 'every-bar';
    return validateTokenizerConfig({
      ...defaultTokenizerConfig(scheme),
      ...defined({ stepsPerBeat: num(a, 'grid', 'int'), velocityBins: num(a, 'velocity-bins', 'int'), meterEveryBar }),
    });
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** What a load report holds for {@link logLoadReport}. */
interface LoadReportLines {
  readonly skipped: readonly SkippedFile[];
  readonly warnings: readonly FileWarning[];
  /** Files passed over for their extension. */
  readonly passedOver: number;
}

/**
 * Prints what loading MIDI left out or read differently: each skipped file
 * with its reason, then the loaded files' warnings, each on a line of its own
 * (`list`) or as a count that points to `musicgen inspect`, which lists them;
 * then how many files were passed over for their extension.
 */
export function logLoadReport(io: Io, report: LoadReportLines, list: boolean): void {
  for (const s of report.skipped) io.log(`skipped ${s.file}: ${s.reason}`);
  if (list) for (const w of report.warnings) io.log(`warning ${w.file}: ${w.warning}`);
  else if (report.warnings.length > 0)
    io.log(`${report.warnings.length} warnings on loaded files (notes left out or read differently): musicgen inspect lists them`);
  const n = report.passedOver;
  if (n > 0)
    io.log(
      `passed over ${n} file${n === 1 ? '' : 's'} whose name${n === 1 ? ' does' : 's do'} not end in ${MIDI_EXTENSIONS.join(', ').replace(/, ([^,]*)$/, ' or $1')}`,
    );
}
