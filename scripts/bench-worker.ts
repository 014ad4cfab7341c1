/**
 * Child-process tasks for scripts/bench.ts. Each task runs in its own process
 * (tfjs backends are global; memory peaks must be independent) and prints
 * one line `BENCH_RESULT {json}` on stdout. Library modules are imported
 * lazily so that the first-note task loads only what generation needs.
 *
 * Usage: node <tsx loader> scripts/bench-worker.ts <task> <json-args>
 * Tasks: train (our kernel vs tfjs layers), loop (the real training loop:
 * throughput and peak memory), gen, firstnote; loop and gen for either model
 * family (`family`). The backend comes from MUSICGEN_BACKEND.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfType from '@tensorflow/tfjs';
import type { Batch, EncodedPiece } from '../lib/data/dataset';

/** Arguments shared by the tasks (each uses a subset). */
export interface WorkerArgs {
  /** Folder written by bench.ts: vocab.json, meta.json, ids.bin. */
  readonly dataDir: string;
  /** Timed batches of our kernel. */
  readonly ourBatches?: number;
  /** Timed batches of the plain tfjs LSTM. */
  readonly tfjsBatches?: number;
  /** Windows in the (untimed) warm-up batch; default a full batch. */
  readonly warmupWindows?: number;
  /** Dataset copies for the loop task. */
  readonly copies?: number;
  /** Measured training batches for the loop task (after one warm-up batch). */
  readonly loopBatches?: number;
  /** Events for the stateful / window generation (window: 0 skips it). */
  readonly statefulEvents?: number;
  readonly windowEvents?: number;
  /** Model folder (shipped model, firstnote task) and a MIDI primer file. */
  readonly modelDir?: string;
  readonly primerFile?: string;
  /** Scratch folder for the loop task's model folder. */
  readonly scratch?: string;
  /** Model family of the loop and gen tasks' default-size model (default token; note needs remi data with a meter every bar). */
  readonly family?: 'token' | 'note';
}

function emit(result: object): void {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

/** Peak resident set size of this process (VmHWM), in bytes, or null when /proc is absent. */
function peakRss(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) of this process since `since`, in ms. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Top-p of the bench's generations whatever the model's scheme, as it has always been (the nucleus is sorted for every token). */
const BENCH_TOP_P = 0.95;

/** A timed training run. */
export interface Rate {
  readonly batches: number;
  readonly tokens: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly warmupMs: number;
  readonly warmupWindows: number;
  /** Supervised tokens per wall-clock second. */
  readonly tokensPerSec: number;
  /** Supervised tokens per CPU second of this process (a rough guide to an idle machine: the backends are single-threaded in Node). */
  readonly tokensPerCpuSec: number;
  readonly lastLoss: number;
}

interface BenchData {
  readonly train: EncodedPiece[];
  readonly val: EncodedPiece[];
}

/** Reads the encoded data written by bench.ts. */
function readData(dir: string): BenchData {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as {
    pieces: { name: string; length: number; val: boolean }[];
  };
  const buf = fs.readFileSync(path.join(dir, 'ids.bin'));
  const all = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)); // (aligned copy)
  const train: EncodedPiece[] = [];
  const val: EncodedPiece[] = [];
  let off = 0;
  for (const p of meta.pieces) {
    const piece = { name: p.name, ids: all.slice(off, off + p.length) };
    off += p.length;
    (p.val ? val : train).push(piece);
  }
  return { train, val };
}

