/**
 * Imports flow one way through the pipeline stages: a file in lib/<stage>/ may
 * import only from its own stage or from stages listed before it here. The
 * notebook and the CLI sit on top, side by side, and never import each other.
 * lib/ never imports scripts/ or tests/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';

/** The stages in pipeline order; later stages may import earlier ones. */
const STAGES: readonly (readonly string[])[] = [
  ['core'],
  ['midi'],
  ['tokens'],
  ['data'],
  ['model'],
  ['store'],
  ['train'],
  ['generate'],
  ['evaluate'],
  ['show'],
  ['notebook', 'cli'],
];
const LIB = path.resolve(__dirname, '../lib');
const rankOf = new Map(STAGES.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative module specifiers a file imports, statically or dynamically (`import('…')`, `require('…')`). */
function relativeImports(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^import\s+)'(\.{1,2}\/[^']*)'/gm)) specs.push(m[1]);
  return specs;
}

/** The violations of the layering rule in lib/ (empty when it holds). */
function layerViolations(lib: string): string[] {
  const out: string[] = [];
  for (const file of tsFiles(lib)) {
    const rel = path.relative(lib, file);
    const stage = rel.split(path.sep)[0];
    const rank = rankOf.get(stage);
    if (rank === undefined) {
      out.push(`lib/${rel}: lies outside the stage folders (${[...rankOf.keys()].join(', ')})`);
      continue;
    }
    for (const spec of relativeImports(fs.readFileSync(file, 'utf8'))) {
      const target = path.relative(lib, path.resolve(path.dirname(file), spec));
      if (target.startsWith('..')) {
        out.push(`lib/${rel}: imports ${spec}, outside lib/`);
        continue;
      }
      const to = target.split(path.sep)[0];
      const toRank = rankOf.get(to);
      if (to === stage) continue;
      if (toRank === undefined || toRank >= rank)
        out.push(`lib/${rel} (${stage}) imports ${spec} (${to}): a stage may import only earlier stages`);
    }
  }
  return out;
}

test('lib/ imports flow one way: each stage imports only its own and earlier stages', () => {
  assert.deepEqual(layerViolations(LIB), []);
});

test('the layering check reports an import from a later stage, from outside lib/, and a file outside the stages', () => {
  const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  const put = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(lib, rel)), { recursive: true });
    fs.writeFileSync(path.join(lib, rel), text);
  };
  put('core/a.ts', 'export const a = 1;\n');
  put('train/loop.ts', "import { a } from '../core/a';\nexport const b = a;\n");
  put('model/network.ts', "import type { b } from '../train/loop';\nconst s = await import('../show/synth');\nimport '../../scripts/x';\n");
  put('misc.ts', '');
  try {
    assert.deepEqual(layerViolations(lib), [
      'lib/misc.ts: lies outside the stage folders (core, midi, tokens, data, model, store, train, generate, evaluate, show, notebook, cli)',
      'lib/model/network.ts (model) imports ../train/loop (train): a stage may import only earlier stages',
      'lib/model/network.ts (model) imports ../show/synth (show): a stage may import only earlier stages',
      'lib/model/network.ts: imports ../../scripts/x, outside lib/',
    ]);
  } finally {
    fs.rmSync(lib, { recursive: true, force: true });
  }
});

test('every stage folder in lib/ is ranked, and every ranked stage exists', () => {
  const folders = fs
    .readdirSync(LIB, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(folders, [...rankOf.keys()].sort());
});
