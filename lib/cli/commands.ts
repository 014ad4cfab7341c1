/**
 * The four CLI commands. Each takes parsed flags and a small I/O surface and
 * returns the JSON summary printed with --json.
 */
import * as fs from 'node:fs';
import { randomInt } from 'node:crypto';
import * as path from 'node:path';
import { currentBackend, initBackend } from '../model/backend';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../train/config';
import { DEFAULT_DATASET_CONFIG, encodePieces, splitByFile, validateDatasetConfig, type DatasetConfig } from '../data/dataset';
import { DEFAULT_EVALUATE_OPTIONS, evaluateModel, median } from '../evaluate/evaluate';
import { errCode, UserError } from '../core/errors';
import { writeFileAtomic } from '../core/files';
import { DEFAULT_GENERATE_CONFIG, generate, primerFromData, validateGenerateConfig, type GenerateConfig } from '../generate/generate';
import { readMidiFile, type MidiReadOptions } from '../midi/read';
import { writeMidiFile } from '../midi/write';
import { DEFAULT_MODEL_CONFIG, parameterCount, validateModelConfig, type ModelConfig } from '../model/network';
import { corpusStats, prepareData, type PreparedData } from '../data/prepare';
import { loadCorpus } from '../midi/corpus';
import { modelInfo } from '../train/model-folder';
import { newModel } from '../model/network';
import { createRng } from '../core/rng';
import { readStepWeights } from '../model/inference';
import { hasCheckpoint } from '../train/checkpoint';
import { loadModel, loadModelSettings, type ModelInfo } from '../train/model-folder';
import { DEFAULT_TOKENIZER_CONFIG, validateTokenizerConfig, type TokenizerConfig } from '../tokens/config';
import { trainModel } from '../train/loop';
import { encodePiece, type UnknownPolicy } from '../tokens/vocabulary';
import { asFlagError, defined, num, required, str, strs, type FlagSpecs, type ParsedArgs } from './args';
import { startBar } from './progress';

/** What a command may print besides its JSON (stderr; silenced with --json where noisy). */
export interface Io {
  readonly log: (line: string) => void;
  readonly quiet: boolean;
  /** Set when the user pressed Ctrl-C (or SIGTERM arrived). */
  readonly interrupted: () => boolean;
}

export type JsonResult = Record<string, unknown>;

/** Flag names the validators' parameter names map to. */
const FLAG_NAMES: Record<string, string> = {
  units: 'units', layers: 'layers', embeddingDim: 'embedding', dropout: 'dropout', recurrentDropout: 'recurrent-dropout',
  epochs: 'epochs', batchSize: 'batch-size', learningRate: 'lr', lrDecay: 'lr-decay', clipNorm: 'clip-norm', patience: 'patience', seed: 'seed',
  seqLen: 'seq-len', stride: 'stride', valFraction: 'val-fraction', stepsPerBeat: 'grid', scheme: 'scheme',
  temperature: 'temperature', topK: 'top-k', topP: 'top-p', length: 'length', primerLength: 'primer-length', bpm: 'bpm',
  program: 'program', maxValWindows: 'max-val-windows', threads: 'threads', checkpointEverySec: 'checkpoint-every',
};

export const INSPECT_FLAGS: FlagSpecs = {
  scheme: { type: 'string', help: 'NAME tokenizer scheme: timed (default) or classic' },
  grid: { type: 'string', help: 'N grid steps per beat (default 4 = sixteenths)' },
  'include-drums': { type: 'boolean', help: 'keep drum tracks' },
  tracks: { type: 'string', help: 'LIST only these track indices, e.g. 1,2 (0-based, as in the file)' },
  programs: { type: 'string', help: 'LIST only notes played with these General-MIDI programs, e.g. 0,24' },
};

/** MIDI reading options from --include-drums, --tracks and --programs. */
function midiOptions(a: ParsedArgs): MidiReadOptions {
  const list = (name: string, lo: number, hi: number): number[] | undefined => {
    const v = str(a, name);
    if (v === undefined) return undefined;
    const xs = v.split(',').map((x) => Number(x.trim()));
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < lo || x > hi)) {
      throw new UserError(`--${name} must be a comma-separated list of integers in [${lo}, ${hi}] (got "${v}")`);
    }
    return xs;
  };
  return { includeDrums: a.values['include-drums'] === true, tracks: list('tracks', 0, 65535), programs: list('programs', 0, 127) };
}

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