/** Training throughput: our kernel vs tfjs's own LSTM layers, same model, same batches. */
async function trainTask(a: WorkerArgs): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../lib/model/backend');
  const { batches, windowIndex, DEFAULT_DATASET_CONFIG } = await import('../lib/data/dataset');
  const { DEFAULT_TRAIN_CONFIG } = await import('../lib/store/train-config');
  const { lossAndGradients } = await import('../lib/train/bptt');
  const { applyClipped } = await import('../lib/train/loop');
  const { varList } = await import('../lib/model/network');
  const { newModel } = await import('../lib/model/network');
  const { loadVocabulary } = await import('../lib/tokens/vocab-file');
  const { createRng } = await import('../lib/core/rng');
  const backend = await initBackend();
  const vocab = loadVocabulary(path.join(a.dataDir, 'vocab.json'));
  const { train } = readData(a.dataDir);
  const { seqLen, stride } = DEFAULT_DATASET_CONFIG;
  const { batchSize, learningRate, clipNorm, seed } = DEFAULT_TRAIN_CONFIG;
  const ours = a.ourBatches ?? 4;
  const theirs = a.tfjsBatches ?? 2;
  if (ours < 1) throw new Error('ourBatches must be ≥ 1');
  const index = windowIndex(train, seqLen, stride);
  const list: Batch[] = [];
  for (const b of batches(train, index, seqLen, batchSize, { shuffle: true, seed, epoch: 0 })) {
    if (list.length >= 1 + Math.max(ours, theirs)) break;
    list.push(b);
  }
  const model = newModel(vocab);
  const vars = varList(model.vars);
  // The warm-up batch: the full first batch, or its first `warmupWindows` windows (cpu: a full batch costs ~20 s).
  const k = Math.min(a.warmupWindows ?? batchSize, list[0].batchSize);
  const warm: Batch = { batchSize: k, seqLen, inputs: list[0].inputs.slice(0, k * seqLen), targets: list[0].targets.slice(0, k * seqLen) };
  const timed = async (step: (b: Batch) => number | Promise<number>, n: number): Promise<Rate | null> => {
    if (n <= 0) return null;
    let t0 = performance.now();
    await step(warm);
    const warmupMs = performance.now() - t0;
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let loss = 0;
    for (let i = 1; i <= n; i++) loss = await step(list[i]);
    const ms = performance.now() - t0;
    const cpu = cpuMs(cpu0);
    const tokens = list.slice(1, 1 + n).reduce((s, b) => s + b.batchSize * b.seqLen, 0);
    return {
      batches: n,
      tokens,
      ms,
      cpuMs: cpu,
      warmupMs,
      warmupWindows: k,
      tokensPerSec: tokens / (ms / 1000),
      tokensPerCpuSec: tokens / (cpu / 1000),
      lastLoss: loss,
    };
  };

  // Our kernel (hand-written BPTT) + clipped Adam, as lib/train/loop.ts does.
  const optA = tf.train.adam(learningRate);
  const drop = { dropout: model.config.dropout, recurrentDropout: model.config.recurrentDropout, rng: createRng(seed) };
  const oursRate = await timed((b) => {
    const { loss, grads } = lossAndGradients(model.vars, b, drop);
    applyClipped(optA, vars, grads, clipNorm);
    return loss;
  }, ours);
  optA.dispose();

  // The same, with each batch split over worker threads (lib/train/parallel.ts), as training does by default on JS backends.
  const { autoThreads, startGradientWorkers } = await import('../lib/train/parallel');
  const threads = backend.native ? 1 : autoThreads();
  let parallelRate: Rate | null = null;
  if (threads > 1) {
    const workers = await startGradientWorkers(model.config, threads, backend.name);
    const optP = tf.train.adam(learningRate);
    parallelRate = await timed(async (b) => {
      const { loss, grads } = await workers.lossAndGradients(model.vars, b, drop);
      applyClipped(optP, vars, grads, clipNorm);
      return loss;
    }, ours);
    optP.dispose();
    await workers.terminate();
  }

  // tfjs's own layers model (embedding → tf.layers.lstm ×2 → dense softmax, dropout on): autograd + the same clipped Adam.
  const optB = tf.train.adam(learningRate);
  const V = vocab.tokens.length;
  const tfjsRate = await timed((b) => {
    const x = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
    const y = tf.oneHot(tf.tensor1d(b.targets, 'int32'), V);
    const { value, grads } = tf.variableGrads(() => {
      const p = (model.net.apply(x, { training: true }) as tfType.Tensor).reshape([-1, V]);
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.add(p, 1e-7))), 1))) as tfType.Scalar;
    }, vars);
    const loss = value.dataSync()[0];
    applyClipped(
      optB,
      vars,
      vars.map((v) => grads[v.name]),
      clipNorm,
    );
    tf.dispose([x, y, value]);
    return loss;
  }, theirs);
  optB.dispose();

  emit({
    backend: backend.name,
    vocabSize: V,
    params: vars.reduce((s, v) => s + v.size, 0),
    batchSize,
    seqLen,
    ours: oursRate,
    parallel: parallelRate ? { ...parallelRate, threads } : null,
    tfjs: tfjsRate,
    tensorsLeft: tf.memory().numTensors,
  });
}

/**
 * The real training loop (lib/train/loop.ts, default settings: threads one per
 * core on the JS backends) on `copies`× the data: one warm-up batch, then
 * `loopBatches` measured batches (capped at one epoch); throughput and peak RSS.
 */
