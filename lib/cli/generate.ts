/**
 * `musicgen generate`: write a new piece with a trained model. Sampling lets
 * the event loop turn, and loading a primer folder and writing a long piece
 * run in a worker thread, so Ctrl-C or SIGTERM stops it within a second,
 * with nothing written.
 */
import * as fs from 'node:fs';
import { randomInt } from 'node:crypto';
import * as path from 'node:path';
import { initBackend } from '../model/backend';
import { NonFiniteOutput } from '../model/inference';
import { UserError } from '../core/errors';
import { makeDirs, parentPath, showPath, writeFileAtomic } from '../core/files';
import { generateMusicAsync } from '../generate/generate';
import { defaultTopP, DEFAULT_SAMPLING_CONFIG, validateSamplingConfig } from '../generate/sample';
import { DEFAULT_RUN_SETTINGS, validateRunSettings, type GenerationSettings } from '../generate/settings';
import { readMidiFile } from '../midi/read';
import { createRng } from '../core/rng';
import { loadModel } from '../store/load';
import { type UnknownPolicy, type Vocabulary } from '../tokens/vocabulary';
import { asFlagError, checkExtension, defined, intList, num, str, strs, type FlagSpecs, type ParsedArgs } from './args';
import { loadCorpusStoppable, writeMidiStoppable } from './offload';
import { argPath, checkOutputs, modelArg } from './paths';
import { startBar } from './progress';
import { FLAG_NAMES, Interrupted, round, type Io, type JsonResult } from './shared';
import { controlsPrimer, DYNAMICS, validateControls, type Dynamics, type GenerationControls } from '../generate/controls';
import { DEFAULT_PRIMER_LENGTH, primerFromPiece, primerFromPieces, validatePrimerLength, type Primer } from '../generate/primer';
import { pieceLengthBeats } from '../core/piece';

export const GENERATE_FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'DIR model folder, or the name of one in models/ (default models/folk)' },
  out: { type: 'string', help: 'FILE.mid where to write the MIDI (default out/musicgen-SEED.mid)' },
  length: { type: 'string', help: `N events (notes or chords) to generate (default ${DEFAULT_RUN_SETTINGS.length})` },
  temperature: { type: 'string', help: `T sampling temperature > 0 (default ${DEFAULT_SAMPLING_CONFIG.temperature})` },
  'top-k': { type: 'string', help: 'K sample from the K most likely tokens, 0 = off (default 0)' },
  'top-p': {
    type: 'string',
    help: `P nucleus sampling in (0,1] (default: ${defaultTopP('remi')} for remi models, ${defaultTopP('timed')} for timed and classic)`,
  },
  seed: { type: 'string', help: 'S random seed; the same seed and settings give the same file (default: random, printed)' },
  primer: { type: 'string', help: 'FILE.mid continue this MIDI file instead of an excerpt of the data' },
  'primer-length': { type: 'string', help: `N tokens of primer (default ${DEFAULT_PRIMER_LENGTH})` },
  context: {
    type: 'string',
    help:
      `N tokens of context the model keeps while sampling: 0 = all, or 8 and more (its state then holds the ` +
      `last N/2 to N; default ${DEFAULT_RUN_SETTINGS.context ?? 0})`,
  },
  data: {
    type: 'string',
    multiple: true,
    help: 'DIR take the primer from these files (default: data/ for timed/classic models; a remi model starts from nothing)',
  },
  unknown: { type: 'string', help: 'POLICY for primer symbols the vocabulary lacks: nearest (default), skip, error' },
  bpm: { type: 'string', help: "N tempo of the output (default: the primer's)" },
  program: { type: 'string', help: 'N General-MIDI program 0-127 of the output (the same as --programs N)' },
  programs: {
    type: 'string',
    help: 'LIST General-MIDI programs the output may use, e.g. 0,33 (remi models write only these; default: as the model likes)',
  },
  'time-signature': {
    type: 'string',
    help: "N/D meter of the output, e.g. 3/4 or 6/8 (default: the primer's; a remi model from nothing opens with the one it likes), kept throughout",
  },
  'meter-changes': { type: 'boolean', help: 'let a remi model change the meter the piece opens with (by default it keeps it)' },
  'new-instruments': {
    type: 'boolean',
    help: 'let a remi model bring in instruments beyond the band its piece opens with (by default it keeps that band)',
  },
  dynamics: { type: 'string', help: `LEVEL loudness: ${Object.keys(DYNAMICS).join(', ')} (remi models; default: as the model likes)` },
  transpose: { type: 'string', help: 'N semitones to move the primer by, -24..24: the key the model continues in (default 0)' },
  wav: { type: 'string', help: 'FILE.wav also render audio (needs fluidsynth; see docs/troubleshooting.md)' },
};

