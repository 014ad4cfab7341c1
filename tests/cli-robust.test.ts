/**
 * The CLI on bad input: wrong flag values, broken model
 * folders and damaged weights, primers with symbols the vocabulary lacks,
 * unwritable outputs and outputs that would overwrite an input.
 * Every failure must be one stderr line naming the parameter or file, exit ≠ 0,
 * no stack trace (unless --verbose), and no work or files left behind.
 * The commands run in this process (tests/helpers.ts `runCli`), except the
 * outputs under /proc, which once made the CLI spin forever: those run as
 * processes that are killed if they hang.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEta } from '../lib/cli/progress';
import { readMidiFile } from '../lib/midi/read';
import { writeMidiFile } from '../lib/midi/write';
import { makePiece, type Note } from '../lib/core/piece';
import { pieceToTokens } from '../lib/tokens/tokenize';
import { tokenToString } from '../lib/tokens/token';
import { defaultTokenizerConfig } from '../lib/tokens/config';
import { buildVocabulary } from '../lib/tokens/vocabulary';
import { loadVocabulary, saveVocabulary } from '../lib/tokens/vocab-file';
import { DATA_DIR, MIDI_FIXTURES, FOLK_MODEL, assertExit0, lastJson, oneLineError, runCli, spawnCli } from './helpers';

let tmp = '';
let model = '';
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-robust-'));
  model = path.join(tmp, 'model');
  // The timed scheme: its vocabulary is built from the data, so another corpus gives another one and unknown symbols exist.
  assertExit0(
    await runCli([
      'train',
      '--data',
      DATA_DIR,
      '--out',
      model,
      '--epochs',
      '1',
      '--max-files',
      '8',
      '--units',
      '16',
      '--embedding',
      '8',
      '--seq-len',
      '32',
      '--batch-size',
      '8',
      '--scheme',
      'timed',
      '--json',
    ]),
  );
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the trained model folder to break. */
function copyModel(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(model, dir, { recursive: true });
  return dir;
}

function tempFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

