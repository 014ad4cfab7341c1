/**
 * Downloads a public MIDI dataset and extracts its MIDI files into a folder.
 *
 *   npm run -s download -- nottingham --out data/nottingham
 *   npm run -s download -- nottingham --zip nottingham-dataset-master.zip   # no download
 *   npm run -s download -- --list
 *   npm run -s download -- --help                                          # all flags
 *
 * Only .mid/.midi entries are extracted; paths that would leave the output
 * folder (zip-slip), macOS resource forks and files without a MIDI header are
 * skipped. Every file is written atomically. The extraction is a function of
 * the zip bytes ({@link extractMidiFromZip}) so it can be tested offline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { flagHelp, parseFlags, str, type FlagSpecs, type ParsedArgs } from '../lib/cli/args';
import { UserError, errCode } from '../lib/core/errors';
import { writeFileAtomic } from '../lib/core/files';

/** A dataset the command knows how to fetch. */
export interface DatasetSpec {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  readonly license: string;
  /** Maps a zip entry path to its path in the output folder, or undefined to leave it out. */
  readonly select: (entry: string) => string | undefined;
}

/** Keeps every .mid/.midi entry at its own path inside the zip. */
export function selectAllMidi(entry: string): string | undefined {
  return /\.midi?$/i.test(entry) ? entry : undefined;
}

/** Nottingham (Jukedeck): only `<root>/MIDI/*.mid`, not the melody-only and chords-only copies. */
export function selectNottingham(entry: string): string | undefined {
  const m = /^[^/]+\/MIDI\/([^/]+\.midi?)$/i.exec(entry);
  return m ? m[1] : undefined;
}

export const DATASETS: Readonly<Record<string, DatasetSpec>> = {
  nottingham: {
    name: 'nottingham',
    description: 'Nottingham Music Database, ~1,000 folk tunes with chords (Jukedeck clean-up)',
    url: 'https://github.com/jukedeck/nottingham-dataset/archive/refs/heads/master.zip',
    license: 'GPL-3.0 (see the repository)',
    select: selectNottingham,
  },
};

/** Why a zip entry was not extracted. */
export interface SkippedEntry {
  readonly entry: string;
  readonly reason: string;
}

/** What {@link extractMidiFromZip} did. */
export interface ExtractReport {
  /** Paths written, relative to the output folder, in zip order. */
  readonly written: readonly string[];
  /** Selected MIDI entries that were not written, with the reason. */
  readonly skipped: readonly SkippedEntry[];
  /** Entries left out because they are not selected (other files, folders). */
  readonly ignored: number;
}

/** Options of {@link extractMidiFromZip}. */
export interface ExtractOptions {
  readonly select?: (entry: string) => string | undefined;
  /** Largest accepted file (bytes, uncompressed). Default 16 MiB. */
  readonly maxFileBytes?: number;
}

/**
 * A safe relative path for an entry, or undefined when it is absolute or
 * climbs out of its folder (`..`), so nothing can be written outside `outDir`.
 */
export function safeRelativePath(entry: string): string | undefined {
  const p = entry.replace(/\\/g, '/');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return undefined;
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return parts.join('/');
}

/** Extracts the selected MIDI entries of a zip archive into `outDir`. */
export function extractMidiFromZip(zip: Uint8Array, outDir: string, options: ExtractOptions = {}): ExtractReport {
  const select = options.select ?? selectAllMidi;
  const maxFileBytes = options.maxFileBytes ?? 16 * 1024 * 1024;
  const written: string[] = [];
  const skipped: SkippedEntry[] = [];
  let ignored = 0;
  const wanted = new Map<string, string>();
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        const target = f.name.endsWith('/') ? undefined : select(f.name);
        if (target === undefined) {
          ignored++;
          return false;
        }
        if (f.originalSize > maxFileBytes) {
          skipped.push({ entry: f.name, reason: `too large (${f.originalSize} bytes)` });
          return false;
        }
        wanted.set(f.name, target);
        return true;
      },
    });
  } catch (e) {
    throw new UserError(`not a readable zip archive (${e instanceof Error ? e.message : String(e)})`);
  }
  const root = path.resolve(outDir);
  for (const [entry, target] of wanted) {
    const data = files[entry];
    const rel = safeRelativePath(target);
    const inside = rel === undefined ? undefined : path.resolve(root, rel);
    if (rel === undefined || inside === undefined || !inside.startsWith(root + path.sep)) {
      skipped.push({ entry, reason: 'unsafe path (would be written outside the output folder)' });
    } else if (rel.split('/').some((s) => s.startsWith('.') || s === '__MACOSX')) {
      skipped.push({ entry, reason: 'hidden or macOS metadata file' });
    } else if (!data || data.length < 14 || String.fromCharCode(...data.subarray(0, 4)) !== 'MThd') {
      skipped.push({ entry, reason: 'not a MIDI file (no MThd header)' });
    } else {
      writeFileAtomic(inside, data);
      written.push(rel);
    }
  }
  return { written, skipped, ignored };
}

/** Options of {@link downloadBytes}. */
export interface DownloadOptions {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  /** For tests; default the global fetch. */
  readonly fetchImpl?: typeof fetch;
}

