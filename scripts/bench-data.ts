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
  const quick = a.values.quick === true;
  const batches = Number(str(a, 'batches') ?? (quick ? 3 : 12));
  const shared = path.join(ROOT, '..', 'shared', 'data', 'piano-midi');
  const data = path.resolve(str(a, 'data') ?? (fs.existsSync(shared) ? shared : path.join(ROOT, 'data')));
  const bigDir = path.resolve(str(a, 'big') ?? path.join(ROOT, 'out', 'big-corpus'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-bench-prep-'));
  const rows: [string, string][] = [];
  try {
    const cores = prepareThreads();
    const one = await timedPrepare(data, path.join(tmp, 'one'), 1);
    const all = await timedPrepare(data, path.join(tmp, 'all'), cores);
    rows.push([`prepare ${path.basename(data)} (${one.notes} notes), 1 thread`, `${Math.round(one.notesPerSec)} notes/s`]);
    rows.push([`prepare, ${cores} threads`, `${Math.round(all.notesPerSec)} notes/s (×${(all.notesPerSec / one.notesPerSec).toFixed(2)})`]);
    const memory = inChild({ prepared: path.join(tmp, 'all'), mode: 'memory', batches });
    const stream = inChild({ prepared: path.join(tmp, 'all'), mode: 'stream', batches });
    const ratio = stream.tokensPerSec / memory.tokensPerSec;
    rows.push([
      `training, windows in memory (${batches} batches)`,
      `${Math.round(memory.tokensPerSec)} tokens/s, peak RSS ${Math.round(memory.peakRssMb)} MB`,
    ]);
    rows.push([
      `training, windows streamed from the shards`,
      `${Math.round(stream.tokensPerSec)} tokens/s (${(100 * (ratio - 1)).toFixed(1)} %), peak RSS ${Math.round(stream.peakRssMb)} MB`,
    ]);
    let big: (ChildResult & { prepareNotesPerSec: number; prepareSeconds: number }) | null = null;
    if (!quick && fs.existsSync(bigDir)) {
      const bigOut = path.join(ROOT, 'out', 'big-prepared');
      const p = await timedPrepare(bigDir, bigOut, cores);
      big = { ...inChild({ prepared: bigOut, mode: 'stream', batches }), prepareNotesPerSec: p.notesPerSec, prepareSeconds: p.seconds };
      rows.push([
        `prepare the big corpus (${big.notes} notes), ${cores} threads`,
        p.notesPerSec > 0 ? `${Math.round(p.notesPerSec)} notes/s, ${p.seconds.toFixed(0)} s` : 'kept from before',
      ]);
      rows.push([
        `training streamed on ${(big.notes / 1e6).toFixed(1)} M notes (${(big.notes / stream.notes).toFixed(1)}×)`,
        `${Math.round(big.tokensPerSec)} tokens/s, peak RSS ${Math.round(big.peakRssMb)} MB (1×: ${Math.round(stream.peakRssMb)} MB)`,
      ]);
    } else
      rows.push([
        'training streamed on the big corpus',
        quick ? 'skipped (--quick)' : `no ${path.relative(ROOT, bigDir)}: npm run -s big-corpus`,
      ]);
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`musicgen bench:data: ${os.cpus().length} cores, node ${process.version}\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
    const json = {
      prepare: {
        notes: one.notes,
        oneThreadNotesPerSec: Math.round(one.notesPerSec),
        threads: cores,
        allThreadsNotesPerSec: Math.round(all.notesPerSec),
      },
      training: { batches, memory, stream, streamVsMemory: ratio },
      big,
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:data: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
