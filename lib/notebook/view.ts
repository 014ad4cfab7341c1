/**
 * What the notebook shows (its cells import this as `view`): each function
 * prints a short report or shows a picture (a PNG, which GitHub's notebook view keeps) or an audio player
 * inline through tslab's display. The cells call the library's stages
 * themselves (loadCorpus, prepareData, newModel, trainModel, generateMusic,
 * writeMidiFile, loadModel) and hand the results to these. Paths are printed
 * as given, relative to the project root where the kernel runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tslab from 'tslab';
import { UserError } from '../core/errors';
import { showPath } from '../core/files';
import type { Piece } from '../core/piece';
import { pitchName } from '../core/piece';
import { createRng } from '../core/rng';
import { againstData } from '../evaluate/against-data';
import type { PreparedData } from '../data/prepare';
import type { Generated } from '../generate/generate';
import type { Primer } from '../generate/primer';
import type { Corpus } from '../midi/corpus';
import type { NotebookConfig } from './config';
import { describeBackend, type BackendInfo } from '../model/backend';
import { layerTable, parameterCount, type MusicModel } from '../model/network';
import { histogramSvg, lossCurveSvg } from '../show/charts';
import { startLivePlot, type LivePlot } from '../show/live';
import { encodeMp3 } from '../show/mp3';
import { pianoRollSvg } from '../show/pianoroll';
import { svgToPng } from '../show/png';
import { renderPcm, synthMissingReason } from '../show/synth';
import type { TokenizerConfig } from '../tokens/config';
import { describeToken, type Token } from '../tokens/token';
import { pieceToTokens, schemeOf } from '../tokens/tokenize';
import type { Vocabulary } from '../tokens/vocabulary';
import type { TrainCallbacks, TrainResult } from '../train/loop';
import { loadModelSettings, type LoadedModel } from '../store/load';
import { findModelFolder, isModelFolder } from '../store/folder';

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

/** "1 epoch", "20 epochs". */
const plural = (n: number, noun: string): string => `${n.toLocaleString('en')} ${noun}${n === 1 ? '' : 's'}`;

/** Which tfjs backend runs the model, and how to get the native one when it is not. */
export function backendInfo(info: BackendInfo): void {
  console.log(`tfjs backend: ${describeBackend(info)}`);
  if (!info.native)
    console.log('(install @tensorflow/tfjs-node where it can be installed for native speed: npm install @tensorflow/tfjs-node)');
}

/** What each tokenization scheme writes, in a few words. */
const SCHEME_WORDS: Readonly<Record<TokenizerConfig['scheme'], string>> = {
  remi: 'bars, positions, notes with velocity and duration',
  timed: 'notes and their timings',
  classic: 'notes and chords, no timing',
};

/** A scheme's name with what it writes, e.g. "remi tokens (bars, positions, notes with velocity and duration)". */
const schemeLabel = (t: TokenizerConfig): string => `${t.scheme} tokens (${SCHEME_WORDS[t.scheme]}, ${t.stepsPerBeat} steps per beat)`;

/** "windows transposed at random by up to ±N semitones", or nothing when transposition is off. */
const transposeLabel = (semitones: number): string =>
  semitones > 0 ? `, windows transposed at random by up to ±${semitones} semitones` : '';

/** The settings every stage will use, one line per stage (after any quick-run overrides). */
export function settings(config: NotebookConfig): void {
  const { dataset: d, model: m, training: t, generation: g } = config;
  const files = config.maxFiles > 0 ? `at most ${config.maxFiles} files` : 'all files';
  console.log(`data: ${config.dataFolders.join(', ')} (${files}); windows of ${d.seqLen} tokens, stride ${d.stride}`);
  console.log(`tokens: ${schemeLabel(config.tokenizer)}`);
  const steps =
    m.family === 'note'
      ? `one step per note or bar: its tokens embedded → ${m.layers} × LSTM ${m.units} → a head LSTM ${m.headUnits ?? 128} ` +
        `writing the next note's tokens → softmax`
      : `embedding ${m.embeddingDim} → ${m.layers} × LSTM ${m.units} → softmax`;
  console.log(`model: ${steps}; dropout ${m.dropout}`);
  console.log(
    `training: up to ${plural(t.epochs, 'epoch')}, batches of ${t.batchSize}, learning rate ${t.learningRate}${transposeLabel(t.transposeRange)}, ` +
      `seed ${t.seed} → ${config.modelDir}/`,
  );
  console.log(
    `generation: ${g.run.length} events after a ${config.primerLength}-token primer, temperature ${g.sampling.temperature}, top-p ${g.sampling.topP}`,
  );
}

