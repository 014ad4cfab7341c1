/**
 * `node --import tsx scripts/band-samples.ts --model DIR [--samples N --length N --seed S --new-instruments]`
 *
 * The band of a remi model's samples, sample by sample, beside data excerpts
 * of as many notes: what `evaluate`'s programsPer1000Notes averages. The
 * samples are drawn as `evaluate` draws them (a primer of 32 tokens from the
 * training split of the model's recorded folders, sample s seeded by
 * deriveSeed(seed, s), the default sampling; defaults 16 samples of 600
 * events, seed 1), so the mean printed is `evaluate`'s for the same flags.
 * For each sample: its new notes, the programs its primer states, the
 * distinct programs of its new notes, the programs that play in the piece's
 * first {@link BAND_BARS} bars (primer included: the band a kept piece
 * closes on, ../lib/generate/keep.ts) and those that first play after them
 * (none when the band is kept). --primer-band restricts each sample to the
 * programs its primer states, as `generate --programs` would: what a band
 * stated at the opening gives. The data: the band size
 * of one excerpt of every training piece, of the samples' mean length
 * (quantiles and mean programs per 1,000 notes). Ends with one JSON line.
 */
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';
import { loadEncoded } from '../lib/cli/train-data';
import { modelArg } from '../lib/cli/paths';
import { bars, changesInForce, instrumentOf, sameMeter, type Piece } from '../lib/core/piece';
import { BAND_BARS } from '../lib/generate/keep';
import { createRng, deriveSeed } from '../lib/core/rng';
import { splitByFile } from '../lib/data/dataset';
import { noteExcerpts } from '../lib/evaluate/metrics';
import { programsPer1000Notes } from '../lib/evaluate/structure';
import { generateMusicAsync } from '../lib/generate/generate';
import { DEFAULT_PRIMER_LENGTH, excerptPrimer } from '../lib/generate/primer';
import { initBackend } from '../lib/model/backend';
import { loadModel } from '../lib/store/load';
import { tokensToPiece } from '../lib/tokens/tokenize';
import { decodeIds } from '../lib/tokens/vocabulary';

const FLAGS: FlagSpecs = {
  model: { type: 'string', help: 'DIR a remi model folder' },
  samples: { type: 'string', help: 'N samples (default 16)' },
  length: { type: 'string', help: 'N events per sample (default 600)' },
  seed: { type: 'string', help: 'S seed of the samples (default 1)' },
  'new-instruments': { type: 'boolean', help: 'let the samples bring in instruments beyond their opening band' },
  'primer-band': {
    type: 'boolean',
    help: "restrict each sample to its primer's programs (--programs set to them): a band stated at the opening",
  },
};

/** The distinct instruments of a piece's notes (a program, or -1 for the drums). */
const band = (p: Piece): Set<number> => new Set(p.notes.map((n) => (instrumentOf(n, p).drum ? -1 : instrumentOf(n, p).program)));

/** MIDI's meter before the first time signature. */
const FOUR_FOUR = { beat: 0, numerator: 4, denominator: 4 };

