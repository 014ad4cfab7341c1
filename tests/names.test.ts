/**
 * Names that are not UTF-8 (docs/midi-files.md, "Names that are not UTF-8"), given on the
 * command line: a data folder and a model folder named so are found, written
 * and read again by their bytes. Only a shell passes such argument bytes
 * (node's spawn takes strings), so the CLI runs as a process started by sh.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readMidiFile } from '../lib/midi/read';
import { DATA_DIR, ROOT, assertExit0, lastJson, midiFilesIn, oneLineError, runCli, startProcess, type CliRun } from './helpers';

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'musicgen-names-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Bytes of a string, one byte per character: \xe9, \x9f, \xff stay single bytes. */
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Runs the CLI from a shell, which passes the argument bytes as written. */
const shell = async (args: string): Promise<CliRun> => ({
  ...(await startProcess('sh', ['-c', `cd "${ROOT}" && exec "${process.execPath}" --import tsx lib/cli/main.ts ${args}`], {
    timeoutMs: 120_000,
  }).done),
  signal: null,
});
const TINY = '--epochs 1 --units 16 --embedding 8 --seq-len 32 --batch-size 8 --scheme timed --seed 3';
const LINUX_ONLY = { skip: process.platform === 'linux' ? false : 'argument bytes are recovered from /proc/self/cmdline' };

test('a data folder named so is recorded by its bytes and found again by --resume and evaluate', LINUX_ONLY, async () => {
  const parent = path.join(tmp, 'names');
  const data = Buffer.concat([bytes(parent), bytes('/caf\xe9')]);
  fs.mkdirSync(data, { recursive: true });
  for (const f of midiFilesIn(DATA_DIR).slice(0, 8)) fs.copyFileSync(path.join(DATA_DIR, f), Buffer.concat([data, bytes(`/${f}`)]));

  const model = path.join(parent, 'model');
  const trained = await shell(`train --data "$(printf '%s/caf\\351' "${parent}")" --out "${model}" ${TINY} --json`);
  assert.equal(trained.code, 0, trained.stderr);
  const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { data: { folders: string[] } };
  assert.deepEqual(config.data.folders, [`${parent}/caf\\xe9`]);
  const resumed = await runCli(['train', '--resume', '--out', model, '--epochs', '2', '--json']);
  assertExit0(resumed);
  assert.equal(lastJson(resumed).epochs, 2);
  const evaluated = await runCli(['evaluate', '--model', model, '--samples', '0', '--json']);
  assertExit0(evaluated);
  assert.doesNotMatch(evaluated.stderr, /warning/);
});

test(
  'train --out writes the model folder under the bytes given (its lock and staging folder beside it too); --resume, --force, generate and evaluate find it there',
  LINUX_ONLY,
  async () => {
    const parent = path.join(tmp, 'out-names');
    fs.mkdirSync(parent);
    const out = Buffer.concat([bytes(parent), bytes('/out\xff')]);
    const outArg = `"$(printf '%s/out\\377' "${parent}")"`;
    const onlyTheModelFolder = (): void =>
      assert.deepEqual(
        fs.readdirSync(parent, { encoding: 'buffer' }),
        [bytes('out\xff')],
        'one folder, named by the bytes given; no lock or staging folder left',
      );

    const trained = await shell(`train --data "${DATA_DIR}" --max-files 4 ${TINY} --out ${outArg} --json`);
    assert.equal(trained.code, 0, trained.stderr);
    assert.equal(lastJson(trained).model, `${parent}/out\\xff`);
    onlyTheModelFolder();
    const files = fs.readdirSync(out);
    for (const f of ['config.json', 'vocab.json', 'model.json', 'history.json', 'checkpoint.ckpt'])
      assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    assert.ok(
      files.some((f) => /^weights-\w+\.bin$/.test(f)),
      files.join(', '),
    );

    // A lock held by a live process (this one), beside the folder under the same bytes: another training is refused.
    const lock = Buffer.concat([bytes(parent), bytes('/.out\xff.lock')]);
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), started: null, since: 'now' }));
    const locked = await shell(`train --resume --epochs 2 --out ${outArg}`);
    fs.rmSync(lock);
    oneLineError(
      locked,
      new RegExp(
        `^musicgen train: \\S+/out\\\\xff is being written by another training \\(process ${process.pid} since now\\).*lock file \\S+/\\.out\\\\xff\\.lock\\)$`,
      ),
    );

    const resumed = await shell(`train --resume --epochs 2 --out ${outArg} --json`);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(lastJson(resumed).epochs, 2);
    const mid = path.join(tmp, 'from-out-names.mid');
    const generated = await shell(`generate --model ${outArg} --out "${mid}" --data "${DATA_DIR}" --length 20 --seed 1 --json`);
    assert.equal(generated.code, 0, generated.stderr);
    assert.ok(readMidiFile(mid).notes.length > 0);
    // An --out inside that folder is refused, named by its bytes.
    const inside = await shell(`generate --model ${outArg} --out ${outArg}/x.mid --data "${DATA_DIR}" --length 20`);
    oneLineError(inside, /^musicgen generate: --out \S+\/out\\xff\/x\.mid is inside the --model folder \S+\/out\\xff: write it elsewhere/);
    // Also when the model is named by a link whose name is not UTF-8 either: the link is followed by its bytes.
    fs.symlinkSync(out, Buffer.concat([bytes(parent), bytes('/link\xfe')]));
    const linked = await shell(
      `generate --model "$(printf '%s/link\\376' "${parent}")" --out ${outArg}/model.json --data "${DATA_DIR}" --length 20`,
    );
    fs.rmSync(Buffer.concat([bytes(parent), bytes('/link\xfe')]));
    oneLineError(
      linked,
      /^musicgen generate: --out \S+\/out\\xff\/model\.json is inside the --model folder \S+\/link\\xfe: write it elsewhere/,
    );
    const evaluated = await shell(`evaluate --model ${outArg} --samples 0 --json`);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.ok(Number.isFinite(lastJson(evaluated).nll), evaluated.stdout);

    // --force trains beside it (.out\xff.new) and swaps the new model in after its first epoch.
    const replaced = await shell(`train --data "${DATA_DIR}" --max-files 4 ${TINY} --force --out ${outArg} --json`);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /the new model replaced the old one in \S+\/out\\xff$/m);
    onlyTheModelFolder();
    assert.equal(
      (JSON.parse(fs.readFileSync(Buffer.concat([out, bytes('/history.json')]), 'utf8')) as unknown[]).length,
      1,
      'the new model (1 epoch) replaced the resumed one (2)',
    );
  },
);
