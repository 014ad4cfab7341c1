/**
 * The notebook's helpers: each notebook cell calls one or two of these. They
 * wire the lib/ stages together and show results inline (text, PNG pictures
 * that render on GitHub, an audio player) through tslab's display. Nothing
 * here holds logic of its own beyond presentation.
 */
import * as path from 'node:path';
import * as tslab from 'tslab';
import { describeBackend, initBackend, type BackendInfo } from '../model/backend';
import { DEFAULT_TRAIN_CONFIG, type EpochRecord, type TrainConfig } from '../train/config';
import { DEFAULT_DATASET_CONFIG, encodePieces, type DatasetConfig } from '../data/dataset';
import { DEFAULT_GENERATE_CONFIG, generateMusic, type GenerateConfig, type Generated } from '../generate/generate';
import { primerFromPieces } from '../generate/primer';
import { writeMidiFile } from '../midi/write';
import { DEFAULT_MODEL_CONFIG, modelSummary, parameterCount, type ModelConfig, type MusicModel } from '../model/network';
import { pitchName, type Piece } from '../core/piece';
import { corpusStats, prepareData, type PreparedData } from '../data/prepare';
import { loadCorpus, type Corpus } from '../midi/corpus';
import { modelInfo } from '../train/model-folder';
import { newModel } from '../model/network';
import { histogramSvg, lossCurveSvg } from '../show/charts';
import { pianoRollSvg } from '../show/pianoroll';
import { svgToPng } from '../show/png';
import { createRng } from '../core/rng';
import { loadModel, type LoadedModel } from '../train/model-folder';
import { DEFAULT_TOKENIZER_CONFIG, type TokenizerConfig } from '../tokens/config';
import { pieceToTokens } from '../tokens/tokenize';
import { describeToken } from '../tokens/token';
import { trainModel, type TrainResult } from '../train/loop';
import type { Vocabulary } from '../tokens/vocabulary';

/** Every knob the notebook exposes, in one object. */
export interface NotebookConfig {
  readonly dataFolders: readonly string[];
  readonly tokenizer: TokenizerConfig;
  readonly dataset: DatasetConfig;
  readonly model: Omit<ModelConfig, 'vocabSize'>;
  readonly training: TrainConfig;
  readonly generation: GenerateConfig;
  /** Where the notebook's own model is saved. */
  readonly modelDir: string;
  /** Where exported MIDI goes. */
  readonly outDir: string;
  /** Open nodeplotlib's live loss chart in a browser while training. */
  readonly livePlot: boolean;
  /** Use at most this many files (0 = all). */
  readonly maxFiles: number;
}

export const DEFAULT_NOTEBOOK_CONFIG: NotebookConfig = {
  dataFolders: ['data'],
  tokenizer: DEFAULT_TOKENIZER_CONFIG,
  dataset: DEFAULT_DATASET_CONFIG,
  model: DEFAULT_MODEL_CONFIG,
  training: DEFAULT_TRAIN_CONFIG,
  generation: DEFAULT_GENERATE_CONFIG,
  modelDir: 'models/notebook',
  outDir: 'out',
  livePlot: false,
  maxFiles: 0,
};

/** The hyperparameters of the notebook's one settings cell, flat and easy to edit. */
export interface Hyperparameters {
  /** Folder(s) of MIDI files to learn from. */
  readonly dataFolder: string | readonly string[];
  /** Use at most this many files (0 = all). */
  readonly maxFiles: number;
  /** Tokens per training window. */
  readonly seqLen: number;
  readonly embeddingDim: number;
  readonly units: number;
  readonly layers: number;
  readonly dropout: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Sampling temperature (> 0). */
  readonly temperature: number;
  /** Nucleus sampling threshold in (0, 1]. */
  readonly topP: number;
  /** Events (notes or chords) to generate. */
  readonly length: number;
  /** Seed for the split, the initial weights, training and sampling. */
  readonly seed: number;
  /** Open a live loss chart in the browser (nodeplotlib) while training. */
  readonly livePlot: boolean;
}