async function loopTask(a: WorkerArgs): Promise<void> {
  const { initBackend } = await import('../lib/model/backend');
  const { DEFAULT_DATASET_CONFIG } = await import('../lib/data/dataset');
  const { DEFAULT_TRAIN_CONFIG } = await import('../lib/store/train-config');
  const { DEFAULT_MODEL_CONFIG, newModel, parameterCount, withFamilyDefaults } = await import('../lib/model/network');
  const { trainModel } = await import('../lib/train/loop');
  const { batchTokenCount, runBatches } = await import('../lib/train/batching');
  const { loadVocabulary } = await import('../lib/tokens/vocab-file');
  const backend = await initBackend();
  const vocab = loadVocabulary(path.join(a.dataDir, 'vocab.json'));
  const data = readData(a.dataDir);
  const copies = a.copies ?? 1;
  // The data and copies-1 independent copies (not shared references), so a larger dataset really is larger.
  const grow = (ps: EncodedPiece[]): EncodedPiece[] =>
    Array.from({ length: copies }, (_, k) =>
      k === 0 ? ps : ps.map((p) => ({ name: `${p.name}#${k}`, ids: Int32Array.from(p.ids) })),
    ).flat();
  const train = grow(data.train);
  const val = grow(data.val);
  // As `musicgen train` builds a new model (withFamilyDefaults: a new note model has its step vector, headSkip and copy ids).
  const model = newModel(
    vocab,
    withFamilyDefaults({ ...DEFAULT_MODEL_CONFIG, family: a.family ?? 'token', vocabSize: vocab.tokens.length }),
  );
  const out = a.scratch ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-loop-'));
  fs.mkdirSync(out, { recursive: true });
  const { seqLen } = DEFAULT_DATASET_CONFIG;
  const { batchSize } = DEFAULT_TRAIN_CONFIG;
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 1, checkpointEverySec: 0 };
  // The run's own first batches, built as the loop builds them: their supervised tokens (windows × seqLen, or the note family's target tokens).
  const run = runBatches({ config: model.config, vocab, train, val, dataset: DEFAULT_DATASET_CONFIG }, config);
  const perEpoch = run.perEpoch;
  const stop = Math.min(1 + (a.loopBatches ?? 4), perEpoch);
  if (stop < 2) throw new Error(`the data gives only ${perEpoch} training batch(es): need 2 or more (a warm-up batch and a timed one)`);
  const batchTokens: number[] = [];
  let firstWindows = 0;
  for (const b of run.train(0)) {
    if (batchTokens.length >= stop) break;
    if (batchTokens.length === 0) firstWindows = b.batch.batchSize;
    batchTokens.push(batchTokenCount(b));
  }
  const dataTokens = train.reduce((s, p) => s + p.ids.length, 0);
  const rssBefore = process.memoryUsage().rss;
  let maxRss = rssBefore;
  let done = 0;
  let tokens = 0;
  let t0 = 0;
  let t1 = 0;
  let cpu0 = process.cpuUsage();
  let cpu = 0;
  let warmupMs = 0;
  let lastLoss = 0;
  const started = performance.now();
  const res = await trainModel(
    {
      model,
      vocab,
      train,
      val,
      dataset: DEFAULT_DATASET_CONFIG,
      config,
      outDir: out,
      runConfig: {
        format: 'musicgen-model/1',
        model: model.config,
        dataset: DEFAULT_DATASET_CONFIG,
        training: DEFAULT_TRAIN_CONFIG,
        backend: backend.name,
        data: { folders: [], trainFiles: train.length, valFiles: val.length, trainTokens: dataTokens },
      },
    },
    {
      onBatch: (p) => {
        const now = performance.now();
        done = p.batch;
        lastLoss = p.loss;
        if (p.batch === 1) {
          // The warm-up batch (worker start-up, kernel set-up, first Adam step) ends here; timing starts.
          warmupMs = now - started;
          t0 = now;
          cpu0 = process.cpuUsage();
        } else {
          tokens += batchTokens[p.batch - 1];
          t1 = now;
          cpu = cpuMs(cpu0);
        }
        maxRss = Math.max(maxRss, process.memoryUsage().rss);
      },
      shouldStop: () => done >= stop,
    },
  );
  const ms = t1 - t0;
  const rate: Rate = {
    batches: done - 1,
    tokens,
    ms,
    cpuMs: cpu,
    warmupMs,
    warmupWindows: firstWindows,
    tokensPerSec: tokens / (ms / 1000),
    tokensPerCpuSec: tokens / (cpu / 1000),
    lastLoss,
  };
  emit({
    backend: backend.name,
    vocabSize: vocab.tokens.length,
    params: parameterCount(model),
    batchSize,
    seqLen,
    threads: res.threads,
    threadsNote: res.threadsNote,
    copies,
    pieces: train.length,
    dataTokens,
    rate,
    rssBeforeTraining: rssBefore,
    maxSampledRss: maxRss,
    peakRss: peakRss() ?? maxRss,
  });
}

