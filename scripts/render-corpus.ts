/**
 * Renders the project's own corpus, written in ABC notation in data/abc/*.abc,
 * to MIDI files data/<slug>.mid (melody and block chords in one track), and
 * refreshes the table of pieces in data/README.md.
 *
 *   npx tsx scripts/render-corpus.ts            # (re)write data/*.mid and the README table
 *   npx tsx scripts/render-corpus.ts --check    # exit 1 when a file is missing or out of date
 *   options: --abc DIR (default data/abc), --out DIR (default data), --readme FILE (default <out>/README.md);
 *   --help lists them all
 *
 * The output is deterministic: rendering twice gives the same bytes, and files
 * whose bytes did not change are not rewritten.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { abcTuneToPiece, parseAbc, slugify, type AbcTune } from './abc';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';
import { UserError } from '../lib/core/errors';
import { writeFileAtomic } from '../lib/core/files';
import { pieceToMidiBytes } from '../lib/midi/write';

/** One tune of the corpus with the file it renders to. */
export interface CorpusEntry {
  readonly tune: AbcTune;
  /** File name in the output folder, e.g. `the-kesh.mid`. */
  readonly fileName: string;
}

/** What {@link renderCorpus} did (or, with `check`, would do). */
export interface RenderReport {
  readonly entries: readonly CorpusEntry[];
  /** MIDI files written (or, with `check`, missing or out of date). */
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
  /** Whether the README table was (or, with `check`, needs to be) rewritten. */
  readonly readmeChanged: boolean;
}

export const TABLE_START = '<!-- corpus-table:start -->';
export const TABLE_END = '<!-- corpus-table:end -->';

/**
 * Reads and parses every .abc file in `abcDir` (sorted by name). Throws a
 * UserError when a tune has rhythm warnings or two tunes share a file name.
 */
export function loadCorpus(abcDir: string): CorpusEntry[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(abcDir)
      .filter((n) => n.toLowerCase().endsWith('.abc'))
      .sort();
  } catch {
    throw new UserError(`cannot read the ABC folder ${abcDir}`);
  }
  if (names.length === 0) throw new UserError(`no .abc files in ${abcDir}`);
  const entries: CorpusEntry[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = path.join(abcDir, name);
    for (const tune of parseAbc(fs.readFileSync(file, 'utf8'), file)) {
      if (tune.warnings.length > 0) {
        throw new UserError(`${file}: tune X:${tune.x} "${tune.title}", ${tune.warnings[0]}`);
      }
      const fileName = `${slugify(tune.title)}.mid`;
      const other = seen.get(fileName);
      if (other) throw new UserError(`${file}: tune "${tune.title}" renders to ${fileName}, like "${other}"; rename one`);
      seen.set(fileName, tune.title);
      entries.push({ tune, fileName });
    }
  }
  return entries;
}

/** The MIDI bytes of one tune (deterministic). */
export function renderTune(tune: AbcTune): Uint8Array {
  return pieceToMidiBytes(abcTuneToPiece(tune));
}

