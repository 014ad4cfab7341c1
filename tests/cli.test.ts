/**
 * The CLI end to end, as the issue says it will be checked: spawns
 * `lib/cli/main.ts` (inspect, train, generate, --help) and checks exit codes,
 * the JSON summary on the last stdout line, and the files written.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readMidiFile } from '../lib/midi/read';
import { DATA_DIR, HAVE_NOTTINGHAM, NOTTINGHAM, needNottingham } from './helpers';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'midi');
/** A tiny model: trains in a second or two. */
const TINY = ['--max-files', '20', '--units', '16', '--embedding', '8', '--seq-len', '32', '--batch-size', '8', '--seed', '7'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI (node --import tsx lib/cli/main.ts …) from the repo root. */
function cli(args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON object on the last non-empty stdout line. */
function lastJson(r: Run): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length > 0 && lines[lines.length - 1].startsWith('{'), `no JSON on stdout's last line:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

function ok(r: Run): void {
  assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
}

function midiFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /\.midi?$/i.test(f)).sort();
}

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-cli-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('inspect --json on the Nottingham folder: every file accounted for, counts', { skip: needNottingham }, async () => {
  const r = await cli(['inspect', NOTTINGHAM, '--json']);
  ok(r);
  const j = lastJson(r);
  const files = midiFiles(NOTTINGHAM).length;
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
  const r = await cli(['inspect', FIXTURES, '--json']);
  ok(r);
  const j = lastJson(r);
  const names = midiFiles(FIXTURES);
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
    assert.ok(skipped.some((s) => s.file === bad), `${bad} should be skipped`);
  }
  for (const good of names.filter((n) => n.startsWith('good-'))) {
    assert.ok(!skipped.some((s) => s.file === good), `${good} should load: ${skipped.find((s) => s.file === good)?.reason}`);
  }
  assert.ok((j.notes as number) > 0 && (j.events as number) > 0 && (j.vocabSize as number) > 0);
});

const model = () => path.join(tmp, 'model');

test('train one epoch on a small subset (--json)', async () => {
  const r = await cli(['train', '--data', DATA_DIR, '--out', model(), '--epochs', '1', ...TINY, '--json']);
  ok(r);
  const j = lastJson(r);
  assert.equal(j.model, model());
  assert.equal(j.epochs, 1);
  for (const k of ['trainLoss', 'valLoss', 'valPerplexity', 'tokensPerSec'] as const) {
    assert.ok(typeof j[k] === 'number' && Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${String(j[k])}`);
  }
  // Cross-entropy of a barely-trained model: below uniform guessing over ~100 tokens, above zero.
  assert.ok((j.trainLoss as number) < Math.log(200));
  assert.ok(Math.abs((j.valPerplexity as number) - Math.exp(j.valLoss as number)) < 1e-6 * (j.valPerplexity as number));
  assert.ok(['wasm', 'cpu', 'tensorflow'].includes(j.backend as string), `backend ${String(j.backend)}`);
  const files = fs.readdirSync(model());
  for (const f of ['model.json', 'vocab.json', 'config.json', 'history.json', 'checkpoint.ckpt']) assert.ok(files.includes(f), `${f} missing`);
  assert.equal(files.filter((f) => /^weights-.*\.bin$/.test(f)).length, 1);
  assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, 'temp files left behind');
  const history = JSON.parse(fs.readFileSync(path.join(model(), 'history.json'), 'utf8')) as { epoch: number; trainLoss: number }[];
  assert.equal(history.length, 1);
  assert.equal(history[0].trainLoss, j.trainLoss);
});

test('generate 200 events twice with one seed: byte-identical MIDI that reads back', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const outs = [path.join(tmp, 'a.mid'), path.join(tmp, 'b.mid')];
  const runs: Run[] = [];
  for (const out of outs) runs.push(await cli(['generate', '--model', model(), '--out', out, '--length', '200', '--seed', '42', '--data', DATA_DIR, '--json']));
  runs.forEach(ok);
  const bytes = outs.map((f) => fs.readFileSync(f));
  assert.ok(bytes[0].equals(bytes[1]), 'same seed, different files');
  const piece = readMidiFile(outs[0]);
  assert.ok(piece.notes.length >= 150, `only ${piece.notes.length} notes`);
  const j = lastJson(runs[0]);
  assert.equal(j.out, outs[0]);
  assert.equal(j.events, 200);
  assert.equal(j.notes, piece.notes.length);
  assert.ok(typeof j.seconds === 'number' && j.seconds > 0 && j.seconds < 60);
  assert.ok(typeof j.notesPerSec === 'number' && j.notesPerSec > 0);
  assert.ok(typeof j.backend === 'string' && j.backend.length > 0);
  // A different seed gives a different piece.
  const c = path.join(tmp, 'c.mid');
  ok(await cli(['generate', '--model', model(), '--out', c, '--length', '200', '--seed', '43', '--data', DATA_DIR, '--json']));
  assert.ok(!fs.readFileSync(c).equals(bytes[0]), 'seeds 42 and 43 gave the same file');
});