/** The value at quantile q of ascending values. */
const at = (xs: readonly number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function main(): Promise<void> {
  const a = parseFlags(process.argv.slice(2), FLAGS);
  const usage =
    'usage: node --import tsx scripts/band-samples.ts --model DIR [--samples N --length N --seed S --new-instruments --primer-band]';
  if (a.values.help) return void process.stdout.write(`${usage}\n${flagHelp(FLAGS)}\n`);
  const dir = str(a, 'model');
  const [samples, length, seed] = [str(a, 'samples') ?? '16', str(a, 'length') ?? '600', str(a, 'seed') ?? '1'].map(Number);
  if (dir === undefined || ![samples, length, seed].every((x) => Number.isInteger(x) && x >= 0) || samples < 1 || length < 1)
    throw new Error(`${usage} (--samples and --length integers ≥ 1, --seed ≥ 0)`);
  await initBackend();
  const lm = await loadModel(modelArg(dir));
  const io = {
    log: (l: string) => process.stderr.write(`${l}\n`),
    quiet: true,
    interrupted: () => false,
    signal: new AbortController().signal,
  };
  const { encoded } = await loadEncoded(io, lm.config.data.folders, lm.vocab, lm.config.data.maxFiles, false);
  const training = splitByFile(encoded, lm.config.dataset.valFraction, lm.config.dataset.seed).train;
  const free = a.values['new-instruments'] === true ? { newInstruments: true } : {};
  const rows: { notes: number; primer: number; band: number; perK: number; opening: number; later: number }[] = [];
  for (let s = 0; s < samples; s++) {
    const sampleSeed = deriveSeed(seed, s);
    const primer = excerptPrimer(training, lm.vocab, DEFAULT_PRIMER_LENGTH, createRng(sampleSeed));
    const stated = new Set(decodeIds(lm.vocab, primer.ids).flatMap((t) => (t.kind === 'program' ? [t.program] : [])));
    const controls = a.values['primer-band'] === true && stated.size > 0 ? { ...free, programs: [...stated] } : free;
    const settings = { sampling: {}, controls, run: { length, seed: sampleSeed } };
    const g = await generateMusicAsync(lm.model, lm.vocab, primer, settings, { name: `sample ${s + 1}`, shouldStop: () => false });
    if (!g) throw new Error('generation stopped');
    const piece = { ...g.piece, notes: [...g.continuation] };
    // When each instrument first plays in the whole piece, primer included, against the end of its first bars.
    const first = new Map<number, number>();
    for (const n of g.piece.notes) {
      const key = instrumentOf(n, g.piece).drum ? -1 : instrumentOf(n, g.piece).program;
      first.set(key, Math.min(first.get(key) ?? Infinity, n.start));
    }
    const end = Math.max(...g.piece.notes.map((n) => n.start + n.duration));
    const opening =
      bars(
        changesInForce(g.piece.timeSignatures, sameMeter, (f) => f ?? FOUR_FOUR),
        end,
      )[BAND_BARS]?.start ?? Infinity;
    const row = {
      notes: piece.notes.length,
      primer: stated.size,
      band: band(piece).size,
      perK: programsPer1000Notes(piece),
      opening: [...first.values()].filter((b) => b < opening).length,
      later: [...first.values()].filter((b) => b >= opening).length,
    };
    rows.push(row);
    console.log(
      `sample ${s + 1}: ${row.notes} notes, primer states ${row.primer} programs, ${row.band} programs play ` +
        `(${row.perK.toFixed(1)} per 1,000 notes); ${row.opening} play in the first ${BAND_BARS} bars, ${row.later} enter after`,
    );
  }
  const mean = (xs: readonly number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
  const excerptNotes = Math.max(1, Math.round(mean(rows.map((r) => r.notes))));
  const data = training.map((p) => tokensToPiece(decodeIds(lm.vocab, p.ids), lm.vocab.config, { name: p.name }));
  const excerpts = noteExcerpts(data, excerptNotes, createRng(deriveSeed(seed, 0x62616e)));
  const sizes = excerpts.map((e) => band(e).size).sort((x, y) => x - y);
  const dataPerK = mean(excerpts.map(programsPer1000Notes));
  console.log(
    `samples: ${mean(rows.map((r) => r.band)).toFixed(2)} programs on average, ${mean(rows.map((r) => r.perK)).toFixed(3)} per 1,000 notes; ` +
      `${excerpts.length} data excerpts of ${excerptNotes} notes: band 10th/50th/90th percentile ${at(sizes, 0.1)}/${at(sizes, 0.5)}/${at(sizes, 0.9)}, ` +
      `mean ${mean(sizes).toFixed(2)} programs, ${dataPerK.toFixed(3)} per 1,000 notes`,
  );
  console.log(
    JSON.stringify({
      samples: rows,
      excerptNotes,
      dataBand: { p10: at(sizes, 0.1), p50: at(sizes, 0.5), p90: at(sizes, 0.9), mean: mean(sizes) },
      dataPerK,
    }),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