export const TRAIN_FLAGS: FlagSpecs = {
  data: { type: 'string', multiple: true, help: 'DIR folder of MIDI files (repeat for several)' },
  out: { type: 'string', help: 'DIR model folder to write (e.g. models/mine)' },
  resume: { type: 'boolean', help: 'continue from the checkpoint in --out' },
  epochs: { type: 'string', help: `N maximum epochs (default ${DEFAULT_TRAIN_CONFIG.epochs})` },
  'batch-size': { type: 'string', help: `N windows per batch (default ${DEFAULT_TRAIN_CONFIG.batchSize})` },
  lr: { type: 'string', help: `X Adam learning rate (default ${DEFAULT_TRAIN_CONFIG.learningRate})` },
  'lr-decay': { type: 'string', help: `X learning-rate factor after an epoch without a better validation loss, 1 = constant (default ${DEFAULT_TRAIN_CONFIG.lrDecay})` },
  'clip-norm': { type: 'string', help: `X gradient clipping norm, 0 = off (default ${DEFAULT_TRAIN_CONFIG.clipNorm})` },
  patience: { type: 'string', help: `N early-stopping patience in epochs (default ${DEFAULT_TRAIN_CONFIG.patience})` },
  seed: { type: 'string', help: 'N random seed' },
  'seq-len': { type: 'string', help: `N tokens per training window (default ${DEFAULT_DATASET_CONFIG.seqLen})` },
  stride: { type: 'string', help: `N tokens between window starts (default ${DEFAULT_DATASET_CONFIG.stride})` },
  'val-fraction': { type: 'string', help: `X fraction of files held out (default ${DEFAULT_DATASET_CONFIG.valFraction})` },
  units: { type: 'string', help: `N LSTM units per layer (default ${DEFAULT_MODEL_CONFIG.units})` },
  layers: { type: 'string', help: `N stacked LSTM layers (default ${DEFAULT_MODEL_CONFIG.layers})` },
  embedding: { type: 'string', help: `N embedding width (default ${DEFAULT_MODEL_CONFIG.embeddingDim})` },
  dropout: { type: 'string', help: `X input dropout in [0,1) (default ${DEFAULT_MODEL_CONFIG.dropout})` },
  'recurrent-dropout': { type: 'string', help: `X recurrent dropout in [0,1) (default ${DEFAULT_MODEL_CONFIG.recurrentDropout})` },
  scheme: INSPECT_FLAGS.scheme,
  grid: INSPECT_FLAGS.grid,
  'include-drums': INSPECT_FLAGS['include-drums'],
  tracks: INSPECT_FLAGS.tracks,
  programs: INSPECT_FLAGS.programs,
  'max-files': { type: 'string', help: 'N use at most N files (quick runs)' },
  'max-val-windows': { type: 'string', help: `N validation windows per epoch, 0 = all (default ${DEFAULT_TRAIN_CONFIG.maxValWindows})` },
  'checkpoint-every': { type: 'string', help: `S seconds between mid-epoch checkpoints (default ${DEFAULT_TRAIN_CONFIG.checkpointEverySec})` },
  threads: { type: 'string', help: 'N threads computing gradients on the JS backends, 0 = one per core (default 0)' },
};