/** Expands the flat hyperparameters into every component's config (their defaults fill the rest). */
export function notebookConfig(hp: Hyperparameters): NotebookConfig {
  const d = DEFAULT_NOTEBOOK_CONFIG;
  return {
    ...d,
    dataFolders: typeof hp.dataFolder === 'string' ? [hp.dataFolder] : hp.dataFolder,
    maxFiles: hp.maxFiles,
    dataset: { ...d.dataset, seqLen: hp.seqLen, stride: Math.max(1, Math.floor(hp.seqLen / 2)), seed: hp.seed },
    model: { ...d.model, embeddingDim: hp.embeddingDim, units: hp.units, layers: hp.layers, dropout: hp.dropout, seed: hp.seed },
    training: { ...d.training, epochs: hp.epochs, batchSize: hp.batchSize, learningRate: hp.learningRate, seed: hp.seed },
    generation: { ...d.generation, temperature: hp.temperature, topP: hp.topP, length: hp.length, seed: hp.seed },
    livePlot: hp.livePlot,
  };
}

/**
 * Shows an SVG chart as a PNG image (PNG survives on GitHub's notebook view);
 * falls back to the SVG itself when no font for the PNG renderer is found.
 */
export function showChart(svg: string, width = 900): void {
  let png: Uint8Array;
  try {
    png = svgToPng(svg, { width });
  } catch (e) {
    console.log(`(showing SVG: ${(e as Error).message})`);
    tslab.display.svg(svg);
    return;
  }
  tslab.display.png(png);
}

/** Picks the fastest tfjs backend and says which one is used. */
export async function setUpBackend(): Promise<BackendInfo> {
  const info = await initBackend();
  console.log(`tfjs backend: ${describeBackend(info)}`);
  if (!info.native) console.log('(install @tensorflow/tfjs-node where it can be installed for native speed: npm install @tensorflow/tfjs-node)');
  return info;
}

/** Loads the MIDI folders and prints the report (files, notes, skipped files with reasons). */
export function loadData(config: NotebookConfig): Corpus {
  const corpus = loadCorpus(config.dataFolders, { maxFiles: config.maxFiles || undefined });
  const notes = corpus.pieces.reduce((a, p) => a + p.notes.length, 0);
  console.log(`${corpus.files} MIDI files in ${config.dataFolders.join(', ')}: ${corpus.pieces.length} used, ${corpus.skipped.length} skipped; ${notes} notes`);
  for (const s of corpus.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
  return corpus;
}

/** Tokenizes, builds the vocabulary, splits by file; prints sizes, a readable sample and a pitch histogram. */
export function tokenize(corpus: Corpus, config: NotebookConfig): PreparedData {
  const data = prepareData(corpus.pieces, config.tokenizer, config.dataset);
  const stats = corpusStats(corpus, config.tokenizer);
  console.log(`vocabulary: ${data.vocab.tokens.length} tokens (${kindCounts(data.vocab)}); ${stats.tokens} tokens, ${stats.events} events`);
  console.log(`split by file: ${data.train.length} training, ${data.val.length} validation`);
  const sample = pieceToTokens(corpus.pieces[0], config.tokenizer).slice(0, 24).map(describeToken);
  console.log(`first tokens of ${corpus.pieces[0].name}:\n  ${sample.join('  ')}`);
  const counts = new Map<number, number>();
  for (const p of corpus.pieces) for (const n of p.notes) counts.set(n.pitch, (counts.get(n.pitch) ?? 0) + 1);
  const items = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([p, count]) => ({ label: pitchName(p), count }));
  showChart(histogramSvg(items, { title: 'Pitches in the data (notes per pitch)' }));
  return data;
}

function kindCounts(v: Vocabulary): string {
  const c = { event: 0, dur: 0, shift: 0 };
  for (const t of v.tokens) c[t.kind]++;
  return `${c.event} notes/chords, ${c.dur} durations, ${c.shift} time shifts`;
}

/** Builds a fresh model for the vocabulary and prints its summary. */
export function buildNotebookModel(data: PreparedData, config: NotebookConfig): MusicModel {
  const model = newModel(data.vocab, config.model);
  console.log(modelSummary(model));
  console.log(`${parameterCount(model).toLocaleString('en')} parameters`);
  return model;
}

