/**
 * `npm run -s bench:data [-- --quick] [--data DIR] [--big DIR] [--batches N]`
 *
 * Prepared corpora and streamed training (docs/prepared-format.md):
 * - preparation throughput (`musicgen prepare`'s work) in notes/s on one
 *   thread and on one per core, on --data (default ../shared/data/piano-midi);
 * - training throughput with the windows streamed from the shards against the
 *   same windows in memory (the default remi token model, the training loop's
 *   own tokens/s over the same batches), and the peak RSS of each;
 * - the peak RSS of streamed training on the big corpus (--big, default
 *   out/big-corpus, made by `npm run -s big-corpus`: ≥ 20 M notes), prepared
 *   first (resumable; kept in out/big-prepared).
 * Each training runs in a child process (this file with --child), so peaks
 * are independent. Prints a table, then one JSON line.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareCorpus, prepareThreads } from '../lib/data/prepare-corpus';
import { openPrepared, piecesInMemory } from '../lib/data/prepared-data';
import { pitchedIds, streamPieces } from '../lib/data/stream-windows';
import { DEFAULT_DATASET_CONFIG, splitByFile } from '../lib/data/dataset';
import { defaultTokenizerConfig } from '../lib/tokens/config';
import { initBackend } from '../lib/model/backend';
import { DEFAULT_MODEL_CONFIG, newModel } from '../lib/model/network';
import { runConfig } from '../lib/store/run-config';
import { DEFAULT_TRAIN_CONFIG } from '../lib/store/train-config';
import { trainModel } from '../lib/train/loop';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';

const ROOT = path.resolve(__dirname, '..');
const FLAGS: FlagSpecs = {
  quick: { type: 'boolean', help: 'fewer batches, and no big corpus' },
  data: { type: 'string', help: 'DIR corpus (default ../shared/data/piano-midi, else data/)' },
  big: { type: 'string', help: 'DIR the ≥ 20 M-note corpus (default out/big-corpus when there)' },
  batches: { type: 'string', help: 'N training batches timed per run (default 12, --quick 3)' },
  child: { type: 'string', help: 'JSON (internal) one training run' },
};

/** One training run in a child. */
interface ChildArgs {
  readonly prepared: string;
  readonly mode: 'memory' | 'stream';
  readonly batches: number;
}

/** What a child reports. */
interface ChildResult {
  readonly tokensPerSec: number;
  readonly peakRssMb: number;
  readonly trainTokens: number;
  readonly notes: number;
}

