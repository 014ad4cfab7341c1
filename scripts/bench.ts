/**
 * `npm run bench [-- [--quick] [--data DIR] [--schemes remi,timed] [--backends wasm,cpu]]`  (`--help` lists the flags)
 *
 * Speed and memory of the pipeline on a corpus (default ../shared/data/piano-midi,
 * else data/), for the default model (DEFAULT_MODEL_CONFIG: 2×256 LSTM, sized
 * to each scheme's vocabulary; seqLen, batch size and threads from the defaults):
 * - per tokenization scheme (remi, timed, classic): vocabulary size and tokens
 *   per note on the corpus; training throughput of the real training loop in
 *   tokens/s and notes/s (= tokens/s ÷ tokens per note), over a fixed number of
 *   batches after a warm-up batch; peak RSS while training; generation speed of
 *   an untrained model (notes/s);
 * - the note family (one LSTM step per note or bar, lib/model/note-network.ts)
 *   at the same size on the remi data, side by side with the remi token model:
 *   the same training loop and generation figures;
 * - training throughput of our BPTT kernel vs tfjs's own LSTM layers, per
 *   backend (on the first scheme's data);
 * - the PyTorch DDP trainer with 1 and 2 processes (scripts/bench-ddp.ts): the
 *   token family on the kernel's shapes, and the note family at our note
 *   kernel's size, its notes/s against our token and note kernels' (remi);
 * - generation: the stateful JS generator vs re-running the window per token (first scheme);
 * - MIDI parsing speed (warm), and MIDI writing speed (the corpus, and one 30,000-note piece: three programs and drums);
 * - peak memory while training on 1× and 4× the data (flat = lazy batches; first scheme);
 * - prepared corpora (scripts/bench-data.ts): `musicgen prepare`'s notes/s on one thread and on all, streamed
 *   against in-memory training, and peak RSS streaming from ≥ 20 M notes (out/big-corpus, `npm run -s big-corpus`);
 * - time from process start to the first generated note with the shipped model.
 * Each measurement that touches tfjs runs in a child process
 * (scripts/bench-worker.ts): backends are global and memory peaks must be
 * independent. Prints a table, then ONE JSON line (last line of stdout, with
 * or without --json); progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodePieces, splitByFile, DEFAULT_DATASET_CONFIG } from '../lib/data/dataset';
import { listFiles } from '../lib/core/files';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { createRng } from '../lib/core/rng';
import { loadMidiFolder, MIDI_EXTENSIONS } from '../lib/midi/read';
import { pieceToMidiBytes } from '../lib/midi/write';
import { defaultTokenizerConfig, type TokenizerConfig } from '../lib/tokens/config';
import { countNotes } from '../lib/tokens/scheme';
import { schemeOf } from '../lib/tokens/tokenize';
import { buildVocabulary, decodeIds } from '../lib/tokens/vocabulary';
import { saveVocabulary } from '../lib/tokens/vocab-file';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_HEAD_UNITS } from '../lib/model/note-network';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';
import { UserError } from '../lib/core/errors';
import type { Rate, WorkerArgs } from './bench-worker';
import { benchDdp, benchDdpNote, ddpRows } from './bench-ddp';
import { ddpNoteRows, stepProfile, type OurNotes, type StepProfile } from './bench-ddp-note';
import { benchData, dataRows } from './bench-data';

const ROOT = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'bench-worker.ts');
const SHIPPED = path.join(ROOT, 'models/folk');
const CORPUS = path.join(ROOT, '../shared/data/piano-midi');
const MB = 1024 * 1024;

/**
 * Targets on a 2-core machine without tfjs-node (training: the first scheme, remi by default). MIDI parsing is
 * counted in notes/s so it does not depend on the corpus's file sizes (70,000 notes/s ≈ 200 Nottingham tunes/s).
 */
const TARGETS = {
  trainTokensPerSec: 3000,
  genNotesPerSec: 500,
  genSpeedup: 50,
  midiNotesPerSec: 70_000,
  midiWriteNotesPerSec: 100_000,
  memRatio: 1.1,
  memSlackMb: 50,
};

/** Notes of the long piece MIDI writing is timed on (a long generated piece: @tonejs/midi's writer took 5 minutes for it, ours 0.1 s). */
const LONG_PIECE_NOTES = 30_000;

type Scheme = TokenizerConfig['scheme'];
const SCHEMES: readonly Scheme[] = ['remi', 'timed', 'classic'];
const BACKENDS = ['tensorflow', 'wasm', 'cpu'];

/** Measured training batches per scheme (after one warm-up batch): fixed, so a run's length depends only on the machine. */
const LOOP_BATCHES: Readonly<Record<'full' | 'quick', Readonly<Record<Scheme, number>>>> = {
  full: { remi: 12, timed: 6, classic: 4 },
  quick: { remi: 3, timed: 1, classic: 1 },
};

/** Measured training batches of the note family (after one warm-up batch): each holds about 3.5× a token batch's tokens. */
const NOTE_LOOP_BATCHES: Readonly<Record<'full' | 'quick', number>> = { full: 4, quick: 1 };

/** The label of the note family's rows (it trains on the remi data). */
const NOTE_LABEL = 'remi, note family';

interface Options {
  readonly quick: boolean;
  readonly data: string | null;
  readonly schemes: readonly Scheme[];
  readonly backends: readonly string[] | null;
}

const USAGE = 'usage: npm run bench [-- [--quick] [--data DIR] [--schemes remi,timed,classic] [--backends tensorflow,wasm,cpu]]';