export async function trainCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const out = required(a, 'out');
  const resume = a.values.resume === true;
  let folders = strs(a, 'data');
  let tokenizer: TokenizerConfig;
  let dataset: DatasetConfig;
  let modelCfg: Partial<ModelConfig>;
  let training: TrainConfig;
  const saved = resume ? await loadSavedForResume(out) : null;
  try {
    training = validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, ...saved?.info.training, ...defined({
      epochs: num(a, 'epochs', 'int'), batchSize: num(a, 'batch-size', 'int'), learningRate: num(a, 'lr'), lrDecay: num(a, 'lr-decay'), clipNorm: num(a, 'clip-norm'),
      patience: num(a, 'patience', 'int'), seed: num(a, 'seed', 'int'), maxValWindows: num(a, 'max-val-windows', 'int'),
      checkpointEverySec: num(a, 'checkpoint-every'), threads: num(a, 'threads', 'int'),
    }) });
    if (saved) {
      tokenizer = saved.vocab.config;
      dataset = saved.info.dataset;
      modelCfg = saved.info.model;
      if (folders.length === 0) folders = [...saved.info.data.folders];
    } else {
      tokenizer = tokenizerFrom(a);
      dataset = { ...DEFAULT_DATASET_CONFIG, ...defined({ seqLen: num(a, 'seq-len', 'int'), stride: num(a, 'stride', 'int'), valFraction: num(a, 'val-fraction'), seed: num(a, 'seed', 'int') }) };
      validateDatasetConfig(dataset);
      modelCfg = { ...DEFAULT_MODEL_CONFIG, ...defined({ units: num(a, 'units', 'int'), layers: num(a, 'layers', 'int'), embeddingDim: num(a, 'embedding', 'int'), dropout: num(a, 'dropout'), recurrentDropout: num(a, 'recurrent-dropout'), seed: num(a, 'seed', 'int') }) };
      validateModelConfig({ ...DEFAULT_MODEL_CONFIG, ...modelCfg, vocabSize: 2 });
    }
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  if (folders.length === 0) throw new UserError('--data is required');
  if (!resume && hasCheckpoint(out)) throw new UserError(`${out} already has a training checkpoint: add --resume to continue it, or choose another --out`);
  const backend = await initBackend();
  // On --resume the file cap defaults to the one the run started with, so the same windows are trained on.
  const maxFiles = num(a, 'max-files', 'int') ?? saved?.info.data.maxFiles;
  const loadBar = startBar('load ', 1, io.quiet);
  const corpus = loadCorpus(folders, { ...midiOptions(a), maxFiles }, (d, t) => { loadBar.setTotal(t); loadBar.update(d); });
  loadBar.stop();
  for (const s of corpus.skipped) io.log(`skipped ${s.file}: ${s.reason}`);
  const data = prepareData(corpus.pieces, tokenizer, dataset, saved?.vocab);
  if (saved) checkSameData(out, saved.info.data, data);
  const model = newModel(data.vocab, modelCfg);
  io.log(`backend ${backend.name}; ${data.train.length} training files, ${data.val.length} validation files; vocabulary ${data.vocab.tokens.length}; ${parameterCount(model)} parameters`);
  const base = modelInfo(model, data, dataset, training, backend.name, folders);
  const info = maxFiles === undefined ? base : { ...base, data: { ...base.data, maxFiles } };
  makeDirs(out, out);
  let bar = startBar('epoch 1', 1, io.quiet);
  let barEpoch = 0;
  const result = await trainModel(
    { model, vocab: data.vocab, train: data.train, val: data.val, dataset, config: training, outDir: out, info, resume },
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
        io.log(`epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}, val perplexity ${r.valPerplexity.toFixed(2)}, ${Math.round(r.tokensPerSec)} tokens/s${isBest ? ' (best, saved)' : ''}`);
      },
      shouldStop: io.interrupted,
    },
  );
  bar.stop();
  if (result.threadsNote) io.log(result.threadsNote);
  if (result.interrupted) io.log(`interrupted: checkpoint saved in ${out}; continue with --resume`);
  else if (result.stoppedEarly) io.log(`stopped early: no better validation loss for ${training.patience} epochs`);
  const last = result.history[result.history.length - 1];
  const best = result.history.reduce((b, r) => (r.valLoss < b.valLoss ? r : b), last ?? { valLoss: NaN, valPerplexity: NaN, trainLoss: NaN });
  model.net.dispose();
  return {
    model: out, epochs: result.history.length, trainLoss: last?.trainLoss ?? null, valLoss: best?.valLoss ?? null,
    valPerplexity: best?.valPerplexity ?? null, backend: backend.name, threads: result.threads, tokensPerSec: Math.round(result.tokensPerSec), interrupted: result.interrupted,
  };
}

/** A resumed run must see the data its checkpoint was trained on (same files, same split), or its batch positions mean nothing. */
function checkSameData(out: string, was: ModelInfo['data'], data: PreparedData): void {
  const now = { trainFiles: data.train.length, valFiles: data.val.length, trainTokens: data.train.reduce((s, p) => s + p.ids.length, 0) };
  if (now.trainFiles !== was.trainFiles || now.valFiles !== was.valFiles || now.trainTokens !== was.trainTokens) {
    throw new UserError(
      `cannot resume ${out}: the data differs from the checkpoint's (${was.trainFiles}+${was.valFiles} files, ${was.trainTokens} training tokens then; ${now.trainFiles}+${now.valFiles} files, ${now.trainTokens} now): give the same --data and --max-files`,
    );
  }
}

