/**
 * What the notebook shows: each function prints a short report or shows a
 * picture (a PNG, which GitHub's notebook view keeps) or an audio player
 * inline through tslab's display. The cells call the library's stages
 * themselves (loadCorpus, prepareData, newModel, trainModel, generateMusic,
 * writeMidiFile, loadModel) and hand the results to these. Paths are printed
 * as given, relative to the project root where the kernel runs.
 */
import * as tslab from 'tslab';
import type { Piece } from '../core/piece';
import { pitchName } from '../core/piece';
import type { PreparedData } from '../data/prepare';
import type { Generated } from '../generate/generate';
import type { Primer } from '../generate/primer';
import type { Corpus } from '../midi/corpus';
import type { NotebookConfig } from './config';
import { describeBackend, type BackendInfo } from '../model/backend';
import { modelSummary as layerTable, parameterCount, type MusicModel } from '../model/network';
import { histogramSvg, lossCurveSvg } from '../show/charts';
import { startLivePlot, type LivePlot } from '../show/live';
import { encodeMp3 } from '../show/mp3';
import { pianoRollSvg } from '../show/pianoroll';
import { svgToPng } from '../show/png';
import { renderPcm, synthMissingReason } from '../show/synth';
import type { TokenizerConfig } from '../tokens/config';
import { describeToken } from '../tokens/token';
import { pieceToTokens } from '../tokens/tokenize';
import type { TrainCallbacks, TrainResult } from '../train/loop';
import type { LoadedModel } from '../train/model-folder';

/**
 * Shows an SVG chart as a PNG image (PNG survives on GitHub's notebook view);
 * falls back to the SVG itself when no font for the PNG renderer is found.
 */