const BENCH_FLAGS: FlagSpecs = {
  quick: { type: 'boolean', help: 'fewer batches and events, schemes remi and timed, only the fastest backend unless --backends is given' },
  data: { type: 'string', help: `DIR MIDI folder or file to measure on (default ${path.relative(ROOT, CORPUS)}, else data/)` },
  schemes: {
    type: 'string',
    help: `LIST comma-separated tokenization schemes (${SCHEMES.join(', ')}; default all three, --quick: remi,timed); the first is the one the kernel, window and memory comparisons use`,
  },
  backends: {
    type: 'string',
    help: `LIST comma-separated backends for the kernel comparison (${BACKENDS.join(', ')}; default: those installed); the first that works runs the rest`,
  },
};

/** Comma-separated list flag, each item checked against `allowed`. */
function listFlag(value: string, flag: string, allowed: readonly string[]): string[] {
  const items = value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UserError(`--${flag} needs a list, e.g. ${allowed.slice(0, 2).join(',')}`);
  for (const b of items) if (!allowed.includes(b)) throw new UserError(`--${flag}: unknown value "${b}" (${allowed.join(', ')})`);
  return [...new Set(items)];
}

/** Parses the command line; returns null after printing --help. Throws a UserError naming a bad flag. */
function parseOptions(argv: readonly string[]): Options | null {
  const a = parseFlags(argv, BENCH_FLAGS);
  if (a.values.help) {
    process.stdout.write(`${USAGE}\n\n${flagHelp(BENCH_FLAGS)}\n`);
    return null;
  }
  if (a.positionals.length > 0) throw new UserError(`unexpected argument "${a.positionals[0]}" (see --help)`);
  const data = str(a, 'data');
  if (data === '') throw new UserError('--data needs a folder');
  const quick = a.values.quick === true;
  const s = str(a, 'schemes');
  const schemes = s !== undefined ? (listFlag(s, 'schemes', SCHEMES) as Scheme[]) : quick ? SCHEMES.slice(0, 2) : SCHEMES;
  const b = str(a, 'backends');
  return { quick, data: data ?? null, schemes, backends: b !== undefined ? listFlag(b, 'backends', BACKENDS) : null };
}

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

/** What a child reported, plus the parent's own timings. */
interface ChildResult<T> {
  readonly ok: boolean;
  readonly result: T | null;
  readonly error: string | null;
  readonly wallMs: number;
  /** Parent-side ms from spawn to the child's BENCH_FIRST_NOTE line (firstnote task). */
  readonly firstNoteMs: number | null;
}

/** Runs one worker task in a fresh process (same node, same tsx loader). */
function runChild<T>(task: string, args: WorkerArgs, backend: string, timeoutSec: number): Promise<ChildResult<T>> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...process.execArgv, WORKER, task, JSON.stringify(args)], {
      cwd: ROOT,
      env: { ...process.env, MUSICGEN_BACKEND: backend },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let firstNoteMs: number | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSec * 1000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (firstNoteMs === null && out.includes('BENCH_FIRST_NOTE')) firstNoteMs = performance.now() - t0;
    });
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code === 0 && line)
        resolve({ ok: true, result: JSON.parse(line.slice('BENCH_RESULT '.length)) as T, error: null, wallMs, firstNoteMs });
      else {
        const why = timedOut
          ? `timed out after ${timeoutSec} s`
          : (err.trim().split('\n').pop() ?? `exit code ${code}`) || `exit code ${code}`;
        resolve({ ok: false, result: null, error: why, wallMs, firstNoteMs });
      }
    });
  });
}

// ----- result shapes reported by the worker -----
interface TrainOut {
  readonly backend: string;
  readonly vocabSize: number;
  readonly params: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly ours: Rate;
  /** Our kernel with each batch split over worker threads (null on one core or the native backend). */
  readonly parallel: (Rate & { readonly threads: number }) | null;
  readonly tfjs: Rate | null;
}
interface LoopOut {
  readonly backend: string;
  readonly vocabSize: number;
  readonly params: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly threads: number;
  readonly threadsNote: string | null;
  readonly copies: number;
  readonly pieces: number;
  readonly dataTokens: number;
  readonly rate: Rate;
  readonly rssBeforeTraining: number;
  readonly peakRss: number;
}
interface GenRate {
  readonly events: number;
  readonly notes: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly eventsPerSec: number;
  readonly notesPerSec: number;
  readonly tokensPerSec: number;
}
interface GenOut {
  readonly backend: string;
  readonly model: string;
  readonly scheme: Scheme;
  readonly vocabSize: number;
  readonly primerTokens: number;
  readonly windowSeqLen?: number;
  readonly stateful: GenRate & { readonly notesPerCpuSec: number };
  /** Null when not measured (all schemes but the first). */
  readonly window: (GenRate & { readonly extrapolatedNotesPerSec: number; readonly extrapolatedEventsPerSec: number }) | null;
  /** Window method's time for the stateful run's output ÷ the stateful time. */
  readonly speedup: number | null;
}
interface FirstOut {
  readonly backend: string;
  readonly msProcessStartToScript: number;
  readonly msBackend: number;
  readonly msLoadModel: number;
  readonly msPrimer: number;
  readonly msFirstNote: number;
}

/** The corpus to measure on: --data, else the shared piano corpus, else data/ (saying why). */
function findData(opt: Options): { dir: string; note: string | null } {
  if (opt.data) {
    if (fs.existsSync(opt.data) && listFiles(opt.data, MIDI_EXTENSIONS).length > 0) return { dir: opt.data, note: null };
    return fail(`no MIDI files in ${opt.data}`);
  }
  if (fs.existsSync(CORPUS) && listFiles(CORPUS, MIDI_EXTENSIONS).length > 0) return { dir: CORPUS, note: null };
  const fallback = path.join(ROOT, 'data');
  if (!fs.existsSync(fallback) || listFiles(fallback, MIDI_EXTENSIONS).length === 0)
    return fail(`no MIDI files in ${CORPUS} or ${fallback} (use --data DIR)`);
  return {
    dir: fallback,
    note: `${path.relative(ROOT, CORPUS)} is absent: measured on data/ instead (small tunes; figures are not comparable with the piano corpus)`,
  };
}