/** Files found, used and skipped (with the reason), what was dropped from files that loaded, and the number of notes. */
export function corpusReport(corpus: Corpus): void {
  const notes = corpus.pieces.reduce((a, p) => a + p.notes.length, 0);
  const warned = corpus.warnings.length > 0 ? ` (${corpus.warnings.length} with a warning)` : '';
  console.log(
    `${corpus.files} MIDI files in ${corpus.folders.join(', ')}: ${corpus.pieces.length} used${warned}, ${corpus.skipped.length} skipped; ${notes} notes`,
  );
  for (const s of corpus.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
  for (const w of corpus.warnings) console.log(`  ${w.file}: ${w.warning}`);
}

/** Every kind of token, in reading order, with what its tokens are (how describeToken writes one, in brackets). */
const KIND_NAMES: Readonly<Record<Token['kind'], string>> = {
  bos: 'start of a piece ("start")',
  bar: 'start of a bar ("bar")',
  ts: 'time signatures ("3/4")',
  pos: 'positions in the bar, in grid steps ("@12")',
  tempo: 'tempos ("♩=120")',
  program: 'instruments: General-MIDI programs and drums ("program 0")',
  event: 'pitches ("C4")',
  vel: 'velocity bins ("vel 5")',
  dur: 'durations, in grid steps ("dur 12")',
  shift: 'time shifts, in grid steps ("wait 4")',
};

/** What the event tokens of a scheme are: single pitches (remi) or notes and chords. */
const kindName = (kind: Token['kind'], vocab: Vocabulary): string =>
  kind === 'event' && vocab.tokens.some((t) => t.kind === 'event' && t.pitches.length > 1)
    ? 'notes and chords ("C4", "[C3 E3 G3]")'
    : KIND_NAMES[kind];

/**
 * The vocabulary by kind of token (for a fixed vocabulary, how many of each
 * occur in the data), and the split by file.
 */
export function dataReport(data: PreparedData): void {
  const { vocab } = data;
  const fixed = schemeOf(vocab.config).fixedVocabulary !== undefined;
  const kinds = new Map<Token['kind'], { all: number; used: number }>();
  vocab.tokens.forEach((t, i) => {
    const k = kinds.get(t.kind) ?? { all: 0, used: 0 };
    kinds.set(t.kind, { all: k.all + 1, used: k.used + (vocab.counts[i] > 0 ? 1 : 0) });
  });
  const used = vocab.counts.filter((c) => c > 0).length;
  const how = fixed
    ? `fixed by the ${vocab.config.scheme} settings, the same for any corpus; ${used} of them occur in this data`
    : 'the ones this data uses';
  console.log(`vocabulary: ${vocab.tokens.length} ${vocab.config.scheme} tokens (${how})`);
  const order = Object.keys(KIND_NAMES) as Token['kind'][];
  for (const kind of order) {
    const k = kinds.get(kind);
    if (!k) continue;
    console.log(`  ${String(k.all).padStart(4)} ${kindName(kind, vocab)}${fixed ? `: ${k.used} in the data` : ''}`);
  }
  const files = (pieces: PreparedData['train'], what: string): string =>
    `${plural(pieces.length, `${what} file`)} (${pieces.reduce((a, p) => a + p.ids.length, 0).toLocaleString('en')} tokens)`;
  console.log(`split by file: ${files(data.train, 'training')}, ${files(data.val, 'validation')}`);
}

/**
 * The first tokens of a piece (about `count`), in readable form. With bar
 * tokens (remi) the sample ends at a bar line and each bar starts a new line;
 * lines wrap at about `width` characters.
 */
export function tokenSample(piece: Piece, tokenizer: TokenizerConfig, count = 60, width = 110): void {
  const all = pieceToTokens(piece, tokenizer);
  let tokens = all.slice(0, count);
  const lastBar = tokens.map((t) => t.kind).lastIndexOf('bar');
  if (all.length > count && lastBar > count / 2) tokens = tokens.slice(0, lastBar);
  const lines: string[] = [];
  let line: string[] = [];
  for (const t of tokens) {
    const text = describeToken(t);
    const length = line.reduce((a, w) => a + w.length + 2, 0);
    if (line.length > 0 && (t.kind === 'bar' || length + text.length > width)) {
      lines.push((lines.length > 0 && line[0] !== 'bar' && tokens.some((x) => x.kind === 'bar') ? '  ' : '') + line.join('  '));
      line = [];
    }
    line.push(text);
  }
  if (line.length > 0) lines.push(line.join('  '));
  const bars = tokens.filter((t) => t.kind === 'bar').length;
  const perBar = bars > 0 ? ` (${plural(bars, 'bar')}, one per line)` : '';
  console.log(`first ${tokens.length} of the ${all.length.toLocaleString('en')} tokens of ${piece.name}${perBar}:`);
  for (const l of lines) console.log(`  ${l}`);
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
  /** Ends the progress line when one is on screen (a run stopped mid-epoch). */
  readonly endLine: () => void;
}

/** How often the progress line is redrawn, at most. */
const PROGRESS_EVERY_MS = 500;

/**
 * Callbacks for trainModel: one progress line that is redrawn in place (a
 * carriage return, as tqdm does in Jupyter), replaced at the end of each
 * epoch by that epoch's line; with `livePlot` a live loss chart in the
 * browser (nodeplotlib).
 */
export function trainingProgress(livePlot: boolean): TrainingProgress {
  const live = livePlot ? startLivePlot() : null;
  if (live && !live.active) console.log(live.reason);
  let width = 0;
  let drawn = 0;
  /** Writes `text` over the line on screen; `done` ends the line. */
  const put = (text: string, done: boolean): void => {
    process.stdout.write(`\r${text.padEnd(width)}${done ? '\n' : ''}`);
    width = done ? 0 : text.length;
  };
  return {
    live,
    onBatch: (p) => {
      if (p.batch !== p.batches && Date.now() - drawn < PROGRESS_EVERY_MS) return;
      drawn = Date.now();
      const filled = Math.round((p.batch / p.batches) * 20);
      const bar = `[${'█'.repeat(filled)}${'░'.repeat(20 - filled)}]`;
      put(
        `epoch ${p.epoch}/${p.epochs} ${bar} ${p.batch}/${p.batches} loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSec)} ` +
          `tokens/s · ETA ${Math.round(p.etaSec)} s`,
        false,
      );
    },
    onEpoch: (r, best) => {
      live?.onEpoch(r);
      put(
        `epoch ${r.epoch}: train ${r.trainLoss.toFixed(3)}, validation ${r.valLoss.toFixed(3)} (perplexity ${r.valPerplexity.toFixed(2)})${best ? ' ✓ best, saved' : ''}`,
        true,
      );
    },
    onNote: (line) => put(line, true),
    endLine: () => {
      if (width > 0) put('', true);
    },
  };
}

/** After training: stops the live chart, shows the loss curve and says where the best model was saved. */
export function trainingReport(result: TrainResult, modelDir: string, progress: TrainingProgress): void {
  progress.endLine();
  progress.live?.stop();
  showChart(lossCurveSvg(result.history, { title: 'Training history' }), 720);
  if (result.threadsNote) console.log(result.threadsNote);
  const how = result.interrupted
    ? 'interrupted'
    : result.stoppedEarly
      ? 'stopped early (no better validation loss)'
      : result.outOfTime
        ? 'stopped at its time limit'
        : 'done';
  const threads = plural(result.threads, 'thread');
  console.log(`training ${how}: best validation loss ${result.bestValLoss.toFixed(3)}; model saved in ${modelDir}/ (${threads})`);
}

/** One line on what was generated, and its piano roll (the primer in grey). */
export function generated(g: Generated, primer: Primer): void {
  console.log(
    `${g.events} new events, ${g.newNotes} new notes in ${g.seconds.toFixed(2)} s after a primer of ${g.primerLength} tokens from ${primer.source}`,
  );
  showChart(pianoRollSvg(g.piece, { primerBeats: g.primerBeats, title: 'Generated piece (primer in grey)' }));
}

/** What each compared statistic is, in a few words. */
const STAT_WORDS: Readonly<Record<string, string>> = {
  barRepetition: 'bars that repeat one of the 8 before',
  meterChangesPer100Bars: 'meter changes per 100 bars',
  grooveConsistency: 'groove consistency (same rhythm bar to bar = 1)',
  programsPer1000Notes: 'distinct programs per 1,000 notes',
  pitchClassEntropy: 'pitch-class entropy (bits)',
  polyphony: 'notes sounding at once',
  noteDensity: 'notes per beat',
  velocitySpread: 'velocity spread',
  onBeatShare: 'onsets on the beat',
};

/**
 * The new music's statistics (structure first) beside 64 excerpts of `data`
 * as long as it is: where real music of its length lies (10th–90th
 * percentile), and a mark where the piece is outside that range.
 */
export function againstDataReport(g: Generated, data: readonly Piece[], seed: number): void {
  const rows = againstData({ ...g.piece, notes: [...g.continuation] }, data, createRng(seed));
  const f = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3)) : 'n/a');
  console.log(`the ${g.newNotes} new notes against 64 excerpts of the data as long (10th–90th percentile):`);
  for (const r of rows) {
    const outside = r.piece < r.low || r.piece > r.high ? '  ← outside' : '';
    console.log(
      `  ${STAT_WORDS[r.stat].padEnd(48)} ${f(r.piece).padStart(7)}   data ${f(r.low)}–${f(r.high)} (median ${f(r.median)})${outside}`,
    );
  }
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

