/**
 * The CLI end to end, as a user runs it: inspect, train,
 * generate, evaluate and --help, checking exit codes, the JSON summary on the
 * last stdout line, and the files written. The commands run in this process
 * (tests/helpers.ts `runCli`: the exported `main(argv)` with its output
 * captured); one generate run is a real `node lib/cli/main.ts` process and
 * must write the same bytes as the in-process run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readMidiFile } from '../lib/midi/read';
import { initBackend } from '../lib/model/backend';
import { loadModel } from '../lib/store/load';
import {
  DATA_DIR,
  HAVE_NOTTINGHAM,
  MIDI_FIXTURES,
  NOTTINGHAM,
  assertExit0,
  lastJson,
  midiFilesIn,
  needNottingham,
  oneLineError,
  runCli,
  spawnCli,
  type CliRun,
} from './helpers';

/** A tiny model: trains in a second or two. */
const TINY = ['--max-files', '20', '--units', '16', '--embedding', '8', '--seq-len', '32', '--batch-size', '8', '--seed', '7'];

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-cli-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('inspect --json on the Nottingham folder: every file accounted for, counts', { skip: needNottingham }, async () => {
  const r = await runCli(['inspect', NOTTINGHAM, '--json']);
  assertExit0(r);
  const j = lastJson(r);
  const files = midiFilesIn(NOTTINGHAM).length;
  assert.equal(j.files, files);
  assert.ok(Array.isArray(j.skipped));
  assert.equal((j.loaded as number) + (j.skipped as unknown[]).length, files);
  assert.ok((j.loaded as number) > files * 0.95, `only ${String(j.loaded)} of ${files} loaded`);
  assert.ok((j.notes as number) > (j.loaded as number) * 50, 'a folk tune has more than 50 notes');
  // Chords share an event, so events ≤ notes, but there are many.
  assert.ok((j.events as number) > 0 && (j.events as number) <= (j.notes as number));
  assert.ok(Number.isInteger(j.vocabSize) && (j.vocabSize as number) > 50 && (j.vocabSize as number) < 5000);
});

test('inspect --json on a folder of broken files: no crash, each file loaded or skipped with a reason', async () => {
  const r = await runCli(['inspect', MIDI_FIXTURES, '--json']);
  assertExit0(r);
  const j = lastJson(r);
  const names = midiFilesIn(MIDI_FIXTURES);
  assert.equal(j.files, names.length);
  const skipped = j.skipped as { file: string; reason: string }[];
  assert.equal((j.loaded as number) + skipped.length, names.length);
  assert.equal(new Set(skipped.map((s) => s.file)).size, skipped.length, 'a file skipped twice');
  for (const s of skipped) {
    assert.ok(names.includes(s.file), `skipped ${s.file} is not in the folder`);
    assert.equal(typeof s.reason, 'string');
    assert.ok(s.reason.length > 5 && !s.reason.includes('\n'), `reason for ${s.file}: ${JSON.stringify(s.reason)}`);
    assert.ok(r.stderr.includes(`skipped ${s.file}: ${s.reason}`), `no stderr line for ${s.file}`);
  }
  for (const bad of ['empty.mid', 'random-bytes.mid', 'truncated.mid', 'smpte.mid']) {
    assert.ok(
      skipped.some((s) => s.file === bad),
      `${bad} should be skipped`,
    );
  }
  for (const good of names.filter((n) => n.startsWith('good-'))) {
    assert.ok(!skipped.some((s) => s.file === good), `${good} should load: ${skipped.find((s) => s.file === good)?.reason}`);
  }
  assert.ok((j.notes as number) > 0 && (j.events as number) > 0 && (j.vocabSize as number) > 0);
});

const model = () => path.join(tmp, 'model');

