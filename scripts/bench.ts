/**
 * `npm run bench [-- [--quick] [--data DIR] [--backends wasm,cpu]]`  (`--help` lists the flags)
 *
 * Speed and memory of the pipeline, for the default model (DEFAULT_MODEL_CONFIG
 * sized to the data's vocabulary, seqLen and batch size from the defaults):
 * - training throughput of our BPTT kernel vs tfjs's own LSTM layers, per backend;
 * - generation: the stateful JS generator vs re-running the window per token;
 * - MIDI parsing speed (warm);
 * - peak memory while training on 1× and 4× the data (flat = lazy batches);
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
import { loadMidiFolder, MIDI_EXTENSIONS } from '../lib/midi/read';
import { DEFAULT_TOKENIZER_CONFIG } from '../lib/tokens/config';
import { buildVocabulary } from '../lib/tokens/vocabulary';
import { saveVocabulary } from '../lib/tokens/vocab-file';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';
import { UserError } from '../lib/core/errors';
import type { Rate, WorkerArgs } from './bench-worker';

const ROOT = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'bench-worker.ts');
const SHIPPED = path.join(ROOT, 'models/pretrained');
const MB = 1024 * 1024;

/** Targets on a 2-core machine without tfjs-node. */
const TARGETS = { trainTokensPerSec: 3000, genNotesPerSec: 500, genSpeedup: 50, midiFilesPerSec: 200, memRatio: 1.1, memSlackMb: 50 };

interface Options {
  readonly quick: boolean;
  readonly data: string | null;
  readonly backends: readonly string[] | null;
}

const BACKENDS = ['tensorflow', 'wasm', 'cpu'];

const USAGE = 'usage: npm run bench [-- [--quick] [--data DIR] [--backends tensorflow,wasm,cpu]]';

const BENCH_FLAGS: FlagSpecs = {
  quick: { type: 'boolean', help: 'fewer batches and events; only the fastest backend unless --backends is given' },
  data: { type: 'string', help: 'DIR MIDI folder or file to measure on (default ../shared/data/nottingham, else data/)' },
  backends: { type: 'string', help: `LIST comma-separated backends to train on (${BACKENDS.join(', ')}; default: those installed)` },
};

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
  const list = str(a, 'backends');
  let backends: string[] | null = null;
  if (list !== undefined) {
    backends = list.split(',').map((b) => b.trim()).filter(Boolean);
    if (backends.length === 0) throw new UserError('--backends needs a list, e.g. wasm,cpu');
    for (const b of backends) if (!BACKENDS.includes(b)) throw new UserError(`--backends: unknown backend "${b}" (tensorflow, wasm or cpu)`);
  }
  return { quick: a.values.quick === true, data: data ?? null, backends };
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
      if (code === 0 && line) resolve({ ok: true, result: JSON.parse(line.slice('BENCH_RESULT '.length)) as T, error: null, wallMs, firstNoteMs });
      else {
        const why = timedOut ? `timed out after ${timeoutSec} s` : (err.trim().split('\n').pop() ?? `exit code ${code}`) || `exit code ${code}`;
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
  readonly windowSeqLen: number;
  readonly primerTokens: number;
  readonly windowPrimerTokens: number;
  readonly stateful: GenRate & { readonly notesPerCpuSec: number };
  readonly window: GenRate & { readonly extrapolatedNotesPerSec: number; readonly extrapolatedEventsPerSec: number };
  /** Window method's time for the stateful run's output ÷ the stateful time. */
  readonly speedup: number;
}
interface MemOut {
  readonly copies: number;
  readonly pieces: number;
  readonly dataTokens: number;
  readonly batches: number;
  readonly rssBeforeTraining: number;
  readonly peakRss: number;
}
interface FirstOut {
  readonly backend: string;
  readonly msProcessStartToScript: number;
  readonly msBackend: number;
  readonly msLoadModel: number;
  readonly msPrimer: number;
  readonly msFirstNote: number;
}

function findData(opt: Options): string {
  const candidates = opt.data ? [opt.data] : [path.join(ROOT, '../shared/data/nottingham'), path.join(ROOT, 'data')];
  for (const c of candidates) if (fs.existsSync(c) && listFiles(c, MIDI_EXTENSIONS).length > 0) return c;
  return fail(`no MIDI files in ${candidates.join(' or ')} (use --data DIR)`);
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

const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

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
  return { name, value, target: `≥ ${fmt(target)} ${unit}`, pass, short: pass ? null : `${fmt(100 * (1 - value / target))} % short (${fmt(value, value < 100 ? 1 : 0)} vs ${fmt(target)})` };
}