function availableBackends(opt: Options): string[] {
  if (opt.backends) return [...opt.backends];
  const list: string[] = [];
  try {
    require.resolve('@tensorflow/tfjs-node');
    list.push('tensorflow');
  } catch {
    // optional dependency, not installed here
  }
  return [...list, 'wasm', 'cpu'];
}

/** One scheme's encoding of the corpus, written to `dir` for the children (vocab.json, meta.json, ids.bin). */
interface SchemeData {
  readonly scheme: Scheme;
  readonly dir: string;
  readonly vocabSize: number;
  /** Whether the vocabulary is fixed by the settings (remi) or built from the data. */
  readonly fixedVocabulary: boolean;
  readonly tokens: number;
  /** Notes the tokens carry (a chord token counts each of its notes). */
  readonly notes: number;
  readonly tokensPerNote: number;
  /** Tokens of the training files (the rest are validation files). */
  readonly trainTokens: number;
  /** Building the vocabulary and encoding the corpus, ms. */
  readonly encodeMs: number;
  /** A MIDI file of the corpus long enough for a full window after a primer. */
  readonly primerName: string;
}

function prepareScheme(scheme: Scheme, pieces: readonly Piece[], dir: string): SchemeData {
  const t0 = performance.now();
  const config = defaultTokenizerConfig(scheme);
  const vocab = buildVocabulary(pieces, config);
  const encoded = encodePieces(vocab, pieces);
  const encodeMs = performance.now() - t0;
  const { val } = splitByFile(encoded, DEFAULT_DATASET_CONFIG.valFraction, DEFAULT_DATASET_CONFIG.seed);
  const valSet = new Set(val);
  fs.mkdirSync(dir, { recursive: true });
  saveVocabulary(path.join(dir, 'vocab.json'), vocab);
  fs.writeFileSync(
    path.join(dir, 'meta.json'),
    JSON.stringify({ pieces: encoded.map((p) => ({ name: p.name, length: p.ids.length, val: valSet.has(p) })) }),
  );
  fs.writeFileSync(
    path.join(dir, 'ids.bin'),
    Buffer.concat(encoded.map((p) => Buffer.from(p.ids.buffer, p.ids.byteOffset, p.ids.byteLength))),
  );
  const tokens = encoded.reduce((s, p) => s + p.ids.length, 0);
  const notes = encoded.reduce((s, p) => s + countNotes(decodeIds(vocab, p.ids)), 0);
  const primer = encoded.find((p) => p.ids.length >= 2 * DEFAULT_DATASET_CONFIG.seqLen) ?? encoded[0];
  return {
    scheme,
    dir,
    vocabSize: vocab.tokens.length,
    fixedVocabulary: schemeOf(config).fixedVocabulary !== undefined,
    tokens,
    notes,
    tokensPerNote: tokens / Math.max(1, notes),
    trainTokens: encoded.filter((p) => !valSet.has(p)).reduce((s, p) => s + p.ids.length, 0),
    encodeMs,
    primerName: primer.name,
  };
}

/** A piece of `count` notes: three programs and drums, onsets on a 1/480-beat grid, some gaps of several beats. */
function longPiece(count: number): Piece {
  const rng = createRng(7);
  const int = (n: number): number => Math.floor(rng.next() * n);
  const notes: Note[] = [];
  let tick = 0;
  for (let i = 0; i < count; i++) {
    tick += int(40) === 0 ? int(4000) : int(4) * 120;
    const kind = int(4);
    notes.push({
      pitch: 36 + int(48),
      start: tick / 480,
      duration: (1 + int(1000)) / 480,
      velocity: 1 + int(127),
      program: [0, 33, 73, 0][kind],
      ...(kind === 3 ? { drum: true } : {}),
    });
  }
  return makePiece('long', notes);
}

/** Writing MIDI bytes (in memory): every corpus piece (warm: after an untimed pass), then one {@link LONG_PIECE_NOTES}-note piece. */
function measureMidiWriting(
  pieces: readonly Piece[],
  notes: number,
): { corpusMs: number; corpusNotesPerSec: number; longNotes: number; longMs: number; longNotesPerSec: number } {
  for (const p of pieces) pieceToMidiBytes(p);
  let t = performance.now();
  for (const p of pieces) pieceToMidiBytes(p);
  const corpusMs = performance.now() - t;
  const long = longPiece(LONG_PIECE_NOTES);
  t = performance.now();
  pieceToMidiBytes(long);
  const longMs = performance.now() - t;
  return {
    corpusMs,
    corpusNotesPerSec: notes / (corpusMs / 1000),
    longNotes: long.notes.length,
    longMs,
    longNotesPerSec: long.notes.length / (longMs / 1000),
  };
}

const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number): string => `${fmt(bytes / MB)} MB`;

interface Check {
  readonly name: string;
  readonly value: number | null;
  readonly target: string;
  readonly pass: boolean | null;
  /** How far short, as a readable string, when missed. */
  readonly short: string | null;
}

function atLeast(name: string, value: number | null, target: number, unit: string): Check {
  if (value === null) return { name, value, target: `≥ ${fmt(target)} ${unit}`, pass: null, short: null };
  const pass = value >= target;
  return {
    name,
    value,
    target: `≥ ${fmt(target)} ${unit}`,
    pass,
    short: pass ? null : `${fmt(100 * (1 - value / target))} % short (${fmt(value, value < 100 ? 1 : 0)} vs ${fmt(target)})`,
  };
}