/** Trains with progress lines (and the live chart when asked), then shows the loss curve. */
export async function trainInNotebook(model: MusicModel, data: PreparedData, config: NotebookConfig, backend: BackendInfo): Promise<TrainResult> {
  const live = config.livePlot ? (await import('../show/live')).startLivePlot() : null;
  let nextReport = 0;
  const history: EpochRecord[] = [];
  const result = await trainModel(
    {
      model, vocab: data.vocab, train: data.train, val: data.val, dataset: config.dataset, config: config.training, outDir: config.modelDir,
      info: modelInfo(model, data, config.dataset, config.training, backend.name, config.dataFolders),
    },
    {
      onBatch: (p) => {
        if (p.batch === 1) nextReport = 0;
        if (p.batch / p.batches >= nextReport || p.batch === p.batches) {
          console.log(`epoch ${p.epoch}/${p.epochs} ${bar(p.batch / p.batches)} ${p.batch}/${p.batches} loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSec)} tokens/s · ETA ${Math.round(p.etaSec)} s`);
          nextReport += 0.25;
        }
      },
      onEpoch: (r, best) => {
        history.push(r);
        live?.onEpoch(r);
        console.log(`epoch ${r.epoch}: train ${r.trainLoss.toFixed(3)}, validation ${r.valLoss.toFixed(3)} (perplexity ${r.valPerplexity.toFixed(2)})${best ? ' ✓ best, saved' : ''}`);
      },
    },
  );
  live?.stop();
  showChart(lossCurveSvg(result.history, { title: 'Training history' }), 720);
  if (result.threadsNote) console.log(result.threadsNote);
  console.log(`model saved in ${path.resolve(config.modelDir)} (trained on ${backend.name}, ${result.threads} thread${result.threads === 1 ? '' : 's'})`);
  return result;
}

function bar(f: number): string {
  const n = Math.round(f * 20);
  return `[${'█'.repeat(n)}${'░'.repeat(20 - n)}]`;
}

/** Generates from a primer drawn from the data, and shows the piano roll. */
export function generateFromData(model: MusicModel, vocab: Vocabulary, pieces: readonly Piece[], settings: GenerateConfig): Generated {
  const primer = primerFromPieces(pieces, vocab, settings.primerLength, createRng(settings.seed));
  const g = generateMusic(model, vocab, primer, settings, { name: 'musicgen' });
  console.log(`${g.events} new events, ${g.piece.notes.length} notes in ${g.seconds.toFixed(2)} s (the first ${g.primerLength} tokens are the primer, from ${primer.source})`);
  showChart(pianoRollSvg(g.piece, { primerBeats: g.primerBeats, title: 'Generated piece (primer in grey)' }));
  return g;
}

/** Seconds of audio embedded in the notebook (the MIDI file has the whole piece). */
export const PREVIEW_SECONDS = 30;

/** Writes the MIDI file, prints its path, and shows an audio player when a synthesizer is installed. */
export async function exportPiece(g: Generated, file: string): Promise<void> {
  writeMidiFile(file, g.piece);
  console.log(`MIDI written to ${path.resolve(file)}`);
  const audio = await import('../show/synth');
  const missing = audio.synthMissingReason();
  if (missing) {
    console.log(`no audio preview: ${missing}`);
    return;
  }
  const bpm = g.piece.tempos[0].bpm;
  const lastBeat = (PREVIEW_SECONDS * bpm) / 60;
  const preview = { ...g.piece, notes: g.piece.notes.filter((n) => n.start < lastBeat).map((n) => ({ ...n, duration: Math.min(n.duration, lastBeat - n.start) })) };
  const wav = await audio.renderWav(preview, { channels: 1, sampleRate: 16000 });
  console.log(`audio preview (first ${PREVIEW_SECONDS} s, FluidSynth):`);
  tslab.display.html(`<audio controls src="data:audio/wav;base64,${Buffer.from(wav).toString('base64')}"></audio>`);
}

/** Loads a trained model folder (the shipped one by default) and says what it is. */
export async function loadPretrained(dir = 'models/pretrained'): Promise<LoadedModel> {
  await setUpBackend();
  const lm = await loadModel(dir);
  const last = lm.history[lm.history.length - 1];
  console.log(`loaded ${dir}: ${lm.model.config.layers}×${lm.model.config.units} LSTM, vocabulary ${lm.vocab.tokens.length}, ${lm.history.length} epochs${last ? `, validation perplexity ${Math.min(...lm.history.map((h) => h.valPerplexity)).toFixed(2)}` : ''}`);
  return lm;
}

/** Generates a new piece with a loaded model (seed from `dataFolders`), shows it and exports it. */
export async function generateWithPretrained(lm: LoadedModel, settings: GenerateConfig, file: string, dataFolders: readonly string[] = ['data']): Promise<Generated> {
  const corpus = loadCorpus(dataFolders);
  const g = generateFromData(lm.model, lm.vocab, corpus.pieces, settings);
  await exportPiece(g, file);
  return g;
}
export { DEFAULT_GENERATE_CONFIG } from '../generate/generate';