/** The markdown table of the corpus written into the README. */
export function corpusTable(entries: readonly CorpusEntry[]): string {
  const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|').trim() || '—';
  const rows = entries.map((e, i) => {
    const f = e.tune.fields;
    const file = `[${e.fileName}](${e.fileName})`;
    const source = `${path.basename(e.tune.file)} X:${e.tune.x}`;
    return `| ${i + 1} | ${cell(e.tune.title)} | ${cell(f.R)} | ${cell(f.K)} | ${cell(f.M)} | ${cell(f.O)} | ${cell(f.C)} | ${cell(f.S)} | ${file} | ${source} |`;
  });
  const notes = entries.reduce((a, e) => a + e.tune.notes.length, 0);
  const beats = entries.reduce((a, e) => a + e.tune.lengthBeats, 0);
  const minutes = entries.reduce((a, e) => a + e.tune.lengthBeats / e.tune.bpm, 0);
  return [
    `${entries.length} pieces, ${notes} melody notes, ${Math.round(beats)} beats (about ${Math.round(minutes)} minutes of music).`,
    '',
    '| # | Title | Type | Key | Meter | Origin | Composer | Public-domain basis | MIDI | ABC source |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Replaces the text between the table markers of a README (which must contain both). */
export function replaceTable(readme: string, table: string, file = 'README'): string {
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new UserError(`${file}: missing the ${TABLE_START} ... ${TABLE_END} markers`);
  return `${readme.slice(0, a + TABLE_START.length)}\n${table}\n${readme.slice(b)}`;
}

/** Renders the corpus; with `check`, only compares and writes nothing. */
export function renderCorpus(options: { abcDir: string; outDir: string; readme?: string; check?: boolean }): RenderReport {
  const entries = loadCorpus(options.abcDir);
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const e of entries) {
    const target = path.join(options.outDir, e.fileName);
    const bytes = renderTune(e.tune);
    const old = fs.existsSync(target) ? fs.readFileSync(target) : undefined;
    if (old && Buffer.compare(old, Buffer.from(bytes)) === 0) unchanged.push(e.fileName);
    else {
      changed.push(e.fileName);
      if (!options.check) writeFileAtomic(target, bytes);
    }
  }
  let readmeChanged = false;
  if (options.readme && fs.existsSync(options.readme)) {
    const old = fs.readFileSync(options.readme, 'utf8');
    const next = replaceTable(old, corpusTable(entries), options.readme);
    readmeChanged = next !== old;
    if (readmeChanged && !options.check) writeFileAtomic(options.readme, next);
  }
  return { entries, changed, unchanged, readmeChanged };
}

const USAGE = 'usage: npx tsx scripts/render-corpus.ts [--check] [--abc DIR] [--out DIR] [--readme FILE]   (= npm run corpus)';

const CORPUS_FLAGS: FlagSpecs = {
  check: { type: 'boolean', help: 'write nothing; exit 1 when a .mid file or the README table is missing or out of date' },
  abc: { type: 'string', help: 'DIR folder of .abc files (default data/abc)' },
  out: { type: 'string', help: 'DIR folder for the .mid files (default data)' },
  readme: { type: 'string', help: 'FILE README whose corpus table is refreshed (default <out>/README.md)' },
};

function main(argv: readonly string[]): number {
  const a = parseFlags(argv, CORPUS_FLAGS);
  if (a.values.help) {
    console.log(`${USAGE}\n\n${flagHelp(CORPUS_FLAGS)}`);
    return 0;
  }
  if (a.positionals.length > 0) throw new UserError(`unexpected argument "${a.positionals[0]}" (see --help)`);
  const arg = (name: string): string | undefined => {
    const v = str(a, name);
    if (v === '') throw new UserError(`--${name} needs a value`);
    return v;
  };
  const root = path.resolve(__dirname, '..');
  const outDir = arg('out') ?? path.join(root, 'data');
  const check = a.values.check === true;
  const report = renderCorpus({
    abcDir: arg('abc') ?? path.join(root, 'data', 'abc'),
    outDir,
    readme: arg('readme') ?? path.join(outDir, 'README.md'),
    check,
  });
  const n = report.entries.length;
  const json = (): void => {
    if (a.values.json)
      console.log(
        JSON.stringify({
          tunes: n,
          check,
          changed: report.changed,
          unchanged: report.unchanged.length,
          readmeChanged: report.readmeChanged,
        }),
      );
  };
  if (check) {
    const stale = [...report.changed, ...(report.readmeChanged ? ['README.md table'] : [])];
    if (stale.length > 0) {
      console.error(`corpus out of date (${stale.length}): ${stale.join(', ')} — run npm run corpus`);
      json();
      return 1;
    }
    console.log(`corpus up to date: ${n} tunes`);
    json();
    return 0;
  }
  console.log(
    `corpus: ${n} tunes → ${path.relative(process.cwd(), outDir) || '.'}/ (${report.changed.length} written, ` +
      `${report.unchanged.length} unchanged${report.readmeChanged ? ', README table updated' : ''})`,
  );
  json();
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    if (process.argv.includes('--verbose') && e instanceof Error && e.stack) console.error(e.stack);
    process.exitCode = 1;
  }
}