/**
 * Generation speed of a fresh (untrained) default model of `family` on the
 * data's vocabulary: the stateful JS generator (lib/generate/generate.ts),
 * and, unless windowEvents is 0, re-running the window per token, same
 * weights (the token family only).
 */
async function genTask(a: WorkerArgs): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../lib/model/backend');
  const { DEFAULT_DATASET_CONFIG } = await import('../lib/data/dataset');
  const { generateMusic } = await import('../lib/generate/generate');
  const { DEFAULT_RUN_SETTINGS } = await import('../lib/generate/settings');
  const { DEFAULT_PRIMER_LENGTH, primerFromPiece } = await import('../lib/generate/primer');
  const { readMidiFile } = await import('../lib/midi/read');
  const { DEFAULT_MODEL_CONFIG, newModel, parameterCount, withFamilyDefaults } = await import('../lib/model/network');
  const { createRng } = await import('../lib/core/rng');
  const { sampleToken } = await import('../lib/generate/sample');
  const { schemeOf, tokensToPiece } = await import('../lib/tokens/tokenize');
  const { decodeIds, encodePiece } = await import('../lib/tokens/vocabulary');
  const { grammarStart } = await import('../lib/tokens/grammar');
  const { loadVocabulary } = await import('../lib/tokens/vocab-file');
  const backend = await initBackend();
  const vocab = loadVocabulary(path.join(a.dataDir, 'vocab.json'));
  const family = a.family ?? 'token';
  const model = newModel(vocab, withFamilyDefaults({ ...DEFAULT_MODEL_CONFIG, family, vocabSize: vocab.tokens.length }));
  const L = DEFAULT_DATASET_CONFIG.seqLen;
  const settings = { sampling: { topP: BENCH_TOP_P }, controls: {}, run: { ...DEFAULT_RUN_SETTINGS, seed: 7 } };
  const piece = readMidiFile(a.primerFile as string);
  // The stateful generator gets the default primer (the file's last DEFAULT_PRIMER_LENGTH tokens, with the
  // scheme's context in front); the window method a primer as long as the window, so every re-run
  // sees a full window (no cheap short contexts).
  const primer = primerFromPiece(piece, vocab, DEFAULT_PRIMER_LENGTH);
  const windowPrimer = encodePiece(vocab, piece).slice(-L);

  // Stateful: warm the JIT up (until the inference loops are optimized), then time. Its seconds include reading the primer.
  generateMusic(model, vocab, primer, { ...settings, run: { ...settings.run, length: 25 } });
  let cpu0 = process.cpuUsage();
  const g = generateMusic(model, vocab, primer, { ...settings, run: { ...settings.run, length: a.statefulEvents ?? 100 } });
  const sCpu = cpuMs(cpu0) / 1000;
  const sTokens = g.ids.length - g.primerLength;
  const sNotes = g.newNotes;
  const stateful = {
    events: g.events,
    notes: sNotes,
    tokens: sTokens,
    seconds: g.seconds,
    cpuSeconds: sCpu,
    eventsPerSec: g.events / g.seconds,
    notesPerSec: sNotes / g.seconds,
    tokensPerSec: sTokens / g.seconds,
    notesPerCpuSec: sNotes / sCpu,
  };
  const base = {
    backend: backend.name,
    model: `fresh (untrained) default model${family === 'note' ? ' of the note family' : ''}`,
    scheme: vocab.config.scheme,
    vocabSize: vocab.tokens.length,
    params: parameterCount(model),
    primerTokens: g.primerLength,
  };
  const wEvents = a.windowEvents ?? 10;
  if (wEvents <= 0 || family === 'note') {
    emit({ ...base, stateful, window: null, speedup: null });
    return;
  }

  // Window method: for each new token, predict on the last seqLen tokens and take the last position.
  const newNotes = (ids: readonly number[], primerLength: number): number => {
    const tokens = decodeIds(vocab, ids);
    const primerBeats = schemeOf(vocab.config).beatsAfter(tokens.slice(0, primerLength), vocab.config);
    return tokensToPiece(tokens, vocab.config).notes.filter((n) => n.start >= primerBeats).length;
  };
  // The same grammar as the stateful generator, with the primer fed through it.
  let grammar = windowPrimer.reduce((g, id) => g.after(id), grammarStart(vocab));
  const rng = createRng(settings.run.seed ^ 0x9e3779b9);
  const ids = [...windowPrimer];
  const predictLast = (): Float32Array =>
    tf.tidy(() => {
      const ctx = ids.slice(-L);
      const p = model.net.predict(tf.tensor2d(ctx, [1, ctx.length], 'int32')) as tfType.Tensor;
      return p.slice([0, ctx.length - 1, 0], [1, 1, vocab.tokens.length]).dataSync() as Float32Array;
    });
  predictLast(); // warm-up (kernel set-up), not timed
  const t0 = performance.now();
  cpu0 = process.cpuUsage();
  let events = 0;
  while (events < wEvents) {
    const probs = predictLast();
    const logits = Float32Array.from(probs, (p) => Math.log(Math.max(p, 1e-30)));
    const next = sampleToken(logits, g.sampling, rng, grammar.allowed());
    grammar = grammar.after(next);
    ids.push(next);
    if (vocab.tokens[next].kind === 'event') events++;
  }
  const wSec = (performance.now() - t0) / 1000;
  const wCpu = cpuMs(cpu0) / 1000;
  const wTokens = ids.length - windowPrimer.length;
  const wNotes = newNotes(ids, windowPrimer.length);
  // Honest extrapolation: the window method's cost per token, applied to the stateful run's own output
  // (same music, same length), gives its notes/s for that output.
  const wSecSame = (wSec / wTokens) * sTokens;
  emit({
    ...base,
    windowSeqLen: L,
    windowPrimerTokens: windowPrimer.length,
    stateful,
    window: {
      events,
      notes: wNotes,
      tokens: wTokens,
      seconds: wSec,
      cpuSeconds: wCpu,
      eventsPerSec: events / wSec,
      notesPerSec: wNotes / wSec,
      tokensPerSec: wTokens / wSec,
      extrapolatedSecondsForStatefulOutput: wSecSame,
      extrapolatedNotesPerSec: sNotes / wSecSame,
      extrapolatedEventsPerSec: g.events / wSecSame,
    },
    speedup: wSecSame / g.seconds,
  });
}