/** Where the last cell writes the piece of the model `modelName` (a name of models/ or a path to a model folder): out/<folder name>-piece.mid. */
export function pieceFile(modelName: string): string {
  return `out/${path.basename(path.resolve(modelName))}-piece.mid`;
}

/** The folders of `root` that hold a model (a model.json), sorted by name. */
function modelNames(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isModelFolder(path.join(root, e.name)))
    .map((e) => e.name)
    .sort();
}

/** A model folder's tokens and vocabulary size, e.g. "timed tokens, vocabulary 412", or why they cannot be read. */
function modelTokens(dir: string): string {
  try {
    const { vocab } = loadModelSettings(dir);
    return `${vocab.config.scheme} tokens, vocabulary ${vocab.tokens.length}`;
  } catch (e) {
    return `unreadable: ${(e as Error).message}`;
  }
}

/**
 * Prints the models in `root` (its folders holding a model.json, with their
 * tokens) and returns the folder of the one named `name` (a name from that
 * list, or a path to any model folder). A name not in the list is a one-line
 * error that lists them.
 */
export function modelFolder(name: string, root = 'models'): string {
  const names = modelNames(root);
  console.log(
    `models in ${root}/: ${names.length > 0 ? names.map((n) => `${n} (${modelTokens(path.join(root, n))})`).join('; ') : 'none'}`,
  );
  const dir = findModelFolder(name, root);
  if (name.includes('/') || name.includes(path.sep) || isModelFolder(dir)) return dir;
  throw new UserError(`no model "${name}" in ${root}/: set modelName to one of ${names.join(', ') || '(none found)'}`);
}