/** Trains the default model on a prepared folder for `batches` batches (after one warm-up), windows in memory or streamed. */
async function child(a: ChildArgs): Promise<ChildResult> {
  const backend = await initBackend();
  const prep = openPrepared(a.prepared);
  const names = prep.manifest.pieces.map((p) => p.name);
  const items = names.map((name, i) => ({ name, i }));
  const dataset = DEFAULT_DATASET_CONFIG;
  const sp = splitByFile(items, dataset.valFraction, dataset.seed);
  const trainIdx = sp.train.map((x) => x.i);
  const valIdx = sp.val.map((x) => x.i);
  const memory = a.mode === 'memory';
  const train = memory
    ? piecesInMemory(
        prep,
        trainIdx,
        trainIdx.map((i) => names[i]),
      )
    : [];
  const val = memory
    ? piecesInMemory(
        prep,
        valIdx,
        valIdx.map((i) => names[i]),
      )
    : [];
  const streamed = memory
    ? undefined
    : { train: streamPieces(prep.reader, trainIdx), val: streamPieces(prep.reader, valIdx), pitched: pitchedIds(prep.vocab) };
  const model = newModel(prep.vocab, DEFAULT_MODEL_CONFIG);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-bench-data-'));
  const training = { ...DEFAULT_TRAIN_CONFIG, epochs: 1 };
  let done = 0;
  try {
    const r = await trainModel(
      {
        model,
        vocab: prep.vocab,
        train,
        val,
        streamed,
        dataset,
        config: training,
        outDir: path.join(out, 'model'),
        runConfig: runConfig(model, { vocab: prep.vocab, train, val }, dataset, training, backend.name, [a.prepared]),
      },
      { onBatch: () => void done++, shouldStop: () => done >= a.batches + 1 },
    );
    return {
      tokensPerSec: r.tokensPerSec,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      trainTokens: trainIdx.reduce((s, i) => s + prep.manifest.pieces[i].length, 0),
      notes: prep.manifest.pieces.reduce((s, p) => s + p.notes, 0),
    };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Runs {@link child} in a fresh process. */
function inChild(a: ChildArgs): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', JSON.stringify(a)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{'))
    throw new Error(`bench child (${a.mode}) failed: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return JSON.parse(last) as ChildResult;
}

/** Prepares `data` into `out` on `threads` threads; notes/s of the tokenizing (a kept preparation: its figure from before). */
async function timedPrepare(data: string, out: string, threads: number): Promise<{ notesPerSec: number; notes: number; seconds: number }> {
  const r = await prepareCorpus({
    folders: [data],
    out,
    midi: {},
    tokenizer: defaultTokenizerConfig('remi'),
    split: { valFraction: DEFAULT_DATASET_CONFIG.valFraction, seed: DEFAULT_DATASET_CONFIG.seed },
    threads,
    onProgress: (done, total) =>
      process.stderr.write(`\rprepare ${path.basename(data)} (${threads} thread${threads > 1 ? 's' : ''}): ${done}/${total} files`),
  });
  process.stderr.write('\n');
  const notes = r.manifest?.pieces.reduce((s, p) => s + p.notes, 0) ?? 0;
  return { notesPerSec: r.notes / Math.max(1e-3, r.seconds), notes, seconds: r.seconds };
}

/** What {@link benchData} measured. */
export interface DataBench {
  readonly prepare: {
    readonly notes: number;
    readonly oneThreadNotesPerSec: number;
    readonly threads: number;
    readonly allThreadsNotesPerSec: number;
  };
  readonly training: {
    readonly batches: number;
    readonly memory: ChildResult;
    readonly stream: ChildResult;
    readonly streamVsMemory: number;
  };
  readonly big: (ChildResult & { readonly prepareNotesPerSec: number; readonly prepareSeconds: number }) | null;
  /** Why the big corpus was not measured, or null. */
  readonly bigNote: string | null;
}

/** Measures preparation and streamed training (see the file comment); `log` gets progress. */
export async function benchData(o: {
  readonly quick: boolean;
  readonly data: string;
  readonly big?: string;
  readonly batches?: number;
  readonly log: (line: string) => void;
}): Promise<DataBench> {
  const batches = o.batches ?? (o.quick ? 3 : 12);
  const bigDir = path.resolve(o.big ?? path.join(ROOT, 'out', 'big-corpus'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-bench-prep-'));
  try {
    const cores = prepareThreads();
    o.log(`preparing ${path.basename(o.data)} on 1 thread, then on ${cores} …`);
    const one = await timedPrepare(o.data, path.join(tmp, 'one'), 1);
    const all = await timedPrepare(o.data, path.join(tmp, 'all'), cores);
    o.log(`training ${batches} batches with the windows in memory, then streamed …`);
    const memory = inChild({ prepared: path.join(tmp, 'all'), mode: 'memory', batches });
    const stream = inChild({ prepared: path.join(tmp, 'all'), mode: 'stream', batches });
    let big: DataBench['big'] = null;
    let bigNote: string | null = o.quick ? '--quick' : `no ${path.relative(ROOT, bigDir)}: npm run -s big-corpus`;
    if (!o.quick && fs.existsSync(bigDir)) {
      o.log(`preparing ${path.relative(ROOT, bigDir)} into out/big-prepared (kept), then training streamed …`);
      const bigOut = path.join(ROOT, 'out', 'big-prepared');
      const p = await timedPrepare(bigDir, bigOut, cores);
      big = { ...inChild({ prepared: bigOut, mode: 'stream', batches }), prepareNotesPerSec: p.notesPerSec, prepareSeconds: p.seconds };
      bigNote = null;
    }
    return {
      prepare: { notes: one.notes, oneThreadNotesPerSec: one.notesPerSec, threads: cores, allThreadsNotesPerSec: all.notesPerSec },
      training: { batches, memory, stream, streamVsMemory: stream.tokensPerSec / memory.tokensPerSec },
      big,
      bigNote,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Table rows (label, figure, note) of {@link benchData}'s figures. */
export function dataRows(r: DataBench): [string, string, string][] {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows: [string, string, string][] = [
    ['prepare, 1 thread', `${n(r.prepare.oneThreadNotesPerSec)} notes/s`, `musicgen prepare's work on ${n(r.prepare.notes)} notes`],
    [
      `prepare, ${r.prepare.threads} threads`,
      `${n(r.prepare.allThreadsNotesPerSec)} notes/s`,
      `×${(r.prepare.allThreadsNotesPerSec / r.prepare.oneThreadNotesPerSec).toFixed(2)} the one thread's`,
    ],
    [
      'training, windows in memory',
      `${n(r.training.memory.tokensPerSec)} tokens/s`,
      `peak RSS ${n(r.training.memory.peakRssMb)} MB; ${r.training.batches} batches of the default remi model`,
    ],
    [
      'training, windows streamed',
      `${n(r.training.stream.tokensPerSec)} tokens/s`,
      `${(100 * (r.training.streamVsMemory - 1)).toFixed(1)} % against in memory; peak RSS ${n(r.training.stream.peakRssMb)} MB (1×)`,
    ],
  ];
  if (r.big)
    rows.push(
      [
        'prepare the big corpus',
        r.big.prepareNotesPerSec > 0 ? `${n(r.big.prepareNotesPerSec)} notes/s` : 'kept',
        `${n(r.big.notes)} notes, ${r.prepare.threads} threads`,
      ],
      [
        `training streamed, ${(r.big.notes / 1e6).toFixed(1)} M notes`,
        `peak RSS ${n(r.big.peakRssMb)} MB`,
        `${(r.big.notes / r.training.stream.notes).toFixed(1)}× the corpus (1×: ${n(r.training.stream.peakRssMb)} MB); ${n(r.big.tokensPerSec)} tokens/s`,
      ],
    );
  else rows.push(['training streamed, ≥ 20 M notes', 'skipped', r.bigNote ?? '']);
  return rows;
}