/**
 * Creates `dir` and its missing parents one level at a time, as a UserError
 * naming `target` when that fails. (fs.mkdirSync's recursive mode spins forever
 * on paths like /proc/x on Linux, where mkdir reports ENOENT under an existing parent.)
 */
function makeDirs(dir: string, target: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d) && path.dirname(d) !== d) {
    missing.unshift(d);
    d = path.dirname(d);
  }
  if (fs.existsSync(d) && !fs.statSync(d).isDirectory()) throw new UserError(`cannot write ${target}: ${d} is not a folder`);
  for (const m of missing) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      throw new UserError(`cannot write ${target}: cannot create folder ${m} (${errCode(e)})`);
    }
  }
}

/**
 * What --resume continues from: the folder's vocabulary and settings. The
 * weights come from the checkpoint (trainModel loads them), so this works
 * even when training stopped before the first epoch saved model.json.
 */
async function loadSavedForResume(out: string) {
  if (!hasCheckpoint(out)) throw new UserError(`cannot resume: no checkpoint in ${out}`);
  await initBackend();
  return loadModelSettings(out);
}

export const GENERATE_FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'DIR model folder (default models/pretrained)' },
  out: { type: 'string', help: 'FILE.mid where to write the MIDI (default out/musicgen-SEED.mid)' },
  length: { type: 'string', help: `N events (notes or chords) to generate (default ${DEFAULT_GENERATE_CONFIG.length})` },
  temperature: { type: 'string', help: `T sampling temperature > 0 (default ${DEFAULT_GENERATE_CONFIG.temperature})` },
  'top-k': { type: 'string', help: 'K sample from the K most likely tokens, 0 = off (default 0)' },
  'top-p': { type: 'string', help: `P nucleus sampling in (0,1] (default ${DEFAULT_GENERATE_CONFIG.topP})` },
  seed: { type: 'string', help: 'S random seed; the same seed and settings give the same file (default: random, printed)' },
  primer: { type: 'string', help: 'FILE.mid continue this MIDI file instead of a seed from the data' },
  'primer-length': { type: 'string', help: `N tokens of primer (default ${DEFAULT_GENERATE_CONFIG.primerLength})` },
  data: { type: 'string', multiple: true, help: 'DIR take the seed sequence from these files (default data/)' },
  unknown: { type: 'string', help: 'POLICY for primer symbols the vocabulary lacks: nearest (default), skip, error' },
  bpm: { type: 'string', help: 'N tempo of the output (default: the primer\'s)' },
  program: { type: 'string', help: 'N General-MIDI program 0-127 (default 0, piano)' },
  wav: { type: 'string', help: 'FILE.wav also render audio (needs fluidsynth; see README)' },
};