test('out-of-range and wrong-type flag values: one line naming the flag and its range', async () => {
  const out = path.join(tmp, 'never');
  const train = (...flags: string[]) => runCli(['train', '--data', DATA_DIR, '--out', out, ...flags]);
  const gen = (...flags: string[]) => runCli(['generate', '--model', model, '--out', path.join(out, 'x.mid'), ...flags]);
  const [units, unitsAbc, unitsSpace, seqLen, temp, topP0, topP15, batch, lr] = await Promise.all([
    train('--units=-3'),
    train('--units', 'abc'),
    train('--units', '-3'),
    train('--seq-len', '100000'),
    gen('--temperature', '0'),
    gen('--top-p', '0'),
    gen('--top-p', '1.5'),
    train('--batch-size', '2.5'),
    train('--lr', '0'),
  ]);
  oneLineError(units, /--units/, /\[1, \d+\]/, /-3/);
  oneLineError(unitsAbc, /--units/, /integer/, /abc/);
  oneLineError(unitsSpace, /--units/, /--units=-/);
  oneLineError(seqLen, /--seq-len/, /\[2, 10000\]/, /100000/);
  oneLineError(temp, /--temperature/, /\(0, /);
  oneLineError(topP0, /--top-p/, /\(0, 1\]/);
  oneLineError(topP15, /--top-p/, /\(0, 1\]/, /1\.5/);
  oneLineError(batch, /--batch-size/, /integer/);
  oneLineError(lr, /--lr/, /\(0, 1\]/);
  assert.ok(!fs.existsSync(out), 'a failed command created its output folder');
});

test('--velocity-bins: 1 leaves one velocity token in the remi vocabulary (505 → 498); 0 is refused naming the flag', async () => {
  const [one, zero] = await Promise.all([
    runCli(['inspect', DATA_DIR, '--velocity-bins', '1', '--json']),
    runCli(['inspect', DATA_DIR, '--velocity-bins', '0']),
  ]);
  assertExit0(one);
  assert.equal(lastJson(one).vocabSize, 498);
  oneLineError(zero, /--velocity-bins/, /\[1, 127\]/, /got 0/);
});

test('--meter changes writes the time signature only where it changes (fewer tokens, same vocabulary); a bad value is refused naming the flag', async () => {
  const [every, changes, bad] = await Promise.all([
    runCli(['inspect', DATA_DIR, '--json']),
    runCli(['inspect', DATA_DIR, '--meter', 'changes', '--json']),
    runCli(['inspect', DATA_DIR, '--meter', 'sometimes']),
  ]);
  assertExit0(every);
  assertExit0(changes);
  const e = lastJson(every);
  const c = lastJson(changes);
  assert.equal(e.vocabSize, c.vocabSize);
  assert.equal(e.notes, c.notes);
  assert.ok(
    Number(c.tokens) < Number(e.tokens) && Number(e.tokens) < Number(c.tokens) * 1.15,
    `${String(c.tokens)} tokens with --meter changes, ${String(e.tokens)} with every bar`,
  );
  oneLineError(bad, /--meter must be every-bar or changes \(got "sometimes"\)/);
});

test('--seq-len longer than every piece in a small folder: one line naming seq-len and the largest allowed', async () => {
  const small = path.join(tmp, 'small');
  fs.mkdirSync(small);
  const two = fs
    .readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.mid'))
    .slice(0, 2);
  for (const f of two) fs.copyFileSync(path.join(DATA_DIR, f), path.join(small, f));
  const r = await runCli(['train', '--data', small, '--out', path.join(tmp, 'never2'), '--seq-len', '5000', '--json']);
  const line = oneLineError(r, /seq-?len/i, /5000/, /--seq-len ≤ \d+/);
  const longest = Number(/≤ (\d+)/.exec(line)?.[1]);
  assert.ok(longest > 32 && longest < 5000, line);
  assert.ok(!fs.existsSync(path.join(tmp, 'never2')));
});

test('unknown flag, unknown command, missing --out', async () => {
  const [flag, command, noOut, noData] = await Promise.all([
    runCli(['generate', '--model', model, '--bogus']),
    runCli(['frobnicate', '--json']),
    runCli(['train', '--data', DATA_DIR]),
    runCli(['train', '--out', path.join(tmp, 'never3')]),
  ]);
  oneLineError(flag, /--bogus/);
  oneLineError(command, /frobnicate/, /inspect, train, generate, evaluate/);
  oneLineError(noOut, /--out is required/);
  oneLineError(noData, /--data is required/);
});

test('--max-files 0 or -1, empty list items, padded numbers, repeated flags, extra arguments: one line naming the flag or argument', async () => {
  const out = path.join(tmp, 'never4');
  const train = (...flags: string[]) => runCli(['train', '--data', DATA_DIR, '--out', out, '--epochs', '1', ...flags]);
  const gen = (...flags: string[]) => runCli(['generate', '--model', model, '--out', path.join(out, 'x.mid'), '--seed', '1', ...flags]);
  const [max0, maxNeg, tracksEmpty, tracksGap, programsGap, epochsPadded, hex, twice, emptyPrimer] = await Promise.all([
    train('--max-files', '0'),
    train('--max-files=-1'),
    train('--tracks', ''),
    train('--tracks', '1,,2'),
    gen('--programs', '0,,33'),
    runCli(['train', '--data', DATA_DIR, '--out', out, '--epochs', ' 1 ']),
    gen('--length', '0x10'),
    train('--batch-size', '8', '--batch-size', '16'),
    gen('--primer', ''),
  ]);
  oneLineError(max0, /--max-files must be an integer ≥ 1 \(got 0\)/);
  oneLineError(maxNeg, /--max-files must be an integer ≥ 1 \(got -1\)/);
  oneLineError(tracksEmpty, /--tracks needs a value/);
  oneLineError(tracksGap, /--tracks must be a comma-separated list/, /"1,,2"/);
  oneLineError(programsGap, /--programs must be a comma-separated list/);
  oneLineError(epochsPadded, /--epochs must be an integer \(got " 1 "\)/);
  oneLineError(hex, /--length must be an integer/);
  oneLineError(twice, /--batch-size is given more than once/);
  oneLineError(emptyPrimer, /--primer needs a value/);
  const extra = await Promise.all([
    runCli(['inspect', DATA_DIR, '/nonexistent']),
    train('stray'),
    gen('stray'),
    runCli(['evaluate', '--model', model, 'stray']),
  ]);
  oneLineError(extra[0], /unexpected argument "\/nonexistent"/, /inspect takes one/);
  for (const r of extra.slice(1)) oneLineError(r, /unexpected argument "stray"/, /takes only flags/);
  assert.ok(!fs.existsSync(out), 'a failed command created its output folder');
});

test('a boolean flag given twice is refused as a value flag is; generate --out must name a .mid or .midi file and --wav a .wav file; evaluate --help says --samples 0 is allowed', async () => {
  const out = path.join(tmp, 'never5');
  const gen = (...flags: string[]) => runCli(['generate', '--model', model, '--seed', '1', '--length', '8', ...flags]);
  const [json2, drums2, help2, txt, noExt, wavMid, upper] = await Promise.all([
    runCli(['inspect', DATA_DIR, '--json', '--json']),
    runCli(['inspect', DATA_DIR, '--include-drums', '--include-drums']),
    runCli(['generate', '-h', '--help']),
    gen('--out', path.join(out, 'x.txt')),
    gen('--out', path.join(out, 'x')),
    gen('--out', path.join(out, 'x.mid'), '--wav', path.join(out, 'x.mp3')),
    gen('--out', path.join(tmp, 'UPPER.MIDI'), '--json'),
  ]);
  oneLineError(json2, /^musicgen inspect: --json is given more than once$/);
  oneLineError(drums2, /^musicgen inspect: --include-drums is given more than once$/);
  oneLineError(help2, /^musicgen generate: --help is given more than once$/);
  oneLineError(txt, /^musicgen generate: --out must name a \.mid or \.midi file \(got ".*never5\/x\.txt"\)$/);
  oneLineError(noExt, /^musicgen generate: --out must name a \.mid or \.midi file \(got ".*never5\/x"\)$/);
  oneLineError(wavMid, /^musicgen generate: --wav must name a \.wav file \(got ".*never5\/x\.mp3"\)$/);
  assert.ok(!fs.existsSync(out), 'a refused command created its output folder');
  assertExit0(upper);
  assert.ok(fs.existsSync(path.join(tmp, 'UPPER.MIDI')), 'the extension is matched whatever its case');
  const help = await runCli(['evaluate', '--help']);
  assertExit0(help);
  assert.match(help.stdout + help.stderr, /--samples N +generated pieces .*0-1000; 0 = none, only the scores/);
});

test('generate --out or --wav naming the primer (or a link to it), a file of the model folder, or each other: refused, nothing touched', async () => {
  const primer = path.join(tmp, 'own-primer.mid');
  fs.copyFileSync(path.join(DATA_DIR, 'amazing-grace.mid'), primer);
  const link = path.join(tmp, 'link-to-primer.mid');
  fs.symlinkSync(primer, link);
  const before = fs.readFileSync(primer);
  const modelJson = fs.readFileSync(path.join(model, 'model.json'));
  const gen = (...flags: string[]) => runCli(['generate', '--model', model, '--primer', primer, '--seed', '1', '--length', '20', ...flags]);
  const fresh = path.join(tmp, 'fresh.mid');
  const [self, viaLink, viaDots, modelFile, inModel, sameWav, wavPrimer] = await Promise.all([
    gen('--out', primer),
    gen('--out', link),
    gen('--out', path.join(tmp, 'sub', '..', 'own-primer.mid')),
    gen('--out', path.join(model, 'model.json')),
    gen('--out', path.join(model, 'new.mid')),
    gen('--out', fresh, '--wav', fresh),
    gen('--out', path.join(tmp, 'ok.mid'), '--wav', primer),
  ]);
  for (const r of [self, viaLink, viaDots]) oneLineError(r, /--out .* is the --primer file/);
  for (const r of [modelFile, inModel]) oneLineError(r, /--out .* is inside the --model folder/);
  oneLineError(sameWav, /--out and --wav are the same file/);
  oneLineError(wavPrimer, /--wav .* is the --primer file/);
  assert.ok(fs.readFileSync(primer).equals(before), 'the primer changed');
  assert.ok(fs.readFileSync(path.join(model, 'model.json')).equals(modelJson), 'model.json changed');
  assert.deepEqual(
    fs.readdirSync(model).filter((f) => f.endsWith('.mid')),
    [],
  );
  assert.ok(!fs.existsSync(fresh) && !fs.existsSync(path.join(tmp, 'ok.mid')) && !fs.existsSync(path.join(tmp, 'sub')));
});

test('damaged weights (NaN, random bytes): generate and evaluate fail with one line naming the weights file; a truncated history.json does not stop generate', async () => {
  const copy = (name: string, damage: (bytes: number) => Uint8Array): string => {
    const dir = path.join(tmp, name);
    fs.cpSync(FOLK_MODEL, dir, { recursive: true });
    const w = path.join(dir, fs.readdirSync(dir).find((f) => /^weights-.*\.bin$/.test(f)) as string);
    fs.writeFileSync(w, damage(fs.statSync(w).size));
    return dir;
  };
  const nan = copy('nan-weights', (n) => new Uint8Array(new Float32Array(n / 4).fill(NaN).buffer));
  const noise = copy('noise-weights', (n) => new Uint8Array(crypto.randomBytes(n)));
  for (const dir of [nan, noise]) {
    const out = path.join(tmp, `${path.basename(dir)}.mid`);
    const [g, e] = await Promise.all([
      runCli(['generate', '--model', dir, '--out', out, '--seed', '1', '--data', DATA_DIR, '--json']),
      runCli(['evaluate', '--model', dir, '--train-data', DATA_DIR, '--samples', '0', '--json']),
    ]);
    for (const r of [g, e]) oneLineError(r, new RegExp(`${path.basename(dir)}/weights-\\w+\\.bin: weight \\S+\\[\\d+\\] is `), /damaged/);
    assert.ok(!fs.existsSync(out), 'a MIDI file was written from damaged weights');
  }
  const history = copyModel('short-history');
  fs.writeFileSync(path.join(history, 'history.json'), fs.readFileSync(path.join(history, 'history.json'), 'utf8').slice(0, 40));
  assertExit0(
    await runCli([
      'generate',
      '--model',
      history,
      '--out',
      path.join(tmp, 'short-history.mid'),
      '--seed',
      '1',
      '--length',
      '20',
      '--data',
      DATA_DIR,
      '--json',
    ]),
  );
});

test('--verbose adds the stack trace', async () => {
  const r = await runCli(['generate', '--model', model, '--out', path.join(tmp, 'v.mid'), '--temperature', '0', '--verbose']);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n');
  assert.match(lines[0], /--temperature/);
  assert.ok(
    lines.some((l) => /^\s+at /.test(l)),
    `no stack trace:\n${r.stderr}`,
  );
});

/** Runs generate on a model folder and expects a one-line error before any output. */
async function brokenModel(dir: string, ...patterns: RegExp[]): Promise<void> {
  const out = path.join(tmp, `${path.basename(dir)}.mid`);
  const r = await runCli(['generate', '--model', dir, '--out', out, '--seed', '1', '--data', DATA_DIR, '--json']);
  oneLineError(r, ...patterns);
  assert.ok(!fs.existsSync(out), 'a MIDI file was written from a broken model');
}

test('model folder missing, incomplete, corrupt or mixed with another vocabulary: clear error before any work', async () => {
  const noVocab = copyModel('no-vocab');
  fs.rmSync(path.join(noVocab, 'vocab.json'));
  const noWeights = copyModel('no-weights');
  const weightsOf = (d: string) => path.join(d, fs.readdirSync(d).find((f) => /^weights-.*\.bin$/.test(f)) ?? 'none');
  fs.rmSync(weightsOf(noWeights));
  const short = copyModel('short-weights');
  const w = weightsOf(short);
  fs.truncateSync(w, fs.statSync(w).size - 8);
  const badJson = copyModel('bad-config');
  fs.writeFileSync(path.join(badJson, 'config.json'), '{"format": "musicgen-model/1", ');
  // vocab.json of another model (built from other data).
  const mixed = copyModel('mixed-vocab');
  const other = buildVocabulary(
    fs
      .readdirSync(MIDI_FIXTURES)
      .filter((f) => f.startsWith('good-'))
      .map((f) => readMidiFile(path.join(MIDI_FIXTURES, f))),
    defaultTokenizerConfig('timed'),
  );
  const own = loadVocabulary(path.join(model, 'vocab.json'));
  assert.notEqual(other.tokens.length, own.tokens.length, 'precondition: the two vocabularies differ in size');
  saveVocabulary(path.join(mixed, 'vocab.json'), other);

  await Promise.all([
    brokenModel(path.join(tmp, 'no-such-model'), /no-such-model/, /not found/),
    brokenModel(noVocab, /incomplete/, /vocab\.json/),
    brokenModel(noWeights, /incomplete/, /weights-/),
    brokenModel(short, /weights/, /bytes/),
    brokenModel(badJson, /config\.json/, /JSON/),
    brokenModel(mixed, /vocab\.json/, new RegExp(`${other.tokens.length} tokens`), new RegExp(`vocabSize ${own.tokens.length}`)),
  ]);
});

test('a primer with symbols the vocabulary lacks: nearest works, error names the token, skip works', async () => {
  const vocab = loadVocabulary(path.join(model, 'vocab.json'));
  const dataFile = path.join(DATA_DIR, fs.readdirSync(DATA_DIR).filter((f) => f.endsWith('.mid'))[0]);
  const base = readMidiFile(dataFile).notes.slice(0, 30);
  const end = Math.max(...base.map((n) => n.start + n.duration));
  // A cluster chord and extreme pitches with an odd length: nothing like the training folk tunes.
  const odd: Note[] = [
    ...[22, 23, 24, 25].map((pitch) => ({ pitch, start: end, duration: 2.75, velocity: 80 })),
    { pitch: 119, start: end + 3, duration: 0.25, velocity: 80 },
    { pitch: 12, start: end + 3.5, duration: 0.5, velocity: 80 },
  ];
  const piece = makePiece('odd', [...base, ...odd]);
  const primer = path.join(tmp, 'odd-primer.mid');
  writeMidiFile(primer, piece);
  const tokens = pieceToTokens(readMidiFile(primer), vocab.config).map(tokenToString);
  const unknown = tokens.filter((t) => !vocab.index.has(t));
  assert.ok(unknown.length >= 2, `precondition: the primer has unknown symbols (${unknown.join(' ')})`);
  const out = (p: string) => path.join(tmp, `primed-${p}.mid`);
  const args = (p: string) => [
    'generate',
    '--model',
    model,
    '--primer',
    primer,
    '--out',
    out(p),
    '--length',
    '40',
    '--seed',
    '5',
    '--json',
    '--unknown',
    p,
  ];
  const [nearest, error, skip, bad] = await Promise.all([
    runCli(args('nearest')),
    runCli(args('error')),
    runCli(args('skip')),
    runCli(args('maybe')),
  ]);
  assert.equal(nearest.code, 0, nearest.stderr);
  assert.ok(readMidiFile(out('nearest')).notes.length > 30);
  assert.equal(skip.code, 0, skip.stderr);
  assert.ok(readMidiFile(out('skip')).notes.length > 30);
  oneLineError(error, new RegExp(unknown[0].replace(/\./g, '\\.')), /vocabulary/);
  assert.ok(!fs.existsSync(out('error')));
  oneLineError(bad, /--unknown/, /nearest, skip or error/);
  // The default policy is nearest.
  const dflt = await runCli([
    'generate',
    '--model',
    model,
    '--primer',
    primer,
    '--out',
    out('default'),
    '--length',
    '40',
    '--seed',
    '5',
    '--json',
  ]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.ok(fs.readFileSync(out('default')).equals(fs.readFileSync(out('nearest'))));
});

test('unwritable output paths: one-line error, no hang, no temp file left', async () => {
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const folder = path.join(tmp, 'a-folder.mid');
  fs.mkdirSync(folder);
  const genArgs = (out: string) => [
    'generate',
    '--model',
    model,
    '--out',
    out,
    '--seed',
    '1',
    '--length',
    '20',
    '--data',
    DATA_DIR,
    '--json',
  ];
  const [proc, underFile, isFolder, trainProc] = await Promise.all([
    spawnCli(genArgs('/proc/nope/x.mid'), 20_000),
    runCli(genArgs(path.join(file, 'x.mid'))),
    runCli(genArgs(folder)),
    spawnCli(
      [
        'train',
        '--data',
        DATA_DIR,
        '--out',
        '/proc/nope/model',
        '--max-files',
        '3',
        '--units',
        '8',
        '--embedding',
        '4',
        '--seq-len',
        '16',
        '--json',
      ],
      20_000,
    ),
  ]);
  oneLineError(proc, /cannot write \/proc\/nope\/x\.mid/);
  oneLineError(underFile, /cannot write/, /a-file/, /not a folder/);
  oneLineError(isFolder, /cannot write/, /a-folder\.mid/);
  assert.match(trainProc.stderr.trim().split('\n').pop() ?? '', /cannot write \/proc\/nope\/model/);
  assert.notEqual(trainProc.code, 0);
  assert.deepEqual(tempFilesIn(tmp), []);
  assert.deepEqual(fs.readdirSync(folder), []);
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
});

test('evaluate prints the load report of the files it scores: each skipped file and each warning, as inspect does', async () => {
  const held = path.join(tmp, 'held-out');
  fs.mkdirSync(held);
  for (const f of ['huge-delta.mid', 'good-format0.mid', 'extra-track.mid'])
    fs.copyFileSync(path.join(MIDI_FIXTURES, f), path.join(held, f));
  const r = await runCli(['evaluate', '--model', model, '--train-data', DATA_DIR, '--data', held, '--samples', '0', '--json']);
  assertExit0(r);
  const lines = r.stderr.split('\n');
  assert.ok(
    lines.some((l) => /^skipped huge-delta\.mid: too long/.test(l)),
    r.stderr,
  );
  assert.ok(lines.includes('warning extra-track.mid: the header declares 1 track but the file holds 2: all were read'), r.stderr);
});

test('the progress bar ETA is rounded before it is split, so it never reads 10m60s', () => {
  assert.equal(formatEta(659), '11m00s');
  assert.equal(formatEta(657), '10m55s');
  assert.equal(formatEta(3599), '1h00m');
  assert.equal(formatEta(3600 + 29 * 60 + 58), '1h30m');
  assert.equal(formatEta(59.6), '1m00s');
  assert.equal(formatEta(7.4), '7s');
  assert.equal(formatEta(Number.POSITIVE_INFINITY), '?');
});
