/**
 * Helpers of the PyTorch tests (tests/torch-*.test.ts, python/musicgen_torch): the python that has torch,
 * running the package, and a model folder's next-token probabilities from tfjs `predict`.
 *
 * Without torch the tests are skipped with the reason, except under CI=true, where they fail (CI installs
 * python3-torch through scripts/setup.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../lib/store/load';
import { ROOT } from './helpers';

/** The package's folder (python3 -m musicgen_torch runs from it). */
const PYTHON_DIR = path.join(ROOT, 'python');

const CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

/** The first of MUSICGEN_PYTHON, Debian's /usr/bin/python3 and the python3 on PATH that imports torch, or null. */
function findTorchPython(): string | null {
  const candidates = [process.env.MUSICGEN_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** The python to run the package with. */
const TORCH_PYTHON = findTorchPython();

/** node:test's `skip`: a reason when torch is missing (false under CI=true, so that the test fails), else false. */
export const needTorch: string | false =
  TORCH_PYTHON === null && !CI
    ? 'PyTorch is not installed for python3 (Debian/Ubuntu: sudo apt-get install python3-torch; or bash scripts/setup.sh as root)'
    : false;

/** What a python run printed and how it ended. */
export interface PyRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `python3 -m <module> ...args` from python/ (module: musicgen_torch or musicgen_torch.launch). */
export function runPython(module: string, args: readonly string[], timeoutMs = 300_000): PyRun {
  if (TORCH_PYTHON === null) throw new Error(`PyTorch is not installed for python3 (tried MUSICGEN_PYTHON, /usr/bin/python3, python3)`);
  const r = spawnSync(TORCH_PYTHON, ['-m', module, ...args], {
    cwd: PYTHON_DIR,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
    env: { ...process.env, MUSICGEN_DEVICE: 'cpu' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The output of a run that must succeed; the error shows its stderr. */
export function pythonOk(module: string, args: readonly string[], timeoutMs?: number): string {
  const r = runPython(module, args, timeoutMs);
  if (r.code !== 0) throw new Error(`python3 -m ${module} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** A model folder's next-token probabilities [T][V] after each prefix of `ids`, from tfjs `predict` on the loaded layers model. */
export async function tfjsProbabilities(dir: string, ids: readonly number[]): Promise<Float32Array[]> {
  const loaded = await loadModel(dir);
  const V = loaded.model.config.vocabSize;
  const out = tf.tidy(() => loaded.model.net.predict(tf.tensor2d([...ids], [1, ids.length], 'int32')) as tf.Tensor);
  const flat = (await out.data()) as Float32Array;
  out.dispose();
  loaded.model.net.dispose();
  return ids.map((_, t) => flat.slice(t * V, (t + 1) * V));
}

/** The largest absolute difference between two [T][V] probability tables. */
export function maxDifference(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new Error(`${a.length} rows against ${b.length}`);
  let worst = 0;
  a.forEach((row, t) => {
    if (row.length !== b[t].length) throw new Error(`row ${t}: ${row.length} values against ${b[t].length}`);
    for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(row[v] - b[t][v]));
  });
  return worst;
}

/** A JSON file's contents, typed as the caller expects. */
export const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

/** A model folder's weights file as float32 values (asserts that the folder has one). */
export function weights(dir: string): Float32Array {
  const file = fs.readdirSync(dir).find((f) => /^weights-.*\.bin$/.test(f));
  assert.ok(file, `no weights file in ${dir}`);
  const buf = fs.readFileSync(path.join(dir, file));
  return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
}