export async function generateCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  let settings: GenerationSettings;
  let primerLength: number;
  try {
    settings = {
      sampling: validateSamplingConfig(
        defined({ temperature: num(a, 'temperature'), topK: num(a, 'top-k', 'int'), topP: num(a, 'top-p') }),
      ),
      controls: validateControls(defined({ bpm: num(a, 'bpm'), ...controlFlags(a) })),
      run: validateRunSettings({
        ...DEFAULT_RUN_SETTINGS,
        seed: randomInt(0, 2 ** 31 - 1),
        ...defined({ length: num(a, 'length', 'int'), seed: num(a, 'seed', 'int'), context: num(a, 'context', 'int') }),
      }),
    };
    primerLength = validatePrimerLength(num(a, 'primer-length', 'int') ?? DEFAULT_PRIMER_LENGTH);
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  const { seed } = settings.run;
  const out = str(a, 'out') ?? path.join('out', `musicgen-${seed}.mid`);
  const modelDir = str(a, 'model') ?? 'models/folk';
  const primerFile = str(a, 'primer');
  const wav = str(a, 'wav');
  checkOutputs(
    [{ flag: 'out', path: out }, ...(wav ? [{ flag: 'wav', path: wav }] : [])],
    primerFile ? [{ flag: 'primer', path: primerFile }] : [],
    [{ flag: 'model', path: modelDir }],
  );
  checkExtension('out', out, ['.mid', '.midi']);
  if (wav !== undefined) checkExtension('wav', wav, ['.wav']);
  if (str(a, 'seed') === undefined) io.log(`seed ${seed} (give --seed ${seed} to get this piece again)`);
  const policy = (str(a, 'unknown') ?? 'nearest') as UnknownPolicy;
  if (!['nearest', 'skip', 'error'].includes(policy)) throw new UserError(`--unknown must be nearest, skip or error (got "${policy}")`);
  const outPath = argPath(out);
  const wavPath = wav === undefined ? undefined : argPath(wav);
  makeDirs(parentPath(outPath), outPath);
  if (wavPath) makeDirs(parentPath(wavPath), wavPath);
  const backend = await initBackend();
  const lm = await loadModel(modelArg(modelDir));
  try {
    const t0 = performance.now();
    const primer = await choosePrimer(a, io, lm.vocab, { controls: settings.controls, seed, length: primerLength }, primerFile, policy);
    const bar = startBar('generate', settings.run.length, io.quiet);
    const g = await generateMusicAsync(lm.model, lm.vocab, primer, settings, {
      name: 'musicgen',
      onProgress: (done) => bar.update(done),
      shouldStop: io.interrupted,
    }).catch((e: unknown) => {
      throw e instanceof NonFiniteOutput ? new UserError(`${showPath(lm.dir)}: ${e.message}`) : e;
    });
    bar.stop();
    if (!g) throw new Interrupted();
    await writeMidiStoppable(io, out, g.piece);
    const seconds = (performance.now() - t0) / 1000;
    io.log(
      `wrote ${showPath(outPath)}: ${g.events} new events, ${g.piece.notes.length} notes (${g.newNotes} after ` +
        `the primer), ${pieceLengthBeats(g.piece).toFixed(1)} beats`,
    );
    const result: JsonResult = {
      out: showPath(outPath),
      events: g.events,
      notes: g.piece.notes.length,
      seconds: round(seconds, 3),
      notesPerSec: Math.round(g.newNotes / Math.max(1e-6, g.seconds)),
      topP: g.sampling.topP,
      backend: backend.name,
    };
    if (!wavPath) return result;
    const { renderWav } = await import('../show/synth');
    const audio = await renderWav(g.piece);
    if (io.interrupted()) throw new Interrupted(`interrupted: wrote ${showPath(outPath)}, not ${showPath(wavPath)}`);
    writeFileAtomic(wavPath, audio);
    io.log(`wrote ${showPath(wavPath)}`);
    return { ...result, wav: showPath(wavPath) };
  } finally {
    lm.model.net.dispose();
  }
}

