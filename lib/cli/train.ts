/**
 * `musicgen train`: train a model on folders of MIDI files, or resume one.
 */
import { initBackend } from '../model/backend';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../train/config';
import { DEFAULT_DATASET_CONFIG, validateDatasetConfig, type DatasetConfig } from '../data/dataset';
import { UserError } from '../core/errors';
import { DEFAULT_MODEL_CONFIG, parameterCount, validateModelConfig, type ModelConfig } from '../model/network';
import { prepareData, type PreparedData } from '../data/prepare';
import { loadCorpus } from '../midi/corpus';
import { modelInfo } from '../train/model-folder';
import { newModel } from '../model/network';
import { hasCheckpoint } from '../train/checkpoint';
import { loadModelSettings, type ModelInfo } from '../train/model-folder';
import { type TokenizerConfig } from '../tokens/config';
import { trainModel } from '../train/loop';
import { asFlagError, defined, num, required, strs, type FlagSpecs, type ParsedArgs } from './args';
import { startBar } from './progress';
import { FLAG_NAMES, makeDirs, midiOptions, round, tokenizerFrom, MIDI_FLAGS, TOKENIZER_FLAGS, type Io, type JsonResult } from './shared';

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
  ...TOKENIZER_FLAGS,
  ...MIDI_FLAGS,
  'max-files': { type: 'string', help: 'N use at most N files (quick runs)' },
  'max-val-windows': { type: 'string', help: `N validation windows per epoch, 0 = all (default ${DEFAULT_TRAIN_CONFIG.maxValWindows})` },
  'checkpoint-every': { type: 'string', help: `S seconds between mid-epoch checkpoints (default ${DEFAULT_TRAIN_CONFIG.checkpointEverySec})` },
  transpose: { type: 'string', help: `N transpose each training window by a random shift of up to N semitones, 0 = off (remi only; default ${DEFAULT_TRAIN_CONFIG.transpose})` },
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
      checkpointEverySec: num(a, 'checkpoint-every'), threads: num(a, 'threads', 'int'), transpose: num(a, 'transpose', 'int'),
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
 * What --resume continues from: the folder's vocabulary and settings. The
 * weights come from the checkpoint (trainModel loads them), so this works
 * even when training stopped before the first epoch saved model.json.
 */
async function loadSavedForResume(out: string) {
  if (!hasCheckpoint(out)) throw new UserError(`cannot resume: no checkpoint in ${out}`);
  await initBackend();
  return loadModelSettings(out);
}

