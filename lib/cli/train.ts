/**
 * `musicgen train`: train a model on folders of MIDI files, or resume one.
 * The model folder is locked for the run, and a model already in it is kept
 * until a new one is saved (lib/store/output.ts).
 */
import { initBackend } from '../model/backend';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../store/train-config';
import { DEFAULT_DATASET_CONFIG, validateDatasetConfig, type DatasetConfig } from '../data/dataset';
import { UserError } from '../core/errors';
import { makeDirs, showPath, type FilePath } from '../core/files';
import { DEFAULT_MODEL_CONFIG, parameterCount, validateModelConfig, withFamilyDefaults, type ModelConfig } from '../model/network';
import type { PreparedData } from '../data/prepare';
import { loadModel, loadModelSettings, type LoadedModel } from '../store/load';
import { runConfig, type RunConfig } from '../store/run-config';
import { newModel } from '../model/network';
import { validateTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import { makeVocabulary } from '../tokens/vocabulary';
import type { MidiReadOptions } from '../midi/read';
import { trainModel } from '../train/loop';
import { asFlagError, defined, intAtLeast, num, required, str, strs, type FlagSpecs, type ParsedArgs } from './args';
import { startBar } from './progress';
import { loadTrainingData, type TrainingData } from './train-data';
import { argPath, modelArg, openRecordedFolders, recordedFolder } from './paths';
import { openModelOutput, type ModelOutput } from '../store/output';
import {
  FLAG_NAMES,
  logLoadReport,
  midiOptions,
  round,
  tokenizerFrom,
  MIDI_FLAGS,
  TOKENIZER_FLAGS,
  type Io,
  type JsonResult,
} from './shared';

export const TRAIN_FLAGS: FlagSpecs = {
  data: { type: 'string', multiple: true, help: 'DIR folder of MIDI files (repeat for several)' },
  out: { type: 'string', help: 'DIR model folder to write (e.g. models/mine)' },
  resume: { type: 'boolean', help: 'continue from the checkpoint in --out' },
  force: { type: 'boolean', help: "replace the model in --out (kept until the new one's first epoch is saved)" },
  'init-from': {
    type: 'string',
    help: 'DIR start from the weights of the model in DIR (fine-tuning, e.g. on your own --data): its vocabulary and network shape are kept, and its window settings unless given; --meter may change where remi writes the time signature',
  },
  epochs: { type: 'string', help: `N maximum epochs (default ${DEFAULT_TRAIN_CONFIG.epochs})` },
  'batch-size': { type: 'string', help: `N windows per batch (default ${DEFAULT_TRAIN_CONFIG.batchSize})` },
  lr: { type: 'string', help: `X Adam learning rate (default ${DEFAULT_TRAIN_CONFIG.learningRate})` },
  'lr-decay': {
    type: 'string',
    help: `X learning-rate factor after an epoch without a better validation loss, 1 = constant (default ${DEFAULT_TRAIN_CONFIG.lrDecay})`,
  },
  'clip-norm': { type: 'string', help: `X gradient clipping norm, 0 = off (default ${DEFAULT_TRAIN_CONFIG.clipNorm})` },
  patience: { type: 'string', help: `N early-stopping patience in epochs (default ${DEFAULT_TRAIN_CONFIG.patience})` },
  seed: { type: 'string', help: 'N random seed' },
  'seq-len': { type: 'string', help: `N tokens per training window (default ${DEFAULT_DATASET_CONFIG.seqLen})` },
  stride: { type: 'string', help: `N tokens between window starts (default ${DEFAULT_DATASET_CONFIG.stride})` },
  'val-fraction': { type: 'string', help: `X fraction of files held out (default ${DEFAULT_DATASET_CONFIG.valFraction})` },
  family: {
    type: 'string',
    help: 'NAME token (default: the LSTM steps once per token) or note (once per note or bar, a head writes its tokens; remi only)',
  },
  'no-lookback': {
    type: 'boolean',
    help: 'train a note-family model without its look-back (the notes 1 and 2 bars back), to measure what it brings',
  },
  'no-copy': {
    type: 'boolean',
    help: 'train a note-family model without copy ids (its head then spells out a note of 1 or 2 bars back instead of copying it)',
  },
  'no-head-skip': {
    type: 'boolean',
    help: 'a note-family model whose output layer reads only its head (without the skip connection from the main LSTM), to measure what it brings',
  },
  'head-units': { type: 'string', help: "N units of the note family's head (default 128)" },
  'step-units': { type: 'string', help: "N width of the note family's step vector, which its LSTM reads (default: --units)" },
  units: { type: 'string', help: `N LSTM units per layer (default ${DEFAULT_MODEL_CONFIG.units})` },
  layers: { type: 'string', help: `N stacked LSTM layers (default ${DEFAULT_MODEL_CONFIG.layers})` },
  embedding: { type: 'string', help: `N embedding width (default ${DEFAULT_MODEL_CONFIG.embeddingDim})` },
  dropout: { type: 'string', help: `X input dropout in [0,1) (default ${DEFAULT_MODEL_CONFIG.dropout})` },
  'recurrent-dropout': { type: 'string', help: `X recurrent dropout in [0,1) (default ${DEFAULT_MODEL_CONFIG.recurrentDropout})` },
  ...TOKENIZER_FLAGS,
  ...MIDI_FLAGS,
  'max-files': { type: 'string', help: 'N use at most N files, N ≥ 1 (quick runs)' },
  'max-val-windows': { type: 'string', help: `N validation windows per epoch, 0 = all (default ${DEFAULT_TRAIN_CONFIG.maxValWindows})` },
  'checkpoint-every': {
    type: 'string',
    help: `S seconds between mid-epoch checkpoints (default ${DEFAULT_TRAIN_CONFIG.checkpointEverySec})`,
  },
  'max-minutes': {
    type: 'string',
    help:
      `M stop after M minutes of training in all (resumes included): the epoch under way is validated and saved ` +
      `first, 0 = no limit (default ${DEFAULT_TRAIN_CONFIG.maxMinutes})`,
  },
  'transpose-range': {
    type: 'string',
    help: `N transpose each training window by a random shift of up to N semitones, 0 = off (remi only; default ${DEFAULT_TRAIN_CONFIG.transposeRange})`,
  },
  transpose: { type: 'string', help: 'N the same as --transpose-range (its former name)' },
  threads: { type: 'string', help: 'N threads computing gradients on the JS backends, 0 = one per core (default 0)' },
  'carry-state': {
    type: 'boolean',
    help: 'carry the LSTM state from each window to the next of its piece (windows then consecutive; validation still from zeros)',
  },
};

export async function trainCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const out = argPath(required(a, 'out'));
  const resume = a.values.resume === true;
  const force = a.values.force === true;
  const maxFiles = intAtLeast(a, 'max-files', 1);
  const initFrom = str(a, 'init-from');
  if (initFrom !== undefined && resume)
    throw new UserError('--init-from cannot be used with --resume: --resume continues the model in --out from its checkpoint');
  // A new run's flags are checked before the folder is locked (its parent created); a resumed run's need the saved settings.
  const init = initFrom === undefined ? null : await loadInitModel(a, initFrom);
  try {
    const fresh = resume ? null : settingsFrom(a, null, init);
    const output = openModelOutput(out, { resume, replace: force }, { resume: '--resume', replace: '--force', out: '--out' });
    try {
      const saved = resume ? await loadSavedForResume(output.dir()) : null;
      return await trainInto(output, out, saved, fresh ?? settingsFrom(a, saved, null), maxFiles, init, io);
    } finally {
      output.release();
    }
  } finally {
    init?.model.net.dispose();
  }
}