async function main(): Promise<void> {
  const opt = parseOptions(process.argv.slice(2));
  if (!opt) return;
  const started = performance.now();
  const load0 = os.loadavg()[0];
  const dataDir = findData(opt);
  const q = opt.quick;

  // 1. MIDI parsing: a first pass (also loads the pieces), then timed warm passes.
  log(`MIDI parsing over ${path.relative(ROOT, dataDir) || dataDir} …`);
  let t = performance.now();
  const report = loadMidiFolder(dataDir);
  const coldMs = performance.now() - t;
  const warmPasses = 3;
  t = performance.now();
  for (let i = 0; i < warmPasses; i++) loadMidiFolder(dataDir);
  const warmMs = (performance.now() - t) / warmPasses;
  const midi = { folder: dataDir, files: report.files, pieces: report.pieces.length, skipped: report.skipped.length, coldMs, warmMs, warmPasses, filesPerSec: report.files / (warmMs / 1000), coldFilesPerSec: report.files / (coldMs / 1000) };

  // 2. Vocabulary, encoding and split, handed to the children through a scratch folder.
  const vocab = buildVocabulary(report.pieces, DEFAULT_TOKENIZER_CONFIG);
  const encoded = encodePieces(vocab, report.pieces);
  const { val } = splitByFile(encoded, DEFAULT_DATASET_CONFIG.valFraction, DEFAULT_DATASET_CONFIG.seed);
  const valSet = new Set(val);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-bench-'));
  saveVocabulary(path.join(scratch, 'vocab.json'), vocab);
  fs.writeFileSync(path.join(scratch, 'meta.json'), JSON.stringify({ pieces: encoded.map((p) => ({ name: p.name, length: p.ids.length, val: valSet.has(p) })) }));
  fs.writeFileSync(path.join(scratch, 'ids.bin'), Buffer.concat(encoded.map((p) => Buffer.from(p.ids.buffer, p.ids.byteOffset, p.ids.byteLength))));
  // Primer: the first piece long enough for a full window after a primer (generation tasks read it as a MIDI file).
  const primerPiece = encoded.find((p) => p.ids.length >= 2 * DEFAULT_DATASET_CONFIG.seqLen) ?? encoded[0];
  const primerFile = fs.statSync(dataDir).isDirectory() ? path.join(dataDir, primerPiece.name) : dataDir;
  const dataTokens = encoded.reduce((s, p) => s + p.ids.length, 0);

  try {
    // 3. Training throughput per backend.
    // --quick: only the fastest backend (unless --backends is given); cpu: a small warm-up batch, one timed batch.
    const backends = availableBackends(opt);
    const training: { backend: string; result: TrainOut | null; error: string | null }[] = [];
    for (const b of backends) {
      if (q && !opt.backends && training.some((x) => x.result)) break;
      const slow = b === 'cpu';
      const args: WorkerArgs = { dataDir: scratch, ourBatches: slow ? 1 : q ? 2 : 6, tfjsBatches: slow ? (q ? 0 : 1) : q ? 1 : 2, warmupWindows: slow ? 4 : undefined };
      log(`training on ${b}: ${args.ourBatches} batch(es) of our kernel, ${args.tfjsBatches} of tfjs layers, after a warm-up batch${slow ? ' of 4 windows' : ''} each …`);
      const r = await runChild<TrainOut>('train', args, b, slow ? 240 : 180);
      training.push({ backend: b, result: r.result, error: r.error });
      if (!r.ok) log(`  ${b}: ${r.error}`);
    }
    const primary = training.find((x) => x.result)?.backend ?? 'wasm';

    // 4. Generation (stateful JS vs window re-run) on the primary backend.
    log(`generation on ${primary} …`);
    const gen = await runChild<GenOut>('gen', { dataDir: scratch, modelDir: SHIPPED, primerFile, statefulEvents: q ? 100 : 200, windowEvents: q ? 5 : 10 }, primary, 180);
    if (!gen.ok) log(`  generation: ${gen.error}`);

    // 5. Peak memory on 1× and 4× the data, each in a fresh process.
    const memBatches = q ? 2 : 4;
    const mem: Record<number, ChildResult<MemOut>> = {};
    for (const copies of [1, 4]) {
      log(`memory: ${memBatches} training batches on ${copies}× the data …`);
      mem[copies] = await runChild<MemOut>('memory', { dataDir: scratch, copies, memBatches, scratch: path.join(scratch, `mem${copies}`) }, primary, primary === 'cpu' ? 400 : 180);
      if (!mem[copies].ok) log(`  memory ${copies}×: ${mem[copies].error}`);
    }

    // 6. Time to the first note with the shipped model.
    const haveShipped = fs.existsSync(path.join(SHIPPED, 'model.json'));
    let first: ChildResult<FirstOut> | null = null;
    if (haveShipped) {
      log('time to first note with the shipped model …');
      first = await runChild<FirstOut>('firstnote', { dataDir: scratch, modelDir: SHIPPED, primerFile }, primary, 120);
      if (!first.ok) log(`  first note: ${first.error}`);
    }

    // ----- checks -----
    const nonNative = training.find((x) => x.result && x.backend !== 'tensorflow')?.result ?? null;
    const g = gen.result;
    const genRatio = g ? g.speedup : null;
    const m1 = mem[1].result;
    const m4 = mem[4].result;
    const memGrowthMb = m1 && m4 ? (m4.peakRss - m1.peakRss) / MB : null;
    const memOk = m1 && m4 ? m4.peakRss <= m1.peakRss * TARGETS.memRatio || (m4.peakRss - m1.peakRss) / MB <= TARGETS.memSlackMb : null;
    const checks: Check[] = [
      atLeast(
        `training, our kernel (${nonNative ? `${training.find((x) => x.result === nonNative)?.backend}, ${nonNative.parallel?.threads ?? 1} thread${nonNative.parallel ? 's' : ''}` : 'n/a'})`,
        nonNative ? (nonNative.parallel ?? nonNative.ours).tokensPerSec : null, TARGETS.trainTokensPerSec, 'tokens/s',
      ),
      atLeast('stateful generation', g?.stateful.notesPerSec ?? null, TARGETS.genNotesPerSec, 'notes/s'),
      atLeast('stateful vs window re-run', genRatio, TARGETS.genSpeedup, '×'),
      atLeast('MIDI parsing (warm)', midi.filesPerSec, TARGETS.midiFilesPerSec, 'files/s'),
      {
        name: 'training memory flat (4× vs 1× data)',
        value: memGrowthMb,
        target: `≤ +${TARGETS.memSlackMb} MB or ≤ +${fmt((TARGETS.memRatio - 1) * 100)} %`,
        pass: memOk,
        short: memOk === false && m1 && memGrowthMb !== null ? `+${fmt(memGrowthMb)} MB (${fmt((100 * memGrowthMb * MB) / m1.peakRss)} %)` : null,
      },
    ];

    // ----- table -----
    const rows: string[][] = [['measure', 'value', 'detail']];
    for (const tr of training) {
      if (!tr.result) {
        rows.push([`training (${tr.backend})`, 'failed', tr.error ?? '']);
        continue;
      }
      const r = tr.result;
      const cpuNote = (x: Rate): string => `${fmt(x.tokensPerCpuSec)} tokens per CPU-second`;
      rows.push([`training, our kernel (${tr.backend}, 1 thread)`, `${fmt(r.ours.tokensPerSec)} tokens/s`, `${r.ours.batches} × ${r.batchSize}×${r.seqLen} after warm-up; ${fmt(r.ours.ms / r.ours.batches)} ms/batch; ${cpuNote(r.ours)}`]);
      if (r.parallel) {
        const p = r.parallel;
        rows.push([`training, our kernel (${tr.backend}, ${p.threads} threads)`, `${fmt(p.tokensPerSec)} tokens/s`, `${fmt(p.tokensPerSec / r.ours.tokensPerSec, 2)}× one thread; ${fmt(p.ms / p.batches)} ms/batch (the default in training)`]);
      }
      if (r.tfjs) {
        rows.push([`training, tfjs LSTM layers (${tr.backend})`, `${fmt(r.tfjs.tokensPerSec)} tokens/s`, `${r.tfjs.batches} × ${r.batchSize}×${r.seqLen} after warm-up; ${fmt(r.tfjs.ms / r.tfjs.batches)} ms/batch; ${cpuNote(r.tfjs)}`]);
        rows.push([`  speed-up (${tr.backend})`, `${fmt((r.parallel ?? r.ours).tokensPerSec / r.tfjs.tokensPerSec, 1)}×`, `our kernel${r.parallel ? `, ${r.parallel.threads} threads,` : ''} vs tfjs layers; model: ${fmt(r.params)} parameters, vocabulary ${r.vocabSize}`]);
      } else rows.push([`training, tfjs LSTM layers (${tr.backend})`, 'skipped', '--quick']);
    }
    if (g) {
      const st = g.stateful;
      const wi = g.window;
      rows.push(['generation, stateful JS step', `${fmt(st.notesPerSec)} notes/s`, `${fmt(st.eventsPerSec)} events/s, ${fmt(st.tokensPerSec)} tokens/s (${st.events} events, ${st.notes} notes; time includes the ${g.primerTokens}-token primer); ${fmt(st.notesPerCpuSec)} notes per CPU-second`]);
      rows.push([`generation, window re-run (${g.backend})`, `${fmt(wi.extrapolatedNotesPerSec, 1)} notes/s`, `for the same output (${fmt(wi.tokensPerSec, 1)} tokens/s, measured on ${wi.tokens} tokens, window ${g.windowSeqLen}; its own ${wi.events} events: ${fmt(wi.notesPerSec, 1)} notes/s)`]);
      rows.push(['  speed-up', `${fmt(g.speedup)}×`, g.model]);
    } else rows.push(['generation', 'failed', gen.error ?? '']);
    rows.push(['MIDI parsing (warm)', `${fmt(midi.filesPerSec)} files/s`, `${midi.files} files, ${fmt(midi.warmMs)} ms per pass; first pass ${fmt(midi.coldFilesPerSec)} files/s`]);
    for (const c of [1, 4]) {
      const r = mem[c].result;
      rows.push([`peak RSS training, ${c}× data`, r ? `${fmt(r.peakRss / MB)} MB` : 'failed', r ? `${fmt(r.dataTokens)} tokens in ${r.pieces} pieces; ${r.batches} batches; RSS before training ${fmt(r.rssBeforeTraining / MB)} MB` : (mem[c].error ?? '')]);
    }
    if (first?.result && first.firstNoteMs !== null) {
      const f = first.result;
      rows.push(['time to first note (shipped model)', `${fmt(first.firstNoteMs)} ms`, `from spawn: start-up ${fmt(f.msProcessStartToScript)}, backend ${fmt(f.msBackend)}, model ${fmt(f.msLoadModel)}, primer ${fmt(f.msPrimer)}, first note ${fmt(f.msFirstNote)} ms`]);
    } else rows.push(['time to first note (shipped model)', haveShipped ? 'failed' : 'absent', haveShipped ? (first?.error ?? '') : `no model.json in ${path.relative(ROOT, SHIPPED)}`]);
    rows.push(['', '', '']);
    rows.push(['target', 'status', '']);
    for (const c of checks) rows.push([c.name, c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'MISS', `${c.target}${c.short ? `; ${c.short}` : ''}`]);
    const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
    const lines = rows.map((r) => `${r[0].padEnd(w[0])}  ${r[1].padStart(r === rows[0] || r[0] === 'target' ? 0 : w[1]).padEnd(w[1])}  ${r[2]}`.trimEnd());
    const totalSec = (performance.now() - started) / 1000;
    const header = `musicgen bench${q ? ' (--quick)' : ''}: ${os.cpus().length} cores, node ${process.version}, load average ${load0.toFixed(2)} at start${load0 > 0.5 ? ' (other work running: figures are lower than on an idle machine)' : ''}; ${fmt(totalSec, 1)} s`;
    const foot = [
      'Rates are wall-clock on this machine under its current load; PASS/MISS uses them. "Per CPU-second" counts only the',
      "measuring process's CPU time, all its threads (tfjs's wasm and cpu backends compute on one thread each; the \"threads\"",
      'rows split each batch over worker threads): a rough guide to an idle machine.',
    ];
    process.stdout.write(`${header}\n\n${lines.join('\n')}\n\n${foot.join('\n')}\n\n`);

    const json = {
      bench: 'musicgen/1',
      quick: q,
      date: new Date().toISOString(),
      machine: { cores: os.cpus().length, node: process.version, loadAvgAtStart: load0 },
      seconds: totalSec,
      config: { seqLen: DEFAULT_DATASET_CONFIG.seqLen, batchSize: training.find((x) => x.result)?.result?.batchSize ?? null, vocabSize: vocab.tokens.length, dataTokens },
      training: training.map((x) => ({
        backend: x.backend, error: x.error, ours: x.result?.ours ?? null, parallel: x.result?.parallel ?? null, tfjs: x.result?.tfjs ?? null,
        speedup: x.result?.tfjs ? (x.result.parallel ?? x.result.ours).tokensPerSec / x.result.tfjs.tokensPerSec : null,
      })),
      generation: g ? { ...g } : { error: gen.error },
      midi,
      memory: { backend: primary, oneX: m1, fourX: m4, growthMb: memGrowthMb, errors: [mem[1].error, mem[4].error].filter(Boolean) },
      firstNote: first?.result ? { ms: first.firstNoteMs, ...first.result } : { absent: !haveShipped, error: first?.error ?? null },
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