function showChart(svg: string, width = 900): void {
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

/** Which tfjs backend runs the model, and how to get the native one when it is not. */
export function backendInfo(info: BackendInfo): void {
  console.log(`tfjs backend: ${describeBackend(info)}`);
  if (!info.native) console.log('(install @tensorflow/tfjs-node where it can be installed for native speed: npm install @tensorflow/tfjs-node)');
}

/** The settings every stage will use, one line per stage (after any quick-run overrides). */
export function settings(config: NotebookConfig): void {
  const { dataset: d, model: m, training: t, generation: g } = config;
  const files = config.maxFiles > 0 ? `at most ${config.maxFiles} files` : 'all files';
  console.log(`data: ${config.dataFolders.join(', ')} (${files}); ${config.tokenizer.scheme} tokens; windows of ${d.seqLen} tokens, stride ${d.stride}`);
  console.log(`model: embedding ${m.embeddingDim} → ${m.layers} × LSTM ${m.units} → softmax; dropout ${m.dropout}`);
  console.log(`training: up to ${t.epochs} epochs, batches of ${t.batchSize}, learning rate ${t.learningRate}, seed ${t.seed} → ${config.modelDir}/`);
  console.log(`generation: ${g.length} events after a ${g.primerLength}-token primer, temperature ${g.temperature}, top-p ${g.topP}`);
}

/** Files found, used and skipped (with the reason), and the number of notes. */
export function corpusReport(corpus: Corpus): void {
  const notes = corpus.pieces.reduce((a, p) => a + p.notes.length, 0);
  console.log(`${corpus.files} MIDI files in ${corpus.folders.join(', ')}: ${corpus.pieces.length} used, ${corpus.skipped.length} skipped; ${notes} notes`);
  for (const s of corpus.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
}

/** The vocabulary by kind of token, and the split by file. */
export function dataReport(data: PreparedData): void {
  const kinds = new Map<string, number>();
  for (const t of data.vocab.tokens) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
  const names: Record<string, string> = { event: 'notes/chords', dur: 'durations', shift: 'time shifts' };
  const byKind = [...kinds].map(([kind, n]) => `${n} ${names[kind] ?? kind}`).join(', ');
  const files = (pieces: PreparedData['train'], what: string): string =>
    `${pieces.length} ${what} file${pieces.length === 1 ? '' : 's'} (${pieces.reduce((a, p) => a + p.ids.length, 0)} tokens)`;
  console.log(`vocabulary: ${data.vocab.tokens.length} tokens (${byKind})`);
  console.log(`split by file: ${files(data.train, 'training')}, ${files(data.val, 'validation')}`);
}

/** The first tokens of a piece, in readable form. */
export function tokenSample(piece: Piece, tokenizer: TokenizerConfig, count = 24): void {
  const sample = pieceToTokens(piece, tokenizer).slice(0, count).map(describeToken);
  console.log(`first ${sample.length} tokens of ${piece.name}:\n  ${sample.join('  ')}`);
}

/** A bar chart of how often each pitch occurs in the pieces. */
export function pitchHistogram(pieces: readonly Piece[]): void {
  const counts = new Map<number, number>();
  for (const p of pieces) for (const n of p.notes) counts.set(n.pitch, (counts.get(n.pitch) ?? 0) + 1);
  const items = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([p, count]) => ({ label: pitchName(p), count }));
  showChart(histogramSvg(items, { title: 'Pitches in the data (notes per pitch)' }));
}

/** The model's layers with their shapes, and its size. */
export function modelSummary(model: MusicModel): void {
  console.log(layerTable(model));
  console.log(`${parameterCount(model).toLocaleString('en')} parameters`);
}

/** Training callbacks that print progress, plus the live chart when one was started. */
export interface TrainingProgress extends TrainCallbacks {
  readonly live: LivePlot | null;
}

/**
 * Callbacks for trainModel: a progress bar line four times per epoch, a line
 * per epoch, and with `livePlot` a live loss chart in the browser (nodeplotlib).
 */
export function trainingProgress(livePlot: boolean): TrainingProgress {
  const live = livePlot ? startLivePlot() : null;
  if (live && !live.active) console.log(live.reason);
  let nextReport = 0;
  return {
    live,
    onBatch: (p) => {
      if (p.batch === 1) nextReport = 0;
      if (p.batch / p.batches < nextReport && p.batch !== p.batches) return;
      nextReport += 0.25;
      const filled = Math.round((p.batch / p.batches) * 20);
      const bar = `[${'█'.repeat(filled)}${'░'.repeat(20 - filled)}]`;
      console.log(`epoch ${p.epoch}/${p.epochs} ${bar} ${p.batch}/${p.batches} loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSec)} tokens/s · ETA ${Math.round(p.etaSec)} s`);
    },
    onEpoch: (r, best) => {
      live?.onEpoch(r);
      console.log(`epoch ${r.epoch}: train ${r.trainLoss.toFixed(3)}, validation ${r.valLoss.toFixed(3)} (perplexity ${r.valPerplexity.toFixed(2)})${best ? ' ✓ best, saved' : ''}`);
    },
  };
}

/** After training: stops the live chart, shows the loss curve and says where the best model was saved. */
export function trainingReport(result: TrainResult, modelDir: string, progress: TrainingProgress): void {
  progress.live?.stop();
  showChart(lossCurveSvg(result.history, { title: 'Training history' }), 720);
  if (result.threadsNote) console.log(result.threadsNote);
  const how = result.interrupted ? 'interrupted' : result.stoppedEarly ? 'stopped early (no better validation loss)' : 'done';
  const threads = `${result.threads} thread${result.threads === 1 ? '' : 's'}`;
  console.log(`training ${how}: best validation loss ${result.bestValLoss.toFixed(3)}; model saved in ${modelDir}/ (${threads})`);
}

/** One line on what was generated, and its piano roll (the primer in grey). */
export function generated(g: Generated, primer: Primer): void {
  console.log(`${g.events} new events, ${g.newNotes} new notes in ${g.seconds.toFixed(2)} s after a primer of ${g.primerLength} tokens from ${primer.source}`);
  showChart(pianoRollSvg(g.piece, { primerBeats: g.primerBeats, title: 'Generated piece (primer in grey)' }));
}

/** Seconds of audio the player holds (the MIDI file has the whole piece). */
const PREVIEW_SECONDS = 30;

/**
 * An audio player for the first `seconds` of a piece: rendered with FluidSynth
 * (mono, 22.05 kHz) and embedded as a 40 kbit/s MP3. Without a synthesizer it
 * prints why instead.
 */
export async function audioPlayer(piece: Piece, seconds = PREVIEW_SECONDS): Promise<void> {
  const missing = synthMissingReason();
  if (missing) {
    console.log(`no audio player: ${missing}`);
    return;
  }
  const lastBeat = (seconds * piece.tempos[0].bpm) / 60;
  const notes = piece.notes.filter((n) => n.start < lastBeat).map((n) => ({ ...n, duration: Math.min(n.duration, lastBeat - n.start) }));
  const mp3 = await encodeMp3(await renderPcm({ ...piece, notes }, { channels: 1, sampleRate: 22050 }), 40);
  const cut = notes.length < piece.notes.length ? `the first ${seconds} s` : 'the whole piece';
  console.log(`audio: ${cut}, played by FluidSynth (MP3, ${Math.round(mp3.length / 1024)} KB)`);
  tslab.display.html(`<audio controls preload="auto" src="data:audio/mpeg;base64,${Buffer.from(mp3).toString('base64')}"></audio>`);
}

/**
 * What a loaded model folder is: its size, its data, and its best validation
 * score, saying how that score is measured.
 */
export function modelCard(m: LoadedModel): void {
  const { model, data, dataset, training } = m.info;
  console.log(`loaded ${m.dir}: ${model.layers}×${model.units} LSTM, vocabulary ${m.vocab.tokens.length} tokens, ${parameterCount(m.model).toLocaleString('en')} parameters`);
  console.log(`trained on ${data.trainFiles} files (${data.trainTokens.toLocaleString('en')} tokens), ${m.history.length} epochs; validated on ${data.valFiles} other files`);
  if (m.history.length === 0) return;
  const best = m.history.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
  const windows = `${training.maxValWindows > 0 ? `up to ${training.maxValWindows.toLocaleString('en')} ` : ''}windows of ${dataset.seqLen} tokens`;
  console.log(`best epoch ${best.epoch}: validation loss ${best.valLoss.toFixed(3)} nats/token, perplexity ${best.valPerplexity.toFixed(2)}`);
  console.log(`  measured as training does: ${windows} of the validation files, each read from a fresh LSTM state`);
  console.log(`  (\`musicgen evaluate --model ${m.dir}\` measures whole files instead, carrying the state through each)`);
}