/** What the primer is chosen by: the controls, the seed that picks an excerpt, and its length in tokens. */
interface PrimerChoice {
  readonly controls: GenerationControls;
  readonly seed: number;
  readonly length: number;
}

/** The primer: the --primer file, nothing but the controls (a remi model without --data), or an excerpt of the data. */
async function choosePrimer(
  a: ParsedArgs,
  io: Io,
  vocab: Vocabulary,
  choice: PrimerChoice,
  primerFile: string | undefined,
  policy: UnknownPolicy,
): Promise<Primer> {
  if (primerFile) return primerFromPiece(readPrimer(primerFile, io), vocab, choice.length, policy);
  const c = choice.controls;
  if (strs(a, 'data').length === 0 && vocab.config.scheme === 'remi') {
    const meter = c.timeSignature
      ? `${c.timeSignature.join('/')}, ${c.bpm ?? 120} bpm, program ${c.programs?.[0] ?? 0}`
      : 'the meter, tempo and instruments the model opens with';
    io.log(`starting from nothing: ${meter} (give --primer FILE.mid or --data DIR to continue music)`);
    return controlsPrimer(vocab, c);
  }
  const folders = strs(a, 'data').length > 0 ? strs(a, 'data') : ['data'];
  const present = folders.filter((f) => fs.existsSync(f));
  const corpus = await loadCorpusStoppable(io, present.length > 0 ? present : folders);
  if (corpus.pieces.length === 0)
    throw new UserError(`no MIDI files to take a primer from in ${folders.join(', ')} (use --primer FILE.mid)`);
  return primerFromPieces(corpus.pieces, vocab, choice.length, createRng(choice.seed));
}

/** The controls from --time-signature, --programs/--program, --dynamics, --transpose, --meter-changes and --new-instruments. */
function controlFlags(a: ParsedArgs): Partial<GenerationControls> {
  const ts = str(a, 'time-signature');
  let timeSignature: [number, number] | undefined;
  if (ts !== undefined) {
    const m = /^(\d{1,2})\/(\d{1,2})$/.exec(ts);
    if (!m) throw new UserError(`--time-signature must look like 3/4 or 6/8 (got "${ts}")`);
    timeSignature = [Number(m[1]), Number(m[2])];
  }
  const list = intList(a, 'programs', 0, 127);
  const one = num(a, 'program', 'int');
  if (list !== undefined && one !== undefined) throw new UserError('give --program or --programs, not both');
  const programs = list ?? (one === undefined ? undefined : [one]);
  const dynamics = str(a, 'dynamics') as Dynamics | undefined;
  return defined({
    timeSignature,
    programs,
    dynamics,
    transpose: num(a, 'transpose', 'int'),
    meterChanges: a.values['meter-changes'] === true ? true : undefined,
    newInstruments: a.values['new-instruments'] === true ? true : undefined,
  });
}

function readPrimer(file: string, io: Io) {
  try {
    return readMidiFile(argPath(file), { onWarning: (w) => io.log(`warning --primer ${file}: ${w}`) });
  } catch (e) {
    throw new UserError(`--primer ${file}: ${(e as Error).message}`);
  }
}
