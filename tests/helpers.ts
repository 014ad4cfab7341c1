/**
 * Shared test helpers: where the data lives (defined here only), and running
 * the CLI — in this process with {@link runCli} (fast: no node + tsx + tfjs
 * start-up per call) or as a real process with {@link spawnCli} /
 * {@link startCli} (for what only a process shows: exit by signal, Ctrl-C,
 * kill -9, a hang that must be killed, the npm scripts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import assert from 'node:assert/strict';
import type { DatasetConfig } from '../lib/data/dataset';
import type { PreparedData } from '../lib/data/prepare';
import { buildModel, DEFAULT_MODEL_CONFIG, type MusicModel } from '../lib/model/network';
import { runConfig } from '../lib/store/run-config';
import type { TrainConfig } from '../lib/store/train-config';
import { trainModel, type TrainResult } from '../lib/train/loop';

// ---------------------------------------------------------------- paths

/** The project root; the CLI runs with it as working directory in these tests. */
export const ROOT = path.resolve(__dirname, '..');
/** The project's own corpus. */
export const DATA_DIR = path.join(ROOT, 'data');
/** The shipped model. */
export const FOLK_MODEL = path.join(ROOT, 'models', 'folk');
/** Small good, odd and broken MIDI files, written by tests/fixtures/make-fixtures.ts. */
export const MIDI_FIXTURES = path.join(ROOT, 'tests', 'fixtures', 'midi');

/** Data shared beside the project checkout (absent on a user's fresh clone). */
const SHARED_DATA = path.resolve(ROOT, '..', 'shared', 'data');
const missing = (dir: string): string | false => (fs.existsSync(dir) ? false : `no ${path.relative(ROOT, dir)} here`);

/** The Nottingham folk tunes (about a thousand files). */
export const NOTTINGHAM = path.join(SHARED_DATA, 'nottingham');
/** A skip reason when {@link NOTTINGHAM} is missing (node:test's `skip` option), else false. */
export const needNottingham: string | false = missing(NOTTINGHAM);
export const HAVE_NOTTINGHAM = needNottingham === false;

/** Classical piano pieces (piano-midi.de). */
export const PIANO_MIDI = path.join(SHARED_DATA, 'piano-midi');
/** A skip reason when {@link PIANO_MIDI} is missing, else false. */
export const needPianoMidi: string | false = missing(PIANO_MIDI);
export const HAVE_PIANO_MIDI = needPianoMidi === false;

// ---------------------------------------------------------------- running the CLI

/** What a CLI run printed and how it ended. */
export interface CliRun {
  /** The exit code; null when the process ended by a signal (or an in-process run timed out). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI entry point, loaded on first use (it loads tfjs: tests that only need paths don't pay for it). */
function cliMain(): (argv: readonly string[]) => Promise<number> {
  return (require('../lib/cli/main') as typeof import('../lib/cli/main')).main;
}

/** A stand-in for process.stdout / process.stderr of a command whose output is a pipe (not a terminal). */
class Capture extends Writable {
  text = '';
  readonly isTTY = false;
  constructor() {
    super({ decodeStrings: false });
  }
  override _write(chunk: unknown, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    done();
  }
  /** Plain-function writes (console.*), synchronous like the stream's. */
  line(args: unknown[]): void {
    this.text += format(...args) + '\n';
  }
}

const CONSOLE_TO_STDOUT = ['log', 'info', 'debug'] as const;
const CONSOLE_TO_STDERR = ['warn', 'error', 'trace'] as const;

/**
 * Points process.stdout, process.stderr and the console at captures until the
 * returned function is called. node:test keeps its own reference to the real
 * stdout, so its reports are not caught.
 */
function redirectOutput(out: Capture, err: Capture): () => void {
  const saved = { stdout: Object.getOwnPropertyDescriptor(process, 'stdout'), stderr: Object.getOwnPropertyDescriptor(process, 'stderr') };
  const consoleSaved = new Map<string, unknown>();
  const c = console as unknown as Record<string, unknown>;
  for (const k of [...CONSOLE_TO_STDOUT, ...CONSOLE_TO_STDERR]) consoleSaved.set(k, c[k]);
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => out });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => err });
  for (const k of CONSOLE_TO_STDOUT) c[k] = (...args: unknown[]) => out.line(args);
  for (const k of CONSOLE_TO_STDERR) c[k] = (...args: unknown[]) => err.line(args);
  return () => {
    for (const [k, v] of consoleSaved) c[k] = v;
    if (saved.stdout) Object.defineProperty(process, 'stdout', saved.stdout);
    if (saved.stderr) Object.defineProperty(process, 'stderr', saved.stderr);
  };
}

/** In-process runs, one at a time: output capture and the working directory are per process. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs the CLI in this process, as `node lib/cli/main.ts …argv` in the repo
 * root would: the exported `main(argv)` with stdout, stderr and the console
 * captured (stderr not a terminal, as when piped), and the exit code it
 * returns. Output, console and working directory are restored afterwards,
 * also when the run fails. Runs are queued, so concurrent calls are safe.
 * A run still busy after `timeoutMs` gives code null with a note on stderr,
 * so the test fails instead of hanging; the work itself cannot be stopped and
 * may still print into later runs (use {@link spawnCli} where a hang is what
 * the test is about).
 */