/** --transpose-range, or --transpose as older commands spell it (not both). */
function transposeRangeFlag(a: ParsedArgs): number | undefined {
  const range = num(a, 'transpose-range', 'int');
  const old = num(a, 'transpose', 'int');
  if (range !== undefined && old !== undefined) throw new UserError('give --transpose-range or --transpose (its former name), not both');
  return range ?? old;
}

/** Flags an --init-from run may not give: the model it starts from fixes them. */
const FIXED_BY_INIT = [
  'scheme',
  'grid',
  'velocity-bins',
  'units',
  'layers',
  'embedding',
  'family',
  'head-units',
  'step-units',
  'no-lookback',
  'no-copy',
  'no-head-skip',
] as const;

/** The model --init-from names, loaded and checked; flags it fixes are refused by name. */
async function loadInitModel(a: ParsedArgs, dir: string): Promise<LoadedModel> {
  const fixed = FIXED_BY_INIT.find((f) => a.values[f] !== undefined);
  if (fixed) throw new UserError(`--${fixed} cannot be used with --init-from: the model in ${dir} fixes the vocabulary and network shape`);
  await initBackend();
  return loadModel(modelArg(dir));
}

/** What a run trains with: from the flags, over the saved settings when resuming. */
interface Settings {
  /** The data folders, as given or (`recorded`) as config.json records them. */
  readonly folders: readonly string[];
  readonly recorded: boolean;
  readonly midi: MidiReadOptions;
  readonly tokenizer: TokenizerConfig;
  readonly dataset: DatasetConfig;
  readonly modelCfg: Partial<ModelConfig>;
  readonly training: TrainConfig;
  /** Tokenizer flags were given (a prepared folder made with other settings is refused). */
  readonly tokenizerGiven: boolean;
}