export async function generateCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  let cfg: GenerateConfig;
  try {
    cfg = validateGenerateConfig({ ...DEFAULT_GENERATE_CONFIG, seed: randomInt(0, 2 ** 31 - 1), ...defined({
      length: num(a, 'length', 'int'), temperature: num(a, 'temperature'), topK: num(a, 'top-k', 'int'), topP: num(a, 'top-p'),
      seed: num(a, 'seed', 'int'), primerLength: num(a, 'primer-length', 'int'), bpm: num(a, 'bpm'), program: num(a, 'program', 'int'),
    }) });
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  const out = str(a, 'out') ?? path.join('out', `musicgen-${cfg.seed}.mid`);
  if (str(a, 'seed') === undefined) io.log(`seed ${cfg.seed} (give --seed ${cfg.seed} to get this piece again)`);
  const policy = (str(a, 'unknown') ?? 'nearest') as UnknownPolicy;
  if (!['nearest', 'skip', 'error'].includes(policy)) throw new UserError(`--unknown must be nearest, skip or error (got "${policy}")`);
  const wav = str(a, 'wav');
  makeDirs(path.dirname(out), out);
  if (wav) makeDirs(path.dirname(wav), wav);
  const backend = await initBackend();
  const lm = await loadModel(str(a, 'model') ?? 'models/pretrained');
  const t0 = performance.now();
  let primer: number[];
  let meta: { bpm?: number; timeSignature?: [number, number]; name: string } = { name: 'musicgen' };
  const primerFile = str(a, 'primer');
  if (primerFile) {
    const piece = readPrimer(primerFile);
    const ids = encodePiece(lm.vocab, piece, policy);
    if (ids.length === 0) throw new UserError(`--primer ${primerFile}: no notes left after applying --unknown ${policy}`);
    primer = ids.slice(-cfg.primerLength);
    const ts = piece.timeSignatures[0];
    meta = { ...meta, bpm: piece.tempos[0].bpm, timeSignature: [ts.numerator, ts.denominator] };
  } else {
    const folders = strs(a, 'data').length > 0 ? strs(a, 'data') : ['data'];
    const corpus = loadCorpus(folders.filter((f) => fs.existsSync(f)).length > 0 ? folders.filter((f) => fs.existsSync(f)) : folders);
    if (corpus.pieces.length === 0) throw new UserError(`no MIDI files to take a seed sequence from in ${folders.join(', ')} (use --primer FILE.mid)`);
    primer = primerFromData(encodePieces(lm.vocab, corpus.pieces), lm.vocab, cfg.primerLength, createRng(cfg.seed));
  }
  const weights = readStepWeights(lm.model);
  const bar = startBar('generate', cfg.length, io.quiet);
  const g = generate(weights, lm.vocab, primer, cfg, meta, (done) => bar.update(done));
  weights.dispose();
  bar.stop();
  writeMidiFile(out, g.piece);
  const seconds = (performance.now() - t0) / 1000;
  const newNotes = g.piece.notes.filter((n) => n.start >= g.seedBeats).length;
  io.log(`wrote ${out}: ${g.events} new events, ${g.piece.notes.length} notes (${newNotes} after the seed), ${(g.piece.notes.length > 0 ? Math.max(...g.piece.notes.map((n) => n.start + n.duration)) : 0).toFixed(1)} beats`);
  const result: JsonResult = {
    out, events: g.events, notes: g.piece.notes.length, seconds: round(seconds, 3), notesPerSec: Math.round(newNotes / Math.max(1e-6, g.seconds)),
    backend: backend.name,
  };
  lm.model.net.dispose();
  if (!wav) return result;
  const { renderWav } = await import('../show/synth');
  writeFileAtomic(wav, await renderWav(g.piece));
  io.log(`wrote ${wav}`);
  return { ...result, wav };
}

function readPrimer(file: string) {
  try {
    return readMidiFile(file);
  } catch (e) {
    throw new UserError(`--primer ${file}: ${(e as Error).message}`);
  }
}

export const EVALUATE_FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'DIR model folder' },
  data: { type: 'string', multiple: true, help: 'DIR held-out MIDI files to score (default: the model\'s own validation files)' },
  'train-data': { type: 'string', multiple: true, help: 'DIR the model\'s training folders (default: as recorded in its config.json)' },
  samples: { type: 'string', help: `N generated pieces for the music statistics (default ${DEFAULT_EVALUATE_OPTIONS.samples})` },
  length: GENERATE_FLAGS.length,
  temperature: GENERATE_FLAGS.temperature,
  'top-p': GENERATE_FLAGS['top-p'],
  seed: { type: 'string', help: `S seed for the generated samples (default ${DEFAULT_GENERATE_CONFIG.seed})` },
  order: { type: 'string', help: `N n-gram baseline order (default ${DEFAULT_EVALUATE_OPTIONS.ngramOrder})` },
};