export function runCli(argv: readonly string[], timeoutMs = 120_000): Promise<CliRun> {
  const run = queue.then(() => runCliNow(argv, timeoutMs));
  queue = run.catch(() => undefined);
  return run;
}

async function runCliNow(argv: readonly string[], timeoutMs: number): Promise<CliRun> {
  const out = new Capture();
  const err = new Capture();
  const cwd = process.cwd();
  let timer: NodeJS.Timeout | undefined;
  const restore = redirectOutput(out, err);
  let code: number | null;
  try {
    process.chdir(ROOT);
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    code = await Promise.race([cliMain()(argv), timeout]);
    if (code === null) err.write(`\n[still running after ${timeoutMs} ms]\n`);
  } catch (e) {
    // What the entry point of lib/cli/main.ts prints when main() rejects.
    err.write(`musicgen: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  } finally {
    clearTimeout(timer);
    process.chdir(cwd);
    restore();
  }
  return { code, signal: null, stdout: out.text, stderr: err.text };
}

/** A started process and its end. */
export interface Started {
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is read (it is SIGKILLed after the timeout). */
  readonly done: Promise<CliRun>;
}

/**
 * Starts `command args` in the repo root with stdout and stderr collected.
 * `detached` gives it its own process group (as a terminal would); the timeout
 * then kills the whole group.
 */
export function startProcess(command: string, args: readonly string[], opts: { timeoutMs?: number; detached?: boolean } = {}): Started {
  const { timeoutMs = 60_000, detached = false } = opts;
  const child = spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (detached && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: timedOut ? `${stderr}\n[killed by SIGKILL after ${timeoutMs} ms]` : stderr });
    });
  });
  return { child, done };
}

/** Starts the CLI as a process (`node --import tsx lib/cli/main.ts …args` in the repo root). */
export function startCli(args: readonly string[], timeoutMs = 60_000): Started {
  return startProcess(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], { timeoutMs });
}

/** Runs the CLI as a process to its end (see {@link startCli}). */
export function spawnCli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  return startCli(args, timeoutMs).done;
}

// ---------------------------------------------------------------- checking a run

/** Asserts exit code 0, showing stderr otherwise. */
export function assertExit0(r: CliRun): void {
  assert.equal(r.code, 0, `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}; stderr:\n${r.stderr}`);
}

/** Exit ≠ 0 and stderr is exactly one line, matching every pattern, with no stack trace. Returns the line. */
export function oneLineError(r: CliRun, ...patterns: RegExp[]): string {
  assert.notEqual(r.code, 0, `expected a failure; stdout:\n${r.stdout}`);
  assert.ok(r.code !== null, `killed or still running: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.ok(!/^\s+at /m.test(r.stderr), 'stack trace without --verbose');
  for (const p of patterns) assert.match(lines[0], p);
  return lines[0];
}

/** The JSON object on the last non-empty stdout line (--json). */
export function lastJson(r: CliRun): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines[lines.length - 1].startsWith('{'), `no JSON on stdout's last line:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/** The .mid/.midi files directly in `dir`, sorted. */
export function midiFilesIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.midi?$/i.test(f))
    .sort();
}

/**
 * Asserts that a kernel's gradients equal a reference's (tfjs autograd) array
 * by array: every value within 1e-5 + `relative` × the array's largest
 * magnitude, and (with `nonZero`) no reference array all zeros.
 */
export function assertGradientsClose(
  mine: readonly { dataSync(): ArrayLike<number> }[],
  ref: readonly ArrayLike<number>[],
  relative: number,
  nonZero = false,
): void {
  assert.equal(mine.length, ref.length, 'gradient count');
  mine.forEach((g, k) => {
    const a = g.dataSync();
    const b = ref[k];
    assert.equal(a.length, b.length, `grad ${k} size`);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      maxAbs = Math.max(maxAbs, Math.abs(b[i]));
    }
    if (nonZero) assert.ok(maxAbs > 1e-6, `precondition: gradient ${k} is not zero`);
    assert.ok(maxDiff < 1e-5 + relative * maxAbs, `grad ${k}: max diff ${maxDiff} (max ${maxAbs})`);
  });
}

// ---------------------------------------------------------------- training

/**
 * Trains `model` on prepared data into `outDir` with trainModel, recording the
 * run's config.json as the CLI does (`backend` and `folders` as given).
 */
export function trainPrepared(
  model: MusicModel,
  data: Pick<PreparedData, 'vocab' | 'train' | 'val'>,
  dataset: DatasetConfig,
  config: TrainConfig,
  outDir: string,
  folders: readonly string[] = [DATA_DIR],
  backend = 'wasm',
): Promise<TrainResult> {
  return trainModel({
    model,
    vocab: data.vocab,
    train: data.train,
    val: data.val,
    dataset,
    config,
    outDir,
    runConfig: runConfig(model, data, dataset, config, backend, folders),
  });
}

/** A tiny note-family model (2 × 12 units, head 7) for a vocabulary of `vocabSize` tokens: trains and steps in milliseconds. */
export function tinyNoteModel(vocabSize: number, seed: number, dropout = 0): MusicModel {
  return buildModel({
    ...DEFAULT_MODEL_CONFIG,
    vocabSize,
    family: 'note',
    units: 12,
    embeddingDim: 6,
    stepUnits: 9,
    headUnits: 7,
    layers: 2,
    copy: true,
    headSkip: true,
    dropout,
    seed,
  });
}