/** Rows of text as aligned columns: the first column left-aligned, the others right-aligned unless `left` says so. */
function columns(rows: readonly string[][], left: readonly number[] = [0]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (left.includes(i) ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** One training-loop and generation measurement: its data, and the children's results. */
interface FamilyRun {
  readonly data: SchemeData;
  readonly loop: ChildResult<LoopOut>;
  readonly gen: ChildResult<GenOut>;
}

/**
 * The summary's lines on the note family: what it measured, and its training and generation notes/s against the remi token model's.
 * `notesPerId`: the remi data's steps that hold a note per target id ({@link notesPerTargetId}).
 */
function noteFamilyNotes(remi: FamilyRun | null, note: FamilyRun | null, notesPerId: number | null): string[] {
  if (!remi || !note) return ['note family: not measured (it trains on remi tokens: add remi to --schemes)'];
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b, 2)}×` : 'n/a';
  const r = note.loop.result;
  const rr = remi.loop.result;
  return [
    `${NOTE_LABEL}: the same remi tokens, data and settings (windows of ${r?.seqLen ?? DEFAULT_DATASET_CONFIG.seqLen} steps), the ${DEFAULT_MODEL_CONFIG.layers}×${DEFAULT_MODEL_CONFIG.units} LSTM stepping once per note or bar, a head of ${DEFAULT_MODEL_CONFIG.headUnits ?? DEFAULT_HEAD_UNITS} units writing each step's tokens (a new note model: step vector = units, headSkip, copy ids); ${r ? `${fmt(r.params)} parameters, ${r.threads} thread${r.threads > 1 ? 's' : ''}${r.threadsNote ? ` (${r.threadsNote})` : ''}` : 'training failed'}`,
    `  train tokens/s counts its target ids (a copy id and a velocity stand for a repeated note's tokens), train notes/s = target ids/s × the remi data's steps that hold a note per target id: ${ratio(r && notesPerId !== null ? r.rate.tokensPerSec * notesPerId : undefined, rr ? rr.rate.tokensPerSec / remi.data.tokensPerNote : undefined)} the remi token model's training notes/s`,
    `  generation: a fresh (untrained) model of each family (no trained note model is shipped): ${ratio(note.gen.result?.stateful.notesPerSec, remi.gen.result?.stateful.notesPerSec)} the remi token model's notes/s`,
  ];
}

/** Our kernels' training figures that the note family's DDP rows compare with: the remi token model's notes/s, the note model's target ids/s. */
function ourNotes(remi: FamilyRun | null, note: FamilyRun | null, profile: StepProfile | null): OurNotes {
  const r = remi?.loop.result;
  const n = note?.loop.result;
  return {
    token: r && remi ? { notesPerSec: r.rate.tokensPerSec / remi.data.tokensPerNote, threads: r.threads } : null,
    note: n ? { idsPerSec: n.rate.tokensPerSec, threads: n.threads } : null,
    notesPerId: notesPerTargetId(profile),
  };
}

/** The remi data's steps that hold a note per target id (every step but a piece's first is a target), or null without a profile. */
function notesPerTargetId(profile: StepProfile | null): number | null {
  const ids = profile ? profile.lengths.reduce((s, c, i) => s + c * (i + 1), 0) : 0;
  return profile && ids > 0 ? profile.notes.reduce((s, c) => s + c, 0) / ids : null;
}