export async function evaluateCommand(a: ParsedArgs, io: Io): Promise<JsonResult> {
  const modelDir = required(a, 'model');
  const heldFolders = strs(a, 'data');
  let gen: GenerateConfig;
  try {
    gen = validateGenerateConfig({ ...DEFAULT_GENERATE_CONFIG, ...defined({ length: num(a, 'length', 'int'), temperature: num(a, 'temperature'), topP: num(a, 'top-p'), seed: num(a, 'seed', 'int') }) });
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
  const samples = num(a, 'samples', 'int') ?? DEFAULT_EVALUATE_OPTIONS.samples;
  const order = num(a, 'order', 'int') ?? DEFAULT_EVALUATE_OPTIONS.ngramOrder;
  if (samples < 0 || samples > 1000) throw new UserError(`--samples must be an integer in [0, 1000] (got ${samples})`);
  if (order < 1 || order > 10) throw new UserError(`--order must be an integer in [1, 10] (got ${order})`);
  await initBackend();
  const lm = await loadModel(modelDir);
  const trainFolders = strs(a, 'train-data').length > 0 ? strs(a, 'train-data') : lm.info.data.folders.filter((f) => fs.existsSync(f));
  if (trainFolders.length === 0) throw new UserError(`the model's training folders (${lm.info.data.folders.join(', ')}) are not here: give --train-data DIR`);
  const trainCorpus = loadCorpus(trainFolders, { maxFiles: lm.info.data.maxFiles });
  const recorded = lm.info.data.trainFiles + lm.info.data.valFiles;
  if (trainCorpus.pieces.length !== recorded) {
    const missing = lm.info.data.folders.filter((f) => !fs.existsSync(f));
    io.log(
      `warning: ${modelDir} was trained on ${recorded} files (${lm.info.data.folders.join(', ')}) but ${trainCorpus.pieces.length} are here` +
        `${missing.length > 0 ? ` (missing: ${missing.join(', ')})` : ''}: the baseline and the copy check use these ${trainCorpus.pieces.length}` +
        ' (give --train-data DIR for each training folder; the Nottingham tunes: npm run -s download -- nottingham --out DIR)',
    );
  }
  const split = splitByFile(encodePieces(lm.vocab, trainCorpus.pieces), lm.info.dataset.valFraction, lm.info.dataset.seed);
  let heldOut = split.val;
  if (heldFolders.length > 0) {
    const held = loadCorpus(heldFolders);
    for (const s of held.skipped) io.log(`skipped ${s.file}: ${s.reason}`);
    if (held.pieces.length === 0) throw new UserError(`no usable MIDI files in ${heldFolders.join(', ')}`);
    heldOut = encodePieces(lm.vocab, held.pieces);
  } else {
    io.log(`no --data given: scoring the model's own ${heldOut.length} validation files`);
  }
  const bar = startBar('evaluate', heldOut.length, io.quiet);
  const ev = evaluateModel(lm.model, lm.vocab, heldOut, split.train, { samples, generate: gen, ngramOrder: order }, (stage, d, t) => {
    if (stage === 'model') bar.update(d);
    else if (d === t) io.log(`${stage} done`);
  });
  bar.stop();
  io.log(`${ev.files} files, ${ev.tokens} tokens: model NLL ${ev.nll.toFixed(4)} (perplexity ${ev.perplexity.toFixed(2)}); ${order}-gram Kneser-Ney baseline NLL ${ev.baselineNll.toFixed(4)} (perplexity ${ev.baselinePerplexity.toFixed(2)}); ${(ev.nllImprovement * 100).toFixed(1)} % lower`);
  if (ev.generated) {
    const g = ev.generated;
    const d = ev.data;
    io.log(`generated vs data: pitch-class entropy ${g.pitchClassEntropy.toFixed(3)} vs ${d.pitchClassEntropy.toFixed(3)}, scale consistency ${g.scaleConsistency.toFixed(3)} vs ${d.scaleConsistency.toFixed(3)}, longest repeated note ${g.repeatRunMax} vs ${d.repeatRunMax}, longest copy of training tokens ${ev.longestCopy} (per sample: median ${median(ev.sampleCopies) ?? 'n/a'}; held-out tunes of that length: median ${ev.heldOutCopyMedian ?? 'n/a'})`);
  }
  lm.model.net.dispose();
  return {
    files: ev.files, tokens: ev.tokens, nll: ev.nll, perplexity: ev.perplexity, baselineNll: ev.baselineNll, baselinePerplexity: ev.baselinePerplexity,
    baselineOrder: ev.baselineOrder, nllImprovement: ev.nllImprovement, generated: ev.generated, data: ev.data, longestCopy: ev.longestCopy,
    sampleCopies: ev.sampleCopies, heldOutCopyMedian: ev.heldOutCopyMedian, baselineTrainFiles: split.train.length, backend: currentBackend()?.name,
  };
}

function tokenizerFrom(a: ParsedArgs): TokenizerConfig {
  try {
    return validateTokenizerConfig({ ...DEFAULT_TOKENIZER_CONFIG, ...defined({ scheme: str(a, 'scheme') as TokenizerConfig['scheme'] | undefined, stepsPerBeat: num(a, 'grid', 'int') }) });
  } catch (e) {
    throw asFlagError(e, FLAG_NAMES);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