test('train one epoch on a small subset (--json)', async () => {
  const r = await runCli(['train', '--data', DATA_DIR, '--out', model(), '--epochs', '1', ...TINY, '--json']);
  assertExit0(r);
  const j = lastJson(r);
  assert.equal(j.model, model());
  assert.equal(j.epochs, 1);
  for (const k of ['trainLoss', 'valLoss', 'valPerplexity', 'tokensPerSec'] as const) {
    assert.ok(typeof j[k] === 'number' && Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${String(j[k])}`);
  }
  // Cross-entropy of a barely-trained model: below uniform guessing over the vocabulary, above zero.
  const vocabSize = (JSON.parse(fs.readFileSync(path.join(model(), 'vocab.json'), 'utf8')) as { tokens: string[] }).tokens.length;
  assert.ok((j.trainLoss as number) < Math.log(vocabSize), `train loss ${String(j.trainLoss)} vs ln ${vocabSize}`);
  assert.ok(Math.abs((j.valPerplexity as number) - Math.exp(j.valLoss as number)) < 1e-6 * (j.valPerplexity as number));
  assert.ok(['wasm', 'cpu', 'tensorflow'].includes(j.backend as string), `backend ${String(j.backend)}`);
  const files = fs.readdirSync(model());
  for (const f of ['model.json', 'vocab.json', 'config.json', 'history.json', 'checkpoint.ckpt'])
    assert.ok(files.includes(f), `${f} missing`);
  assert.equal(files.filter((f) => /^weights-.*\.bin$/.test(f)).length, 1);
  assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, 'temp files left behind');
  const history = JSON.parse(fs.readFileSync(path.join(model(), 'history.json'), 'utf8')) as { epoch: number; trainLoss: number }[];
  assert.equal(history.length, 1);
  assert.equal(history[0].trainLoss, j.trainLoss);
});

test("train --init-from starts from another model's weights (fine-tuning): same vocabulary and shape, --meter may change, recorded in config.json; flags it fixes are refused", async () => {
  const tuned = path.join(tmp, 'tuned');
  const r = await runCli([
    'train',
    '--data',
    DATA_DIR,
    '--out',
    tuned,
    '--init-from',
    model(),
    '--epochs',
    '1',
    '--max-files',
    '20',
    '--seq-len',
    '32',
    '--batch-size',
    '8',
    '--lr',
    '1e-9',
    '--meter',
    'changes',
    '--json',
  ]);
  assertExit0(r);
  const json = (dir: string, f: string): Record<string, unknown> =>
    JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>;
  const cfg = json(tuned, 'config.json') as { initFrom: string; model: { units: number; embeddingDim: number } };
  assert.equal(cfg.initFrom, model());
  assert.deepEqual([cfg.model.units, cfg.model.embeddingDim], [16, 8], 'the network shape of the model it starts from');
  const [was, now] = [json(model(), 'vocab.json'), json(tuned, 'vocab.json')] as {
    tokens: string[];
    tokenizer: { meterEveryBar: boolean };
  }[];
  assert.deepEqual(now.tokens, was.tokens);
  assert.deepEqual([was.tokenizer.meterEveryBar, now.tokenizer.meterEveryBar], [true, false]);
  // At a learning rate of 1e-9 the weights stay those it started from (a fresh model's would be far off).
  await initBackend();
  const [a, b] = await Promise.all([loadModel(model()), loadModel(tuned)]);
  try {
    const wa = a.model.net.getWeights().map((w) => w.dataSync());
    const wb = b.model.net.getWeights().map((w) => w.dataSync());
    assert.equal(wa.length, wb.length);
    const diff = Math.max(...wa.map((x, i) => Math.max(...x.map((v, k) => Math.abs(v - wb[i][k])))));
    assert.ok(diff < 1e-5, `weights moved by ${diff}`);
  } finally {
    a.model.net.dispose();
    b.model.net.dispose();
  }
  const [units, resume, missing] = await Promise.all([
    runCli(['train', '--data', DATA_DIR, '--out', path.join(tmp, 'never-init'), '--init-from', model(), '--units', '8']),
    runCli(['train', '--out', tuned, '--init-from', model(), '--resume']),
    runCli(['train', '--data', DATA_DIR, '--out', path.join(tmp, 'never-init'), '--init-from', path.join(tmp, 'nowhere')]),
  ]);
  oneLineError(units, /--units cannot be used with --init-from: the model in .* fixes the vocabulary and network shape/);
  oneLineError(resume, /--init-from cannot be used with --resume/);
  oneLineError(missing, /model folder .*nowhere not found/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never-init')), 'a refused run created its output folder');
});

test('train --max-minutes: the epoch under way is cut short, validated and saved; --resume goes on with the next one', async () => {
  const out = path.join(tmp, 'timed-out');
  // 0.0001 minutes (6 ms) is used up by the first batch; 20 files make many batches, so the epoch is cut.
  const r = await runCli(['train', '--data', DATA_DIR, '--out', out, '--epochs', '1000', ...TINY, '--max-minutes', '0.0001', '--json']);
  assertExit0(r);
  assert.match(r.stderr, /stopped after 0\.0001 minutes \(--max-minutes\)/);
  const j = lastJson(r);
  assert.equal(j.epochs, 1);
  assert.ok(Number.isFinite(j.valLoss) && Number.isFinite(j.trainLoss), 'the cut epoch was validated');
  assert.ok(fs.existsSync(path.join(out, 'model.json')), 'the cut epoch was saved');
  const again = await runCli(['train', '--out', out, '--resume', '--max-minutes', '0.0002', '--json']);
  assertExit0(again);
  assert.equal(lastJson(again).epochs, 2);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { training: { maxMinutes: number } };
  assert.equal(cfg.training.maxMinutes, 0.0002);
  const bad = await runCli(['train', '--data', DATA_DIR, '--out', path.join(tmp, 'never-mm'), '--max-minutes=-1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^musicgen train: --max-minutes must be ≥ 0 \(0 = no limit\) \(got -1\)$/m);
});

test('generate 200 events twice with one seed: byte-identical MIDI that reads back', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const outs = [path.join(tmp, 'a.mid'), path.join(tmp, 'b.mid')];
  const args = (out: string) => [
    'generate',
    '--model',
    model(),
    '--out',
    out,
    '--length',
    '200',
    '--seed',
    '42',
    '--data',
    DATA_DIR,
    '--json',
  ];
  // The first as a real process (the end-to-end smoke test), the second in this process: same bytes.
  const runs: CliRun[] = [await spawnCli(args(outs[0])), await runCli(args(outs[1]))];
  runs.forEach(assertExit0);
  const bytes = outs.map((f) => fs.readFileSync(f));
  assert.ok(bytes[0].equals(bytes[1]), 'same seed, different files');
  const piece = readMidiFile(outs[0], { includeDrums: true });
  assert.ok(piece.notes.length >= 150, `only ${piece.notes.length} notes`);
  const j = lastJson(runs[0]);
  assert.equal(j.out, outs[0]);
  assert.equal(j.events, 200);
  assert.equal(j.notes, piece.notes.length);
  assert.ok(typeof j.seconds === 'number' && j.seconds > 0 && j.seconds < 60);
  assert.ok(typeof j.notesPerSec === 'number' && j.notesPerSec > 0);
  assert.ok(typeof j.backend === 'string' && j.backend.length > 0);
  const inProcess = lastJson(runs[1]);
  assert.deepEqual([inProcess.out, inProcess.events, inProcess.notes, inProcess.backend], [outs[1], j.events, j.notes, j.backend]);
  // A different seed gives a different piece.
  const c = path.join(tmp, 'c.mid');
  assertExit0(await runCli(['generate', '--model', model(), '--out', c, '--length', '200', '--seed', '43', '--data', DATA_DIR, '--json']));
  assert.ok(!fs.readFileSync(c).equals(bytes[0]), 'seeds 42 and 43 gave the same file');
  // Top-p: 1 for a remi model unless asked; 0.95 for a timed one (the shipped folk model).
  assert.equal(j.topP, 1);
  const asked = await runCli(['generate', '--model', model(), '--out', c, '--length', '5', '--top-p', '0.9', '--data', DATA_DIR, '--json']);
  assertExit0(asked);
  assert.equal(lastJson(asked).topP, 0.9);
  const folk = await runCli(['generate', '--model', 'models/pretrained', '--out', c, '--length', '5', '--data', DATA_DIR, '--json']);
  assertExit0(folk);
  assert.equal(lastJson(folk).topP, 0.95);
});

test('generate from nothing with a remi model: no data folder, no primer; the file carries the asked meter, tempo and instrument', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const out = path.join(tmp, 'nothing.mid');
  const r = await runCli([
    'generate',
    '--model',
    model(),
    '--out',
    out,
    '--length',
    '80',
    '--seed',
    '9',
    '--time-signature',
    '3/4',
    '--bpm',
    '90',
    '--programs',
    '41',
    '--json',
  ]);
  assertExit0(r);
  assert.match(r.stderr, /starting from nothing: 3\/4, 90 bpm, program 41/);
  const piece = readMidiFile(out, { includeDrums: true });
  assert.deepEqual(
    piece.timeSignatures.map((t) => [t.numerator, t.denominator]),
    [[3, 4]],
  );
  assert.deepEqual(
    piece.tempos.map((t) => Math.round(t.bpm)),
    [90],
  );
  assert.ok(piece.notes.length >= 40 && piece.notes.every((n) => n.program === 41), 'every note on program 41');
  const bad = await runCli(['generate', '--model', model(), '--out', out, '--time-signature', 'waltz']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), 'musicgen generate: --time-signature must look like 3/4 or 6/8 (got "waltz")');
});

test('generate --primer with a real MIDI file continues it (its tempo and meter kept)', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const src = HAVE_NOTTINGHAM ? NOTTINGHAM : DATA_DIR;
  const primerFile = path.join(src, midiFilesIn(src)[0]);
  const primer = readMidiFile(primerFile);
  const out = path.join(tmp, 'primed.mid');
  const r = await runCli(['generate', '--model', model(), '--out', out, '--primer', primerFile, '--length', '60', '--seed', '3', '--json']);
  assertExit0(r);
  const j = lastJson(r);
  assert.equal(j.events, 60);
  const piece = readMidiFile(out);
  assert.ok(piece.notes.length >= 40, `only ${piece.notes.length} notes`);
  // remi keeps tempo in 32 log-spaced bins from 30 to 300 bpm: within 4 % of the primer's.
  assert.ok(
    Math.abs(piece.tempos[0].bpm / primer.tempos[0].bpm - 1) < 0.04,
    `tempo ${piece.tempos[0].bpm} vs primer ${primer.tempos[0].bpm}`,
  );
  // Its meter: the output opens in the primer's meters and reaches the one the file ends in.
  const meters = (p: typeof piece): string[] => p.timeSignatures.map((t) => `${t.numerator}/${t.denominator}`);
  assert.ok(meters(primer).includes(meters(piece)[0]), `output opens in ${meters(piece)[0]}, the primer uses ${meters(primer)}`);
  assert.ok(meters(piece).includes(meters(primer)[meters(primer).length - 1]), `output meters ${meters(piece)}`);
  // The primer's pitches open the output (it continues the primer, nearest-mapped where needed).
  const primerPitches = new Set(primer.notes.map((n) => n.pitch));
  const opening = piece.notes.slice(0, 8);
  assert.ok(opening.filter((n) => primerPitches.has(n.pitch)).length >= 6, 'the output does not start with the primer');
});

test('evaluate --json: model vs n-gram baseline on held-out files, music statistics; a missing training folder is reported', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const r = await runCli(['evaluate', '--model', model(), '--samples', '2', '--length', '40', '--json']);
  assertExit0(r);
  const j = lastJson(r);
  const config = JSON.parse(fs.readFileSync(path.join(model(), 'config.json'), 'utf8')) as {
    data: { trainFiles: number; valFiles: number; folders: string[]; maxFiles?: number };
  };
  assert.equal(j.files, config.data.valFiles, "scores the model's own validation files");
  assert.equal(j.baselineTrainFiles, config.data.trainFiles, "the baseline learns from the model's training files");
  for (const k of ['tokens', 'nll', 'perplexity', 'baselineNll', 'baselinePerplexity', 'longestCopy'] as const) {
    assert.ok(typeof j[k] === 'number' && Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${String(j[k])}`);
  }
  assert.ok(Math.abs((j.perplexity as number) - Math.exp(j.nll as number)) < 1e-6 * (j.perplexity as number));
  assert.ok(typeof j.heldOutCopyMedian === 'number' && j.heldOutCopyMedian >= 1, `heldOutCopyMedian ${String(j.heldOutCopyMedian)}`);
  const copies = j.sampleCopies as number[];
  assert.equal(copies.length, 2, 'one longest copy per sample');
  assert.deepEqual(
    j.sampling,
    { samples: 2, length: 40, seed: 1, temperature: 1, topP: 1, context: 0 },
    "the sampling settings, a remi model's top-p",
  );
  assert.equal(Math.max(...copies), j.longestCopy, 'longestCopy is the maximum over the samples');
  assert.deepEqual(j.controls, {}, 'by default the samples keep their meter and band');
  const gen = j.generated as Record<string, number>;
  const data = j.data as Record<string, number>;
  assert.equal(gen.pieces, 2);
  for (const k of ['pitchRange', 'pitchClassEntropy', 'scaleConsistency', 'polyphony', 'noteDensity', 'emptyBeatRate', 'repeatRunMax']) {
    assert.ok(typeof gen[k] === 'number' && typeof data[k] === 'number', `${k} missing`);
  }
  // The samples are also compared with excerpts of the data as long as they are (one per training piece).
  const excerpts = j.dataExcerpts as Record<string, number>;
  assert.equal(j.excerptNotes, Math.round(gen.notes / gen.pieces));
  assert.equal(excerpts.pieces, data.pieces);
  assert.ok(
    excerpts.notes <= (j.excerptNotes as number) * data.pieces && excerpts.notes < data.notes,
    `excerpts have ${excerpts.notes} notes`,
  );
  assert.match(r.stderr + r.stdout, new RegExp(`generated vs data excerpts of ${j.excerptNotes as number} notes: `));
  // And how far as many data excerpts as samples stray from them by chance.
  const chance = j.chance as { samples: number; notes: number; draws: number; relative: Record<string, number | null> };
  assert.deepEqual([chance.samples, chance.notes, chance.draws], [2, j.excerptNotes, 200]);
  assert.ok(
    typeof chance.relative.polyphony === 'number' && chance.relative.polyphony >= 0,
    `chance polyphony ${String(chance.relative.polyphony)}`,
  );
  assert.match(
    r.stderr + r.stdout,
    new RegExp(
      `by chance, sets of 2 random data excerpts of ${j.excerptNotes as number} notes stray from those excerpts by up to \\(90th percentile of 200 sets\\): pitchClassEntropy ±\\d`,
    ),
  );
  // The structure statistics come with the others, and a classifier tries to tell the 2 samples from 2 data excerpts.
  for (const k of ['meterChangesPer100Bars', 'barRepetition', 'grooveConsistency', 'programsPer1000Notes']) {
    assert.ok(typeof gen[k] === 'number' && typeof excerpts[k] === 'number' && k in chance.relative, `${k} missing`);
  }
  assert.ok(
    gen.barRepetition >= 0 && gen.barRepetition <= 1 && gen.grooveConsistency > 0 && gen.grooveConsistency <= 1,
    `bar repetition ${gen.barRepetition}, groove ${gen.grooveConsistency}`,
  );
  const two = j.twoSample as { pieces: number; folds: number; accuracy: number; features: string[] };
  assert.deepEqual([two.pieces, two.folds, two.features.length], [2, 2, 13]);
  assert.ok(two.accuracy >= 0 && two.accuracy <= 1, `accuracy ${two.accuracy}`);
  assert.match(r.stderr + r.stdout, /generated vs data excerpts of .*barRepetition [\d.]+ vs [\d.]+/);
  assert.match(
    r.stderr + r.stdout,
    /two-sample test: a logistic regression on 13 statistics per piece tells 2 samples from 2 data excerpts with cross-validated accuracy [\d.]+ \(2 folds, mean of 20 draws/,
  );
  assert.doesNotMatch(r.stderr + r.stdout, /warning/);
  // The same model with one of its training folders gone: still runs, and says what is missing.
  const moved = path.join(tmp, 'model-elsewhere');
  fs.cpSync(model(), moved, { recursive: true });
  const gone = path.join(tmp, 'no-such-folder');
  const { maxFiles: _drop, ...rest } = config.data;
  fs.writeFileSync(
    path.join(moved, 'config.json'),
    JSON.stringify({
      ...JSON.parse(fs.readFileSync(path.join(model(), 'config.json'), 'utf8')),
      data: { ...rest, folders: [gone, ...config.data.folders] },
    }),
  );
  const w = await runCli(['evaluate', '--model', moved, '--samples', '0', '--new-instruments', '--meter-changes', '--json']);
  assertExit0(w);
  assert.deepEqual(lastJson(w).controls, { meterChanges: true, newInstruments: true }, 'the samples may change meter and band');
  assert.match(w.stderr + w.stdout, new RegExp(`warning: .*missing: ${gone.replace(/[/\\]/g, '.')}`));
});

test('--help for the program and for each command exits 0', async () => {
  const commands = ['inspect', 'train', 'generate', 'evaluate'];
  const [main, ...each] = await Promise.all([runCli(['--help']), ...commands.map((c) => runCli([c, '--help']))]);
  assertExit0(main);
  for (const c of commands) assert.ok(main.stdout.includes(c), `main help lacks ${c}`);
  each.forEach((r, i) => {
    assertExit0(r);
    assert.ok(r.stdout.startsWith(`usage: musicgen ${commands[i]}`), r.stdout);
    assert.ok(r.stdout.includes('--json') && r.stdout.includes('--verbose'));
    assert.equal(r.stderr, '');
  });
  assert.ok(each[1].stdout.includes('--checkpoint-every') && each[1].stdout.includes('--resume'));
  assert.ok(each[2].stdout.includes('--top-p') && each[2].stdout.includes('--primer') && each[2].stdout.includes('--unknown'));
});