async function main(): Promise<void> {
  const opt = parseOptions(process.argv.slice(2));
  if (!opt) return;
  const started = performance.now();
  const load0 = os.loadavg()[0];
  const { dir: dataDir, note: dataNote } = findData(opt);
  if (dataNote) log(dataNote);
  const q = opt.quick;
  const dataName = path.relative(ROOT, dataDir) || dataDir;

  // 1. MIDI parsing: a first pass (also loads the pieces), then timed warm passes.
  log(`MIDI parsing over ${dataName} …`);
  let t = performance.now();
  const report = loadMidiFolder(dataDir);
  const coldMs = performance.now() - t;
  if (report.pieces.length === 0) fail(`no usable MIDI files in ${dataDir}`);
  const warmPasses = q ? 1 : 3;
  t = performance.now();
  for (let i = 0; i < warmPasses; i++) loadMidiFolder(dataDir);
  const warmMs = (performance.now() - t) / warmPasses;
  const sourceNotes = report.pieces.reduce((s, p) => s + p.notes.length, 0);
  const bytes = listFiles(dataDir, MIDI_EXTENSIONS).reduce((s, f) => s + fs.statSync(f).size, 0);
  const midi = {
    folder: dataDir,
    files: report.files,
    pieces: report.pieces.length,
    skipped: report.skipped.length,
    notes: sourceNotes,
    bytes,
    coldMs,
    warmMs,
    warmPasses,
    filesPerSec: report.files / (warmMs / 1000),
    notesPerSec: sourceNotes / (warmMs / 1000),
    mbPerSec: bytes / MB / (warmMs / 1000),
    coldFilesPerSec: report.files / (coldMs / 1000),
  };
  log('MIDI writing …');
  const midiWrite = measureMidiWriting(report.pieces, sourceNotes);

  // 2. Each scheme's vocabulary, encoding and split, handed to the children through a scratch folder.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-bench-'));
  try {
    const data: SchemeData[] = [];
    for (const s of opt.schemes) {
      log(`tokenizing with ${s} …`);
      data.push(prepareScheme(s, report.pieces, path.join(scratch, s)));
    }
    const first = data[0];
    const fileOf = (name: string): string => (fs.statSync(dataDir).isDirectory() ? path.join(dataDir, name) : dataDir);
    const primerFile = fileOf(first.primerName);

    // 3. Our kernel vs tfjs layers per backend, on the first scheme's data.
    // --quick: only the fastest backend (unless --backends is given); cpu: a small warm-up batch, one timed batch.
    const backends = availableBackends(opt);
    const training: { backend: string; result: TrainOut | null; error: string | null }[] = [];
    for (const b of backends) {
      if (q && !opt.backends && training.some((x) => x.result)) break;
      const slow = b === 'cpu';
      const args: WorkerArgs = {
        dataDir: first.dir,
        ourBatches: slow ? 1 : q ? 2 : 6,
        tfjsBatches: slow ? (q ? 0 : 1) : q ? 1 : 2,
        warmupWindows: slow ? 4 : undefined,
      };
      log(
        `kernel comparison on ${b} (${first.scheme}): ${args.ourBatches} batch(es) of our kernel, ${args.tfjsBatches} of tfjs layers, after a warm-up batch${slow ? ' of 4 windows' : ''} each …`,
      );
      const r = await runChild<TrainOut>('train', args, b, slow ? 300 : 240);
      training.push({ backend: b, result: r.result, error: r.error });
      if (!r.ok) log(`  ${b}: ${r.error}`);
    }
    const primary = training.find((x) => x.result)?.backend ?? 'wasm';
    // 3b. The PyTorch DDP trainer on the same shapes, 1 and 2 processes (scripts/bench-ddp.ts).
    const ddp = benchDdp(first.vocabSize, q ? 3 : 10, log);
    // 3c. The note family on PyTorch DDP at the size our note kernel trains below, on random steps with the remi data's step lengths.
    const remiData = data.find((d) => d.scheme === 'remi') ?? null;
    let noteProfile: StepProfile | null = null;
    let noDdpNote = 'it trains on remi tokens: add remi to --schemes';
    try {
      noteProfile = remiData ? stepProfile(remiData.dir) : null;
    } catch (e) {
      noDdpNote = `the remi data's steps: ${e instanceof Error ? e.message : String(e)}`;
    }
    const ddpNote = remiData && noteProfile ? benchDdpNote(remiData.vocabSize, noteProfile, q ? 2 : 6, log) : null;

    // 4. Per scheme, on the primary backend: the real training loop (throughput, peak RSS), then generation.
    const loopBatches = LOOP_BATCHES[q ? 'quick' : 'full'];
    const perScheme: { data: SchemeData; loop: ChildResult<LoopOut>; gen: ChildResult<GenOut> }[] = [];
    for (const d of data) {
      const n = loopBatches[d.scheme];
      // Seconds per batch grow with the vocabulary (the softmax layer): a generous timeout.
      const perBatch = primary === 'cpu' ? 120 : 20 + d.vocabSize / 500;
      log(
        `training loop, ${d.scheme} (vocabulary ${fmt(d.vocabSize)}): a warm-up batch, then ${n} measured batch${n > 1 ? 'es' : ''} on ${primary} …`,
      );
      const loop = await runChild<LoopOut>(
        'loop',
        { dataDir: d.dir, copies: 1, loopBatches: n, scratch: path.join(d.dir, 'loop1') },
        primary,
        120 + (n + 1) * perBatch,
      );
      if (!loop.ok) log(`  ${d.scheme} training: ${loop.error}`);
      const windowEvents = d === first ? (q ? 5 : 10) : 0;
      log(`generation, ${d.scheme} (untrained model)${windowEvents ? ', and re-running the window per token' : ''} …`);
      const gen = await runChild<GenOut>(
        'gen',
        { dataDir: d.dir, primerFile: fileOf(d.primerName), statefulEvents: q ? 100 : 200, windowEvents },
        primary,
        600,
      );
      if (!gen.ok) log(`  ${d.scheme} generation: ${gen.error}`);
      perScheme.push({ data: d, loop, gen });
    }

    // 4b. The note family at the default size on the remi data, side by side with the remi token model (same pieces, tokens and settings).
    const remiRun = perScheme.find((x) => x.data.scheme === 'remi') ?? null;
    let noteRun: FamilyRun | null = null;
    if (remiRun) {
      const d = remiRun.data;
      const n = NOTE_LOOP_BATCHES[q ? 'quick' : 'full'];
      log(`training loop, note family on the remi data: a warm-up batch, then ${n} measured batch${n > 1 ? 'es' : ''} on ${primary} …`);
      const loop = await runChild<LoopOut>(
        'loop',
        { dataDir: d.dir, copies: 1, loopBatches: n, scratch: path.join(d.dir, 'loop-note'), family: 'note' },
        primary,
        120 + (n + 1) * (primary === 'cpu' ? 400 : 90),
      );
      if (!loop.ok) log(`  note family training: ${loop.error}`);
      log('generation, note family (untrained model) …');
      const gen = await runChild<GenOut>(
        'gen',
        { dataDir: d.dir, primerFile: fileOf(d.primerName), statefulEvents: q ? 100 : 200, windowEvents: 0, family: 'note' },
        primary,
        600,
      );
      if (!gen.ok) log(`  note family generation: ${gen.error}`);
      noteRun = { data: d, loop, gen };
    }
    const noteNotesPerId = notesPerTargetId(noteProfile);
    /** Training notes/s: a token model's tokens/s ÷ tokens per note; the note family's target ids/s × notes per target id (as PyTorch's rows). */
    const trainNotesPerSec = (label: string, tokensPerSec: number, d: SchemeData): number =>
      label === NOTE_LABEL && noteNotesPerId !== null ? tokensPerSec * noteNotesPerId : tokensPerSec / d.tokensPerNote;
    /** Every row of the summary and the detail table: the schemes' token models, then the note family. */
    const runs = [
      ...perScheme.map((x) => ({ label: x.data.scheme as string, ...x })),
      ...(noteRun ? [{ label: NOTE_LABEL, ...noteRun }] : []),
    ];

    // 5. Peak memory on 4× the first scheme's data (the same batches as its 1× run above), in a fresh process.
    const memBatches = loopBatches[first.scheme];
    log(`memory: a warm-up batch, then ${memBatches} training batch${memBatches > 1 ? 'es' : ''} on 4× the ${first.scheme} data …`);
    const mem4 = await runChild<LoopOut>(
      'loop',
      { dataDir: first.dir, copies: 4, loopBatches: memBatches, scratch: path.join(first.dir, 'loop4') },
      primary,
      120 + (memBatches + 1) * (primary === 'cpu' ? 120 : 20 + first.vocabSize / 500),
    );
    if (!mem4.ok) log(`  memory 4×: ${mem4.error}`);

    // 5b. Prepared corpora: preparation notes/s, streamed against in-memory training, peak RSS at ≥ 20 M notes (scripts/bench-data.ts).
    const prepared = await benchData({ quick: q, data: dataDir, log });

    // 6. Time to the first note with the shipped model.
    const haveShipped = fs.existsSync(path.join(SHIPPED, 'model.json'));
    let firstNote: ChildResult<FirstOut> | null = null;
    if (haveShipped) {
      log('time to first note with the shipped model …');
      firstNote = await runChild<FirstOut>('firstnote', { dataDir: first.dir, modelDir: SHIPPED, primerFile }, primary, 120);
      if (!firstNote.ok) log(`  first note: ${firstNote.error}`);
    }

    // ----- checks -----
    const nonNative = training.find((x) => x.result && x.backend !== 'tensorflow')?.result ?? null;
    const g = perScheme[0].gen.result;
    const m1 = perScheme[0].loop.result;
    const m4 = mem4.result;
    const memGrowthMb = m1 && m4 ? (m4.peakRss - m1.peakRss) / MB : null;
    // 4× the data must cost little beyond its own token arrays (4 bytes a token): batches are built lazily.
    const extraDataMb = m1 && m4 ? ((m4.dataTokens - m1.dataTokens) * 4) / MB : 0;
    const beyondMb = memGrowthMb !== null ? memGrowthMb - extraDataMb : null;
    const memOk = m1 && beyondMb !== null ? beyondMb <= TARGETS.memSlackMb || beyondMb * MB <= m1.peakRss * (TARGETS.memRatio - 1) : null;
    const checks: Check[] = [
      atLeast(
        `training, our kernel (${first.scheme}, ${nonNative ? `${training.find((x) => x.result === nonNative)?.backend}, ${nonNative.parallel?.threads ?? 1} thread${nonNative.parallel ? 's' : ''}` : 'n/a'})`,
        nonNative ? (nonNative.parallel ?? nonNative.ours).tokensPerSec : null,
        TARGETS.trainTokensPerSec,
        'tokens/s',
      ),
      atLeast(`stateful generation (${first.scheme})`, g?.stateful.notesPerSec ?? null, TARGETS.genNotesPerSec, 'notes/s'),
      atLeast('stateful vs window re-run', g?.speedup ?? null, TARGETS.genSpeedup, '×'),
      atLeast('MIDI parsing (warm)', midi.notesPerSec, TARGETS.midiNotesPerSec, 'notes/s'),
      atLeast(
        `MIDI writing (one ${fmt(midiWrite.longNotes)}-note piece)`,
        midiWrite.longNotesPerSec,
        TARGETS.midiWriteNotesPerSec,
        'notes/s',
      ),
      {
        name: `training memory flat (4× vs 1× ${first.scheme} data)`,
        value: beyondMb,
        target: `≤ +${TARGETS.memSlackMb} MB or ≤ +${fmt((TARGETS.memRatio - 1) * 100)} % beyond the extra token arrays`,
        pass: memOk,
        short: memOk === false && m1 && beyondMb !== null ? `+${fmt(beyondMb)} MB (${fmt((100 * beyondMb * MB) / m1.peakRss)} %)` : null,
      },
    ];

    // ----- the per-scheme summary -----
    const summary: string[][] = [
      ['scheme', 'vocabulary', 'tokens/note', 'train tokens/s', 'train notes/s', 'peak RSS', 'gen tokens/s', 'gen notes/s', 'gen notes/s²'],
    ];
    for (const { label, data: d, loop, gen } of runs) {
      const r = loop.result;
      const s = gen.result?.stateful;
      summary.push([
        label,
        fmt(d.vocabSize),
        fmt(d.tokensPerNote, 2),
        r ? fmt(r.rate.tokensPerSec) : 'failed',
        r ? fmt(trainNotesPerSec(label, r.rate.tokensPerSec, d)) : '—',
        r ? mb(r.peakRss) : '—',
        s ? fmt(s.tokensPerSec) : 'failed',
        s ? fmt(s.notesPerSec) : '—',
        s ? fmt(s.tokensPerSec / d.tokensPerNote) : '—',
      ]);
    }
    const loopInfo = perScheme.map((x) => x.loop.result).find((r) => r);
    const setting = loopInfo
      ? `training: the training loop on ${loopInfo.backend}, ${loopInfo.threads} thread${loopInfo.threads > 1 ? 's' : ''}, ${DEFAULT_MODEL_CONFIG.layers}×${DEFAULT_MODEL_CONFIG.units} LSTM, batches of ${loopInfo.batchSize}×${loopInfo.seqLen} tokens, measured after a warm-up batch: ${opt.schemes.map((s) => `${s} ${loopBatches[s]}`).join(', ')}`
      : 'training: failed';
    const summaryNotes = [
      `corpus: ${dataName}, ${fmt(report.pieces.length)} pieces, ${fmt(sourceNotes)} notes${dataNote ? ` — ${dataNote}` : ''}`,
      setting,
      'train notes/s = tokens/s ÷ tokens per note of the scheme on this corpus; peak RSS: the training process, worker threads included',
      'generation: an untrained model, stateful; gen notes/s counts the notes it wrote (its own token mix), gen notes/s² = gen tokens/s ÷ tokens/note',
      ...noteFamilyNotes(remiRun, noteRun, noteNotesPerId),
    ];

    // ----- the detail table -----
    const rows: string[][] = [['measure', 'value', 'detail']];
    for (const { label, data: d, loop, gen } of runs) {
      rows.push([
        `${label}: vocabulary`,
        fmt(d.vocabSize),
        `${d.fixedVocabulary ? 'fixed by the settings' : 'built from the data'}; ${fmt(d.tokens)} tokens for ${fmt(d.notes)} notes (${fmt(d.tokensPerNote, 2)} tokens/note); vocabulary and encoding ${fmt(d.encodeMs / 1000, 1)} s`,
      ]);
      const r = loop.result;
      if (r) {
        rows.push([
          `  training (${r.backend}, ${r.threads} thread${r.threads > 1 ? 's' : ''})`,
          `${fmt(r.rate.tokensPerSec)} tokens/s`,
          `${fmt(trainNotesPerSec(label, r.rate.tokensPerSec, d))} notes/s; ${r.rate.batches} × ${r.batchSize}×${r.seqLen}${label === NOTE_LABEL ? ' steps' : ''} after a warm-up batch (${fmt(r.rate.warmupMs / 1000, 1)} s); ${fmt(r.rate.ms / r.rate.batches)} ms/batch; ${fmt(r.rate.tokensPerCpuSec)} tokens per CPU-second; ${fmt(r.params)} parameters${r.threadsNote ? `; ${r.threadsNote}` : ''}`,
        ]);
        rows.push([
          `  peak RSS training`,
          mb(r.peakRss),
          `RSS before training ${mb(r.rssBeforeTraining)}; ${fmt(r.dataTokens)} training tokens in ${r.pieces} pieces`,
        ]);
      } else rows.push([`  training`, 'failed', loop.error ?? '']);
      const gr = gen.result;
      if (gr) {
        const st = gr.stateful;
        rows.push([
          `  generation, stateful (${gr.backend})`,
          `${fmt(st.notesPerSec)} notes/s`,
          `${fmt(st.tokensPerSec)} tokens/s, ${fmt(st.eventsPerSec)} events/s (${st.events} events, ${st.notes} notes, ${fmt(st.tokens / Math.max(1, st.notes), 2)} tokens/note; time includes the ${gr.primerTokens}-token primer); ${fmt(st.tokensPerSec / d.tokensPerNote)} notes/s at the corpus's tokens/note`,
        ]);
        const wi = gr.window;
        if (wi && gr.speedup !== null) {
          rows.push([
            `  generation, window re-run (${gr.backend})`,
            `${fmt(wi.extrapolatedNotesPerSec, 1)} notes/s`,
            `for the same output (${fmt(wi.tokensPerSec, 1)} tokens/s, measured on ${wi.tokens} tokens, window ${gr.windowSeqLen}; its own ${wi.events} events: ${fmt(wi.notesPerSec, 1)} notes/s)`,
          ]);
          rows.push(['    speed-up', `${fmt(gr.speedup)}×`, 'stateful vs window re-run']);
        }
      } else rows.push(['  generation', 'failed', gen.error ?? '']);
    }
    for (const tr of training) {
      if (!tr.result) {
        rows.push([`kernel comparison (${tr.backend})`, 'failed', tr.error ?? '']);
        continue;
      }
      const r = tr.result;
      const cpuNote = (x: Rate): string => `${fmt(x.tokensPerCpuSec)} tokens per CPU-second`;
      rows.push([
        `training, our kernel (${tr.backend}, 1 thread)`,
        `${fmt(r.ours.tokensPerSec)} tokens/s`,
        `${first.scheme}; ${r.ours.batches} × ${r.batchSize}×${r.seqLen} after warm-up; ${fmt(r.ours.ms / r.ours.batches)} ms/batch; ${cpuNote(r.ours)}`,
      ]);
      if (r.parallel) {
        const p = r.parallel;
        rows.push([
          `training, our kernel (${tr.backend}, ${p.threads} threads)`,
          `${fmt(p.tokensPerSec)} tokens/s`,
          `${fmt(p.tokensPerSec / r.ours.tokensPerSec, 2)}× one thread; ${fmt(p.ms / p.batches)} ms/batch (the default in training)`,
        ]);
      }
      if (r.tfjs) {
        rows.push([
          `training, tfjs LSTM layers (${tr.backend})`,
          `${fmt(r.tfjs.tokensPerSec)} tokens/s`,
          `${r.tfjs.batches} × ${r.batchSize}×${r.seqLen} after warm-up; ${fmt(r.tfjs.ms / r.tfjs.batches)} ms/batch; ${cpuNote(r.tfjs)}`,
        ]);
        rows.push([
          `  speed-up (${tr.backend})`,
          `${fmt((r.parallel ?? r.ours).tokensPerSec / r.tfjs.tokensPerSec, 1)}×`,
          `our kernel${r.parallel ? `, ${r.parallel.threads} threads,` : ''} vs tfjs layers; model: ${fmt(r.params)} parameters, vocabulary ${fmt(r.vocabSize)}`,
        ]);
      } else rows.push([`training, tfjs LSTM layers (${tr.backend})`, 'skipped', '--quick']);
    }
    const oursBest = Math.max(0, ...training.map((x) => (x.result ? (x.result.parallel ?? x.result.ours).tokensPerSec : 0)));
    rows.push(...ddpRows(ddp, oursBest > 0 ? oursBest : null));
    if (ddpNote) rows.push(...ddpNoteRows(ddpNote, ourNotes(remiRun, noteRun, noteProfile)));
    else rows.push(['training, PyTorch DDP note family', 'skipped', noDdpNote]);
    rows.push([
      'MIDI parsing (warm)',
      `${fmt(midi.notesPerSec)} notes/s`,
      `${fmt(midi.filesPerSec)} files/s, ${fmt(midi.mbPerSec, 1)} MB/s; ${midi.files} files, ${fmt(midi.warmMs)} ms per pass; first pass ${fmt(midi.coldFilesPerSec)} files/s`,
    ]);
    rows.push([
      'MIDI writing',
      `${fmt(midiWrite.longNotesPerSec)} notes/s`,
      `one ${fmt(midiWrite.longNotes)}-note piece (3 programs + drums) in ${fmt(midiWrite.longMs)} ms; the corpus's ${fmt(report.pieces.length)} pieces in ${fmt(midiWrite.corpusMs)} ms (${fmt(midiWrite.corpusNotesPerSec)} notes/s)`,
    ]);
    rows.push([
      `peak RSS training, 4× ${first.scheme} data`,
      m4 ? mb(m4.peakRss) : 'failed',
      m4 && m1
        ? `${fmt(m4.dataTokens)} training tokens (1×: ${fmt(m1.dataTokens)}, ${mb(m1.peakRss)}); +${fmt(extraDataMb)} MB of token arrays; ${m4.rate.batches} batches after warm-up`
        : (mem4.error ?? ''),
    ]);
    rows.push(...dataRows(prepared));
    if (firstNote?.result && firstNote.firstNoteMs !== null) {
      const f = firstNote.result;
      rows.push([
        'time to first note (shipped model)',
        `${fmt(firstNote.firstNoteMs)} ms`,
        `from spawn: start-up ${fmt(f.msProcessStartToScript)}, backend ${fmt(f.msBackend)}, model ${fmt(f.msLoadModel)}, primer ${fmt(f.msPrimer)}, first note ${fmt(f.msFirstNote)} ms`,
      ]);
    } else
      rows.push([
        'time to first note (shipped model)',
        haveShipped ? 'failed' : 'absent',
        haveShipped ? (firstNote?.error ?? '') : `no model.json in ${path.relative(ROOT, SHIPPED)}`,
      ]);
    const targetRows: string[][] = [['target', 'status', '']];
    for (const c of checks)
      targetRows.push([c.name, c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'MISS', `${c.target}${c.short ? `; ${c.short}` : ''}`]);
    const detail = columns([...rows, ...targetRows], [0, 2]);
    detail.splice(rows.length, 0, '');
    const totalSec = (performance.now() - started) / 1000;
    const header = `musicgen bench${q ? ' (--quick)' : ''}: ${os.cpus().length} cores, node ${process.version}, load average ${load0.toFixed(2)} at start${load0 > 0.5 ? ' (other work running: figures are lower than on an idle machine)' : ''}; ${fmt(totalSec, 1)} s`;
    const foot = [
      'Rates are wall-clock on this machine under its current load; PASS/MISS uses them. "Per CPU-second" counts only the',
      'measuring process\'s CPU time, all its threads (tfjs\'s wasm and cpu backends compute on one thread each; the "threads"',
      'rows split each batch over worker threads): a rough guide to an idle machine.',
    ];
    process.stdout.write(
      `${header}\n\n${columns(summary).join('\n')}\n${summaryNotes.map((l) => `  ${l}`).join('\n')}\n\n${detail.join('\n')}\n\n${foot.join('\n')}\n\n`,
    );

    const json = {
      bench: 'musicgen/2',
      quick: q,
      date: new Date().toISOString(),
      machine: { cores: os.cpus().length, node: process.version, loadAvgAtStart: load0 },
      seconds: totalSec,
      data: { folder: dataDir, note: dataNote, pieces: report.pieces.length, notes: sourceNotes },
      config: {
        seqLen: DEFAULT_DATASET_CONFIG.seqLen,
        batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
        units: DEFAULT_MODEL_CONFIG.units,
        layers: DEFAULT_MODEL_CONFIG.layers,
        backend: primary,
      },
      schemes: perScheme.map(({ data: d, loop, gen }) => ({
        scheme: d.scheme,
        vocabSize: d.vocabSize,
        fixedVocabulary: d.fixedVocabulary,
        tokens: d.tokens,
        notes: d.notes,
        tokensPerNote: d.tokensPerNote,
        encodeMs: d.encodeMs,
        training: loop.result
          ? { ...loop.result, tokensPerSec: loop.result.rate.tokensPerSec, notesPerSec: loop.result.rate.tokensPerSec / d.tokensPerNote }
          : { error: loop.error },
        generation: gen.result ? { ...gen.result } : { error: gen.error },
      })),
      noteFamily: noteRun
        ? {
            scheme: noteRun.data.scheme,
            training: noteRun.loop.result
              ? {
                  ...noteRun.loop.result,
                  tokensPerSec: noteRun.loop.result.rate.tokensPerSec,
                  notesPerSec: trainNotesPerSec(NOTE_LABEL, noteRun.loop.result.rate.tokensPerSec, noteRun.data),
                }
              : { error: noteRun.loop.error },
            generation: noteRun.gen.result ? { ...noteRun.gen.result } : { error: noteRun.gen.error },
          }
        : null,
      training: training.map((x) => ({
        backend: x.backend,
        scheme: first.scheme,
        error: x.error,
        ours: x.result?.ours ?? null,
        parallel: x.result?.parallel ?? null,
        tfjs: x.result?.tfjs ?? null,
        speedup: x.result?.tfjs ? (x.result.parallel ?? x.result.ours).tokensPerSec / x.result.tfjs.tokensPerSec : null,
      })),
      ddp,
      ddpNote,
      midi,
      midiWrite,
      memory: {
        backend: primary,
        scheme: first.scheme,
        oneX: m1,
        fourX: m4,
        growthMb: memGrowthMb,
        extraTokenArraysMb: extraDataMb,
        beyondTokenArraysMb: beyondMb,
        errors: [perScheme[0].loop.error, mem4.error].filter(Boolean),
      },
      prepared,
      firstNote: firstNote?.result
        ? { ms: firstNote.firstNoteMs, ...firstNote.result }
        : { absent: !haveShipped, error: firstNote?.error ?? null },
      targets: checks.map((c) => ({ name: c.name, value: c.value, target: c.target, pass: c.pass, short: c.short })),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  if (process.argv.includes('--verbose') && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  fail(e instanceof Error ? e.message.split('\n')[0] : String(e));
});