/** The settings from the flags (and the saved ones on --resume); a bad value is a one-line error naming its flag. */
function settingsFrom(a: ParsedArgs, saved: Saved | null, init: LoadedModel | null): Settings {
  try {
    const training = validateTrainConfig({
      ...DEFAULT_TRAIN_CONFIG,
      ...saved?.config.training,
      ...defined({
        epochs: num(a, 'epochs', 'int'),
        batchSize: num(a, 'batch-size', 'int'),
        learningRate: num(a, 'lr'),
        lrDecay: num(a, 'lr-decay'),
        clipNorm: num(a, 'clip-norm'),
        patience: num(a, 'patience', 'int'),
        seed: num(a, 'seed', 'int'),
        maxValWindows: num(a, 'max-val-windows', 'int'),
        checkpointEverySec: num(a, 'checkpoint-every'),
        threads: num(a, 'threads', 'int'),
        transposeRange: transposeRangeFlag(a),
        carryState: a.values['carry-state'] === true ? true : undefined,
        maxMinutes: num(a, 'max-minutes'),
      }),
    });
    const folders = strs(a, 'data');
    const midi = midiOptions(a);
    if (saved) {
      const recorded = folders.length === 0;
      return {
        folders: recorded ? saved.config.data.folders : folders,
        recorded,
        midi,
        tokenizer: saved.vocab.config,
        dataset: saved.config.dataset,
        modelCfg: saved.config.model,
        training,
        tokenizerGiven: false,
      };
    }
    const meter = init && str(a, 'meter') !== undefined ? { meterEveryBar: tokenizerFrom(a).meterEveryBar } : {};
    const tokenizer = init ? validateTokenizerConfig({ ...init.vocab.config, ...meter }) : tokenizerFrom(a);
    const dataset = {
      ...DEFAULT_DATASET_CONFIG,
      ...init?.config.dataset,
      ...defined({
        seqLen: num(a, 'seq-len', 'int'),
        stride: num(a, 'stride', 'int'),
        valFraction: num(a, 'val-fraction'),
        seed: num(a, 'seed', 'int'),
      }),
    };
    validateDatasetConfig(dataset);
    const chosen: ModelConfig = {
      ...DEFAULT_MODEL_CONFIG,
      ...init?.config.model,
      ...defined({
        units: num(a, 'units', 'int'),
        layers: num(a, 'layers', 'int'),
        embeddingDim: num(a, 'embedding', 'int'),
        family: str(a, 'family') as ModelConfig['family'],
        headUnits: num(a, 'head-units', 'int'),
        stepUnits: num(a, 'step-units', 'int'),
        lookback: a.values['no-lookback'] === true ? false : undefined,
        copy: a.values['no-copy'] === true || a.values['no-lookback'] === true ? false : undefined,
        headSkip: a.values['no-head-skip'] === true ? false : undefined,
        dropout: num(a, 'dropout'),
        recurrentDropout: num(a, 'recurrent-dropout'),
        seed: num(a, 'seed', 'int'),
      }),
    };
    // A model started from another keeps its shapes; a new one gets its family's defaults.
    const modelCfg = init ? chosen : withFamilyDefaults(chosen);
    validateModelConfig({ ...modelCfg, vocabSize: 2 });
    if (folders.length === 0) throw new UserError('--data is required');
    const tokenizerGiven = TOKENIZER_FLAG_NAMES.some((f) => a.values[f] !== undefined);
    return { folders, recorded: false, midi, tokenizer, dataset, modelCfg, training, tokenizerGiven };
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
}

/** The training run, with the output folder locked. */
async function trainInto(
  output: ModelOutput,
  out: FilePath,
  saved: Saved | null,
  settings: Settings,
  maxFilesFlag: number | undefined,
  init: LoadedModel | null,
  io: Io,
): Promise<JsonResult> {
  const { folders, midi, tokenizer, dataset, modelCfg, training } = settings;
  // On --resume the file cap defaults to the one the run started with, so the same windows are trained on.
  const maxFiles = maxFilesFlag ?? saved?.config.data.maxFiles;
  const load = settings.recorded ? openRecordedFolders(folders) : { paths: folders, close: () => undefined };
  if (!load)
    throw new UserError(
      `cannot resume ${showPath(out)} without --data: one of its data folders (${folders.join(', ')}) has a ` +
        `name that is not UTF-8; give them again with --data`,
    );
  // A fine-tuned model keeps the vocabulary it starts from (with the tokenizer settings of this run).
  const given = saved?.vocab ?? (init ? makeVocabulary(tokenizer, init.vocab.tokens, init.vocab.counts) : undefined);
  const data = await loadTrainingData(io, {
    paths: load.paths,
    shown: folders,
    midi,
    maxFiles,
    tokenizer,
    tokenizerGiven: settings.tokenizerGiven,
    dataset,
    given,
    streamable: (modelCfg.family ?? 'token') === 'token' && !training.carryState,
  }).finally(load.close);
  try {
    return await trainOn(output, out, saved, settings, maxFiles, init, io, data);
  } finally {
    data.close();
  }
}

/** Flags that choose the tokenizer. */
const TOKENIZER_FLAG_NAMES = ['scheme', 'grid', 'velocity-bins', 'meter'] as const;

/** The training run proper, on its data. */
async function trainOn(
  output: ModelOutput,
  out: FilePath,
  saved: Saved | null,
  settings: Settings,
  maxFiles: number | undefined,
  init: LoadedModel | null,
  io: Io,
  data: TrainingData,
): Promise<JsonResult> {
  const { folders, dataset, modelCfg, training } = settings;
  const backend = await initBackend();
  if (saved) checkSameData(showPath(out), saved.config.data, data);
  const model = newModel(data.vocab, modelCfg);
  if (init) model.net.setWeights(init.model.net.getWeights());
  io.log(
    `backend ${backend.name}; ${data.trainFiles} training files, ${data.valFiles} validation files; vocabulary ` +
      `${data.vocab.tokens.length}; ${parameterCount(model)} parameters`,
  );
  const base = runConfig(model, data, dataset, training, backend.name, settings.recorded ? folders : folders.map(recordedFolder));
  const counted = { ...base, data: { ...base.data, trainFiles: data.trainFiles, valFiles: data.valFiles, trainTokens: data.trainTokens } };
  const initFrom = saved ? saved.config.initFrom : init ? recordedFolder(showPath(init.dir)) : undefined;
  const config = {
    ...counted,
    ...(maxFiles === undefined ? {} : { data: { ...counted.data, maxFiles } }),
    ...(initFrom === undefined ? {} : { initFrom }),
  };
  makeDirs(output.dir(), out);
  let bar = startBar('epoch 1', 1, io.quiet);
  let barEpoch = 0;
  const result = await trainModel(
    {
      model,
      vocab: data.vocab,
      train: data.train,
      val: data.val,
      streamed: data.streamed,
      dataset,
      config: training,
      outDir: output,
      runConfig: config,
      resume: saved !== null,
    },
    {
      onBatch: (p) => {
        if (p.epoch !== barEpoch) {
          bar.stop();
          bar = startBar(`epoch ${p.epoch}/${p.epochs}`, p.batches, io.quiet, p.batch - 1);
          barEpoch = p.epoch;
        }
        bar.update(p.batch, { loss: p.loss.toFixed(3), 'tok/s': Math.round(p.tokensPerSec) });
      },
      onEpoch: (r, isBest) => {
        bar.stop();
        io.log(
          `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}, val perplexity ` +
            `${r.valPerplexity.toFixed(2)}, ${Math.round(r.tokensPerSec)} tokens/s${isBest ? ' (best, saved)' : ''}`,
        );
      },
      onNote: (line) => io.log(line),
      shouldStop: io.interrupted,
    },
  );
  bar.stop();
  if (result.threadsNote) io.log(result.threadsNote);
  if (result.interrupted) {
    const kept = output.dir() === out ? '' : ` (the model in ${showPath(out)} is kept until the new one's first epoch)`;
    io.log(`interrupted: checkpoint saved in ${showPath(output.dir())}${kept}; continue with --resume`);
  } else if (result.stoppedEarly) io.log(`stopped early: no better validation loss for ${training.patience} epochs`);
  else if (result.outOfTime)
    io.log(
      `stopped after ${training.maxMinutes} minutes (--max-minutes): the last epoch was cut short; continue with --resume --max-minutes M`,
    );
  const last = result.history[result.history.length - 1];
  const best = result.history.reduce(
    (b, r) => (r.valLoss < b.valLoss ? r : b),
    last ?? { valLoss: NaN, valPerplexity: NaN, trainLoss: NaN },
  );
  model.net.dispose();
  return {
    model: showPath(out),
    epochs: result.history.length,
    trainLoss: last?.trainLoss ?? null,
    valLoss: best?.valLoss ?? null,
    valPerplexity: best?.valPerplexity ?? null,
    backend: backend.name,
    threads: result.threads,
    tokensPerSec: Math.round(result.tokensPerSec),
    interrupted: result.interrupted,
  };
}

/** A resumed run must see the data its checkpoint was trained on (same files, same split), or its batch positions mean nothing. */
function checkSameData(out: string, was: RunConfig['data'], now: TrainingData): void {
  if (now.trainFiles !== was.trainFiles || now.valFiles !== was.valFiles || now.trainTokens !== was.trainTokens) {
    throw new UserError(
      `cannot resume ${out}: the data differs from the checkpoint's (${was.trainFiles}+${was.valFiles} files, ` +
        `${was.trainTokens} training tokens then; ${now.trainFiles}+${now.valFiles} files, ${now.trainTokens} ` +
        `now): give the same --data and --max-files`,
    );
  }
}

/**
 * What --resume continues from: the folder's vocabulary and settings. The
 * weights come from the checkpoint (trainModel loads them), so this works
 * even when training stopped before the first epoch saved model.json.
 */
async function loadSavedForResume(dir: FilePath): Promise<Saved> {
  await initBackend();
  return loadModelSettings(dir);
}

/** A model folder's saved settings. */
type Saved = ReturnType<typeof loadModelSettings>;