/**
 * What a loaded model folder is: its tokens and size, its data, and its best
 * validation score, saying how that score is measured.
 */
export function modelCard(m: LoadedModel): void {
  const { model, data, dataset, training } = m.config;
  const family = model.family === 'note' ? ' stepping once per note (note family)' : '';
  console.log(
    `loaded ${showPath(m.dir)}: ${model.layers}×${model.units} LSTM${family}, ${parameterCount(m.model).toLocaleString('en')} parameters`,
  );
  console.log(`  ${schemeLabel(m.vocab.config)}; vocabulary ${m.vocab.tokens.length} tokens`);
  console.log(
    `trained on ${plural(data.trainFiles, 'file')} (${data.trainTokens.toLocaleString('en')} tokens)${transposeLabel(training.transposeRange)}, ` +
      `${plural(m.history.length, 'epoch')}${m.config.initFrom === undefined ? '' : ` from the weights of the model then in ${m.config.initFrom}`}; ` +
      `validated on ${data.valFiles} other file${data.valFiles === 1 ? '' : 's'}`,
  );
  if (m.history.length === 0) return;
  const best = m.history.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
  const windows = `${training.maxValWindows > 0 ? `up to ${training.maxValWindows.toLocaleString('en')} ` : ''}windows of ${dataset.seqLen} tokens`;
  console.log(
    `best epoch ${best.epoch}: validation loss ${best.valLoss.toFixed(3)} nats/token, perplexity ${best.valPerplexity.toFixed(2)}`,
  );
  console.log(`  measured as training does: ${windows} of the validation files, each read from a fresh LSTM state`);
  console.log(`  (\`musicgen evaluate --model ${showPath(m.dir)}\` measures whole files instead, carrying the state through each)`);
}