async function main(): Promise<void> {
  const a = parseFlags(process.argv.slice(2), FLAGS);
  const childArg = str(a, 'child');
  if (childArg) {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(childArg) as ChildArgs))}\n`);
    return;
  }
  if (a.values.help) {
    process.stdout.write(`usage: npm run -s bench:data [-- --quick] [--data DIR] [--big DIR] [--batches N]\n${flagHelp(FLAGS)}\n`);
    return;
  }
  const shared = path.join(ROOT, '..', 'shared', 'data', 'piano-midi');
  const data = path.resolve(str(a, 'data') ?? (fs.existsSync(shared) ? shared : path.join(ROOT, 'data')));
  const batches = str(a, 'batches');
  const r = await benchData({
    quick: a.values.quick === true,
    data,
    big: str(a, 'big'),
    batches: batches === undefined ? undefined : Number(batches),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const rows = dataRows(r);
  const w = [0, 1].map((i) => Math.max(...rows.map((x) => x[i].length)));
  process.stdout.write(`musicgen bench:data: ${os.cpus().length} cores, node ${process.version}, on ${path.basename(data)}\n`);
  for (const [k, v, note] of rows) process.stdout.write(`  ${k.padEnd(w[0])}  ${v.padEnd(w[1])}  ${note}\n`);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (require.main === module)
  main().catch((e: unknown) => {
    process.stderr.write(`bench:data: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
