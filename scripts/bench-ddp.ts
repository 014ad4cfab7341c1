/**
 * The PyTorch DDP trainer's throughput (python/musicgen_torch, docs/distributed.md) with 1 and 2
 * processes, on the shapes `npm run bench` measures our own kernel on: the default model (embedding,
 * 2×256 LSTM, softmax over the vocabulary), batches of 32 windows of 64 tokens. Called from
 * scripts/bench.ts, which prints the rows beside our kernel's. The note family too (benchDdpNote, its shapes
 * and rows in scripts/bench-ddp-note.ts): its notes/s beside our token and note kernels'. Alone:
 *
 *   node --import tsx scripts/bench-ddp.ts [--vocab 505] [--batches 10] [--note]
 *
 * Without PyTorch for python3 it says so and measures nothing.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DEFAULT_DATASET_CONFIG } from '../lib/data/dataset';
import { DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { ddpNoteRows, noteShapeArgs, PIANO_PROFILE, type DdpNoteBench, type StepProfile } from './bench-ddp-note';

const PYTHON_DIR = path.join(__dirname, '..', 'python');

/** One DDP measurement, as `python3 -m musicgen_torch bench` prints it. */
export interface DdpRate {
  readonly processes: number;
  readonly threadsPerProcess: number;
  readonly batches: number;
  readonly seconds: number;
  /** Target ids per second over all processes (every input token of the token family; the next steps' code ids of the note family). */
  readonly tokensPerSec: number;
  /** The note family's: steps trained per second, and those whose next step holds a note. */
  readonly stepsPerSec?: number;
  readonly notesPerSec?: number;
  /** The model's parameters, as tfjs counts them. */
  readonly params?: number;
}

/** The measurements with 1 and 2 processes, or why there are none. */
export interface DdpBench {
  readonly shape: {
    readonly vocabSize: number;
    readonly batchSize: number;
    readonly seqLen: number;
    readonly units: number;
    readonly layers: number;
  };
  readonly rates: readonly DdpRate[];
  readonly skipped: string | null;
}

/** Why there is no measurement without PyTorch. */
export const NO_TORCH = 'PyTorch is not installed for python3 (bash scripts/setup.sh as root, or apt-get install python3-torch)';

/** The first of MUSICGEN_PYTHON, /usr/bin/python3 and python3 that imports torch, or null. */
export function torchPython(): string | null {
  for (const py of [process.env.MUSICGEN_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    if (spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
}

/**
 * `python3 -m musicgen_torch.launch --nproc N bench ARGS --threads 1` with 1 and 2 processes: the rates, or why the
 * first that failed did. One thread per process: with 2 threads on a busy machine OpenMP's waiting made one process
 * many times slower.
 */
export function runDdpBench(
  py: string,
  args: readonly (string | number)[],
  what: string,
  log: (line: string) => void,
): { readonly rates: DdpRate[]; readonly failed: string | null } {
  const rates: DdpRate[] = [];
  for (const nproc of [1, 2]) {
    log(`PyTorch DDP, ${what}, ${nproc} process${nproc > 1 ? 'es' : ''} (gloo, 1 thread each) …`);
    const r = spawnSync(py, ['-m', 'musicgen_torch.launch', '--nproc', String(nproc), 'bench', ...args.map(String), '--threads', '1'], {
      cwd: PYTHON_DIR,
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, MUSICGEN_DEVICE: 'cpu' },
    });
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !last.startsWith('{')) {
      const why = (r.stderr ?? '').trim().split('\n').pop() || (r.error ? r.error.message : `exit ${r.status}`);
      return { rates, failed: `python3 -m musicgen_torch.launch --nproc ${nproc} bench failed: ${why}` };
    }
    rates.push(JSON.parse(last) as DdpRate);
  }
  return { rates, failed: null };
}

/** Measures `batches` training steps (after a warm-up step) with 1 and 2 processes on the default shapes and this vocabulary. */
export function benchDdp(vocabSize: number, batches: number, log: (line: string) => void): DdpBench {
  const shape = {
    vocabSize,
    batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
    seqLen: DEFAULT_DATASET_CONFIG.seqLen,
    units: DEFAULT_MODEL_CONFIG.units,
    layers: DEFAULT_MODEL_CONFIG.layers,
  };
  const py = torchPython();
  if (py === null) return { shape, rates: [], skipped: NO_TORCH };
  const args = [
    ...['--vocab', vocabSize, '--batches', batches, '--batch-size', shape.batchSize, '--seq-len', shape.seqLen],
    ...['--units', shape.units, '--layers', shape.layers, '--embedding', DEFAULT_MODEL_CONFIG.embeddingDim],
  ];
  const { rates, failed } = runDdpBench(py, args, `token family: a warm-up batch, then ${batches} measured`, log);
  return { shape, rates, skipped: failed };
}

/** Rows for bench.ts's table: [label, value, note]; `ours` is our kernel's tokens/s on the same shapes, when measured. */
export function ddpRows(d: DdpBench, ours: number | null): string[][] {
  const fmt = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (d.skipped && d.rates.length === 0) return [['training, PyTorch DDP', 'skipped', d.skipped]];
  const rows = d.rates.map((r) => [
    `training, PyTorch DDP (gloo, ${r.processes} process${r.processes > 1 ? 'es' : ''})`,
    `${fmt(r.tokensPerSec)} tokens/s`,
    `${r.batches} × ${d.shape.batchSize}×${d.shape.seqLen}, ${d.shape.layers}×${d.shape.units}, vocabulary ${fmt(d.shape.vocabSize)}; ` +
      `${fmt((r.seconds * 1000) / r.batches)} ms/batch${ours ? `; ${(r.tokensPerSec / ours).toFixed(2)}× our kernel's best` : ''}`,
  ]);
  if (d.skipped) rows.push(['training, PyTorch DDP', 'failed', d.skipped]);
  return rows;
}

/**
 * The note family's `batches` training steps (after a warm-up step) with 1 and 2 processes, at the size our note kernel
 * trains in bench.ts, on random steps with the lengths of `profile` (null: bench.py's default, piano-midi's).
 */
export function benchDdpNote(vocabSize: number, profile: StepProfile | null, batches: number, log: (line: string) => void): DdpNoteBench {
  const { shape, args } = noteShapeArgs(vocabSize, profile);
  const source = profile?.source ?? PIANO_PROFILE;
  const py = torchPython();
  if (py === null) return { shape, profile: source, rates: [], skipped: NO_TORCH };
  const { rates, failed } = runDdpBench(py, [...args, '--batches', batches], `note family: a warm-up batch, then ${batches} measured`, log);
  return { shape, profile: source, rates, skipped: failed };
}

if (require.main === module) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number ≥ 1 (got ${process.argv[i + 1]})`);
    return v;
  };
  const log = (l: string): void => {
    process.stderr.write(`[bench-ddp] ${l}\n`);
  };
  const print = (rows: string[][]): void => {
    for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(56)} ${b.padEnd(16)} ${c}\n`);
  };
  const vocab = arg('vocab', 505);
  const batches = arg('batches', 10);
  const d = benchDdp(vocab, batches, log);
  print(ddpRows(d, null));
  // --note: the note family too (on piano-midi's step profile; `npm run bench` passes its remi data's).
  const note = process.argv.includes('--note') ? benchDdpNote(vocab, null, batches, log) : null;
  if (note) print(ddpNoteRows(note, { token: null, note: null, notesPerId: null }));
  process.stdout.write(`${JSON.stringify(note ? { ...d, note } : d)}\n`);
}