/** Downloads a URL into memory. Throws a one-line UserError when offline or on an HTTP error. */
export async function downloadBytes(url: string, options: DownloadOptions = {}): Promise<Uint8Array> {
  const doFetch = options.fetchImpl ?? fetch;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  let res: Response;
  try {
    res = await doFetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 120_000), redirect: 'follow' });
  } catch (e) {
    throw new UserError(`cannot download ${url}: ${networkReason(e)} — are you offline? (or pass --zip FILE)`);
  }
  if (!res.ok) throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`.trim());
  const size = Number(res.headers.get('content-length') ?? '0');
  if (size > maxBytes) throw new UserError(`cannot download ${url}: ${size} bytes is more than the ${maxBytes} limit`);
  let buf: ArrayBuffer;
  try {
    buf = await res.arrayBuffer();
  } catch (e) {
    throw new UserError(`cannot download ${url}: ${networkReason(e)}`);
  }
  if (buf.byteLength > maxBytes) throw new UserError(`cannot download ${url}: more than the ${maxBytes}-byte limit`);
  return new Uint8Array(buf);
}

function networkReason(e: unknown): string {
  const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return 'timed out';
  const code = errCode(cause);
  const known: Record<string, string> = {
    ENOTFOUND: 'host not found (ENOTFOUND)',
    EAI_AGAIN: 'DNS lookup failed (EAI_AGAIN)',
    ECONNREFUSED: 'connection refused (ECONNREFUSED)',
    ECONNRESET: 'connection reset (ECONNRESET)',
    ETIMEDOUT: 'connection timed out (ETIMEDOUT)',
    ENETUNREACH: 'network unreachable (ENETUNREACH)',
  };
  return (known[code] ?? code).split('\n')[0];
}

/** Downloads (or reads) a dataset's zip and extracts it. */
export async function downloadDataset(
  spec: DatasetSpec,
  outDir: string,
  options: { zipFile?: string; url?: string } & DownloadOptions = {},
): Promise<ExtractReport> {
  let zip: Uint8Array;
  if (options.zipFile) {
    try {
      zip = fs.readFileSync(options.zipFile);
    } catch (e) {
      throw new UserError(`cannot read ${options.zipFile}: ${errCode(e)}`);
    }
  } else {
    zip = await downloadBytes(options.url ?? spec.url, options);
  }
  const report = extractMidiFromZip(zip, outDir, { select: spec.select });
  if (report.written.length === 0) {
    throw new UserError(`no MIDI files found in the ${spec.name} archive (${report.ignored} other entries)`);
  }
  return report;
}

const USAGE = 'usage: npm run -s download -- <dataset> [--out DIR] [--zip FILE] [--url URL]   (datasets: --list)';

const DOWNLOAD_FLAGS: FlagSpecs = {
  out: { type: 'string', help: 'DIR folder to extract into (default data/<dataset>)' },
  zip: { type: 'string', help: 'FILE extract this zip archive instead of downloading' },
  url: { type: 'string', help: "URL download the zip from here instead of the dataset's own address" },
  list: { type: 'boolean', help: 'list the known datasets and exit' },
};

/** A string flag that, when given, must not be empty. */
function optional(a: ParsedArgs, name: string): string | undefined {
  const v = str(a, name);
  if (v === '') throw new UserError(`--${name} needs a value`);
  return v;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0) {
    console.log(USAGE);
    return 1;
  }
  const a = parseFlags(argv, DOWNLOAD_FLAGS);
  const json = a.values.json === true;
  if (a.values.help) {
    console.log(`${USAGE}\n\n${flagHelp(DOWNLOAD_FLAGS)}`);
    return 0;
  }
  if (a.values.list) {
    for (const d of Object.values(DATASETS)) console.log(`${d.name}: ${d.description} — ${d.url} (${d.license})`);
    if (json)
      console.log(
        JSON.stringify({
          datasets: Object.values(DATASETS).map(({ name, description, url, license }) => ({ name, description, url, license })),
        }),
      );
    return 0;
  }
  if (a.positionals.length === 0) throw new UserError(`which dataset? ${USAGE}`);
  if (a.positionals.length > 1) throw new UserError(`unexpected argument "${a.positionals[1]}" (one dataset at a time; see --help)`);
  const spec = DATASETS[a.positionals[0]];
  if (!spec) throw new UserError(`unknown dataset "${a.positionals[0]}" (known: ${Object.keys(DATASETS).join(', ')})`);
  const outDir = optional(a, 'out') ?? path.join('data', spec.name);
  const zipFile = optional(a, 'zip');
  const url = optional(a, 'url');
  if (!zipFile) console.log(`downloading ${url ?? spec.url} ...`);
  const report = await downloadDataset(spec, outDir, { zipFile, url });
  const skipped =
    report.skipped.length > 0
      ? `, ${report.skipped.length} skipped (${report.skipped[0].entry}: ${report.skipped[0].reason}${report.skipped.length > 1 ? ', …' : ''})`
      : '';
  console.log(`${spec.name}: wrote ${report.written.length} MIDI files to ${outDir}${skipped}; ${report.ignored} other entries ignored`);
  if (json)
    console.log(
      JSON.stringify({ dataset: spec.name, out: outDir, written: report.written.length, skipped: report.skipped, ignored: report.ignored }),
    );
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      if (process.argv.includes('--verbose') && e instanceof Error && e.stack) console.error(e.stack);
      process.exitCode = 1;
    },
  );
}