/** Time to the first generated note with the shipped model, from a fresh process. */
async function firstNoteTask(a: WorkerArgs): Promise<void> {
  const start = performance.now();
  const { initBackend } = await import('../lib/model/backend');
  const backend = await initBackend();
  const tBackend = performance.now();
  const { loadModel } = await import('../lib/store/load');
  const lm = await loadModel(a.modelDir as string);
  const tModel = performance.now();
  const { readMidiFile } = await import('../lib/midi/read');
  const { encodePiece } = await import('../lib/tokens/vocabulary');
  const { generateMusic } = await import('../lib/generate/generate');
  const { DEFAULT_RUN_SETTINGS } = await import('../lib/generate/settings');
  const { DEFAULT_PRIMER_LENGTH, primerFromPiece } = await import('../lib/generate/primer');
  const primer = primerFromPiece(readMidiFile(a.primerFile as string), lm.vocab, DEFAULT_PRIMER_LENGTH);
  const tPrimer = performance.now();
  let tFirst = 0;
  generateMusic(
    lm.model,
    lm.vocab,
    primer,
    { sampling: { topP: BENCH_TOP_P }, controls: {}, run: { ...DEFAULT_RUN_SETTINGS, length: 1 } },
    {
      onProgress: () => {
        tFirst = performance.now();
        process.stdout.write('BENCH_FIRST_NOTE\n');
      },
    },
  );
  emit({
    backend: backend.name,
    // performance.now() counts from this process's start (node + tsx start-up included)
    msProcessStartToScript: start,
    msBackend: tBackend - start,
    msLoadModel: tModel - tBackend,
    msPrimer: tPrimer - tModel,
    msFirstNote: tFirst - tPrimer,
    msTotalInProcess: tFirst,
  });
}

const TASKS: Readonly<Record<string, (a: WorkerArgs) => Promise<void>>> = {
  train: trainTask,
  loop: loopTask,
  gen: genTask,
  firstnote: firstNoteTask,
};

async function main(): Promise<void> {
  const [task, json] = process.argv.slice(2);
  const run = TASKS[task];
  if (!run) throw new Error(`unknown bench task "${task}" (expected ${Object.keys(TASKS).join(', ')})`);
  await run(JSON.parse(json ?? '{}') as WorkerArgs);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