test('generate --primer with a real MIDI file continues it (its tempo kept)', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const src = HAVE_NOTTINGHAM ? NOTTINGHAM : DATA_DIR;
  const primerFile = path.join(src, midiFiles(src)[0]);
  const primer = readMidiFile(primerFile);
  const out = path.join(tmp, 'primed.mid');
  const r = await cli(['generate', '--model', model(), '--out', out, '--primer', primerFile, '--length', '60', '--seed', '3', '--json']);
  ok(r);
  const j = lastJson(r);
  assert.equal(j.events, 60);
  const piece = readMidiFile(out);
  assert.ok(piece.notes.length >= 40, `only ${piece.notes.length} notes`);
  assert.ok(Math.abs(piece.tempos[0].bpm - primer.tempos[0].bpm) < 0.5, `tempo ${piece.tempos[0].bpm} vs primer ${primer.tempos[0].bpm}`);
  // The primer's pitches open the output (it continues the primer, nearest-mapped where needed).
  const primerPitches = new Set(primer.notes.map((n) => n.pitch));
  const opening = piece.notes.slice(0, 8);
  assert.ok(opening.filter((n) => primerPitches.has(n.pitch)).length >= 6, 'the output does not start with the primer');
});

test('evaluate --json: model vs n-gram baseline on held-out files, music statistics; a missing training folder is reported', async () => {
  assert.ok(fs.existsSync(path.join(model(), 'model.json')), 'needs the model trained above');
  const r = await cli(['evaluate', '--model', model(), '--samples', '2', '--length', '40', '--json']);
  ok(r);
  const j = lastJson(r);
  const config = JSON.parse(fs.readFileSync(path.join(model(), 'config.json'), 'utf8')) as { data: { trainFiles: number; valFiles: number; folders: string[]; maxFiles?: number } };
  assert.equal(j.files, config.data.valFiles, 'scores the model\'s own validation files');
  assert.equal(j.baselineTrainFiles, config.data.trainFiles, 'the baseline learns from the model\'s training files');
  for (const k of ['tokens', 'nll', 'perplexity', 'baselineNll', 'baselinePerplexity', 'longestCopy'] as const) {
    assert.ok(typeof j[k] === 'number' && Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${String(j[k])}`);
  }
  assert.ok(Math.abs((j.perplexity as number) - Math.exp(j.nll as number)) < 1e-6 * (j.perplexity as number));
  assert.ok(typeof j.heldOutCopyMedian === 'number' && j.heldOutCopyMedian >= 1, `heldOutCopyMedian ${String(j.heldOutCopyMedian)}`);
  const copies = j.sampleCopies as number[];
  assert.equal(copies.length, 2, 'one longest copy per sample');
  assert.equal(Math.max(...copies), j.longestCopy, 'longestCopy is the maximum over the samples');
  const gen = j.generated as Record<string, number>;
  const data = j.data as Record<string, number>;
  assert.equal(gen.pieces, 2);
  for (const k of ['pitchRange', 'pitchClassEntropy', 'scaleConsistency', 'polyphony', 'noteDensity', 'emptyBeatRate', 'repeatRunMax']) {
    assert.ok(typeof gen[k] === 'number' && typeof data[k] === 'number', `${k} missing`);
  }
  assert.doesNotMatch(r.stderr + r.stdout, /warning/);
  // The same model with one of its training folders gone: still runs, and says what is missing.
  const moved = path.join(tmp, 'model-elsewhere');
  fs.cpSync(model(), moved, { recursive: true });
  const gone = path.join(tmp, 'no-such-folder');
  const { maxFiles: _drop, ...rest } = config.data;
  fs.writeFileSync(path.join(moved, 'config.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(model(), 'config.json'), 'utf8')), data: { ...rest, folders: [gone, ...config.data.folders] } }));
  const w = await cli(['evaluate', '--model', moved, '--samples', '0', '--json']);
  ok(w);
  assert.match(w.stderr + w.stdout, new RegExp(`warning: .*missing: ${gone.replace(/[/\\]/g, '.')}`));
});

test('--help for the program and for each command exits 0', async () => {
  const commands = ['inspect', 'train', 'generate', 'evaluate'];
  const [main, ...each] = await Promise.all([cli(['--help']), ...commands.map((c) => cli([c, '--help']))]);
  ok(main);
  for (const c of commands) assert.ok(main.stdout.includes(c), `main help lacks ${c}`);
  each.forEach((r, i) => {
    ok(r);
    assert.ok(r.stdout.startsWith(`usage: musicgen ${commands[i]}`), r.stdout);
    assert.ok(r.stdout.includes('--json') && r.stdout.includes('--verbose'));
    assert.equal(r.stderr, '');
  });
  assert.ok(each[1].stdout.includes('--checkpoint-every') && each[1].stdout.includes('--resume'));
  assert.ok(each[2].stdout.includes('--top-p') && each[2].stdout.includes('--primer') && each[2].stdout.includes('--unknown'));
});
