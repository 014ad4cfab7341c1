/**
 * The PyTorch DDP trainer's throughput (python/musicgen_torch, docs/distributed.md) with 1 and 2
 * processes, on the shapes `npm run bench` measures our own kernel on: the default model (embedding,
 * 2×256 LSTM, softmax over the vocabulary), batches of 32 windows of 64 tokens. Called from
 * scripts/bench.ts, which prints the rows beside our kernel's; alone:
 *
 *   node --import tsx scripts/bench-ddp.ts [--vocab 505] [--batches 10]
 *
 * Without PyTorch for python3 it says so and measures nothing.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DEFAULT_DATASET_CONFIG } from '../lib/data/dataset';
import { DEFAULT_MODEL_CONFIG } from '../lib/model/network';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';

const PYTHON_DIR = path.join(__dirname, '..', 'python');

/** One DDP measurement, as `python3 -m musicgen_torch bench` prints it. */
interface DdpRate {
  readonly processes: number;
  readonly threadsPerProcess: number;
  readonly batches: number;
  readonly seconds: number;
  readonly tokensPerSec: number;
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

/** The first of MUSICGEN_PYTHON, /usr/bin/python3 and python3 that imports torch, or null. */
function torchPython(): string | null {
  for (const py of [process.env.MUSICGEN_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    if (spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
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
  if (py === null)
    return {
      shape,
      rates: [],
      skipped: 'PyTorch is not installed for python3 (bash scripts/setup.sh as root, or apt-get install python3-torch)',
    };
  const rates: DdpRate[] = [];
  for (const nproc of [1, 2]) {
    log(`PyTorch DDP, ${nproc} process${nproc > 1 ? 'es' : ''} (gloo, 1 thread each): a warm-up batch, then ${batches} measured …`);
    const args = [
      '-m',
      'musicgen_torch.launch',
      '--nproc',
      String(nproc),
      'bench',
      '--vocab',
      String(vocabSize),
      '--batches',
      String(batches),
    ];
    const sizes = [
      '--batch-size',
      shape.batchSize,
      '--seq-len',
      shape.seqLen,
      '--units',
      shape.units,
      '--layers',
      shape.layers,
      '--embedding',
      DEFAULT_MODEL_CONFIG.embeddingDim,
    ];
    // One thread per process: with 2 threads on a busy machine OpenMP's waiting made one process many times slower.
    const r = spawnSync(py, [...args, ...sizes.map(String), '--threads', '1'], {
      cwd: PYTHON_DIR,
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, MUSICGEN_DEVICE: 'cpu' },
    });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !last.startsWith('{'))
      return {
        shape,
        rates,
        skipped: `python3 -m musicgen_torch.launch --nproc ${nproc} bench failed: ${r.stderr.trim().split('\n').pop() ?? r.status}`,
      };
    rates.push(JSON.parse(last) as DdpRate);
  }
  return { shape, rates, skipped: null };
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

if (require.main === module) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number ≥ 1 (got ${process.argv[i + 1]})`);
    return v;
  };
  const d = benchDdp(arg('vocab', 505), arg('batches', 10), (l) => process.stderr.write(`[bench-ddp] ${l}\n`));
  for (const [a, b, c] of ddpRows(d, null)) process.stdout.write(`${a.padEnd(44)} ${b.padEnd(18)} ${c}\n`);
  process.stdout.write(`${JSON.stringify(d)}\n`);
}
