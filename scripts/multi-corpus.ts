/**
 * `node --import tsx scripts/multi-corpus.ts [--data DIR --out DIR --seed N]`
 *
 * Builds a multi-instrument corpus from what we have, to measure how a model
 * keeps its band (`evaluate`'s programsPer1000Notes; issue 21): each
 * Nottingham tune (../shared/data/nottingham, or --data) is arranged for a
 * small band of 3–6 General-MIDI programs and written to out/multi-corpus/
 * (or --out), which git ignores: never commit it. A tune file holds a melody
 * (track 0) and block chords (track 1); a file without both is skipped with a
 * one-line reason. Per tune, with a generator seeded by --seed (default 1)
 * and the tune's index in file-name order, so the same seed writes the same
 * files:
 * - the melody, as written, on one of {@link MELODY} (flute, violin,
 *   clarinet, trumpet, oboe…);
 * - the chords, as written, on one of {@link CHORDS} (pianos, guitars,
 *   organs, harpsichord, banjo…);
 * - a bass line on one of {@link BASS}: at each chord's onset its lowest note
 *   (the root of the corpus' root-position triads), moved to the octave of
 *   E1–D#2 (MIDI 28–39); for half the tunes a chord of two beats or more is
 *   played root then fifth, half its length each;
 * - with probability 0.4, a doubling of the melody an octave up (in unison
 *   when that would pass MIDI 96) on another melody program;
 * - with probability 0.35, a pad holding the chords an octave up on one of
 *   {@link PADS} (strings, choir, synth pads);
 * - with probability 0.25, the chords broken into eighth notes (their notes
 *   ascending, over and over, for the chord's length) an octave up on one of
 *   {@link ARPEGGIO} (harp, celesta, vibraphone, marimba…).
 * No two parts of a tune share a program, so a tune's band is 3–6 distinct
 * programs that play from its start to its end, as in a real song, and tunes
 * differ in band, so the corpus holds dozens of programs overall. Each part
 * has its own velocity; tempo and meters are the tune's. No drums: the remi
 * models train without them unless told (--include-drums).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { createRng, deriveSeed, type Rng } from '../lib/core/rng';
import { readMidiFile } from '../lib/midi/read';
import { writeMidiFile } from '../lib/midi/write';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';

const ROOT = path.resolve(__dirname, '..');
const FLAGS: FlagSpecs = {
  data: { type: 'string', help: 'DIR Nottingham tunes (default ../shared/data/nottingham)' },
  out: { type: 'string', help: 'DIR where to write (default out/multi-corpus)' },
  seed: { type: 'string', help: 'N seed of the bands (default 1)' },
};

/** Melody programs: flute, violin, clarinet, trumpet, oboe, recorder, alto sax, piccolo, harmonica, accordion, fiddle, soprano sax. */
export const MELODY = [73, 40, 71, 56, 68, 74, 65, 72, 22, 21, 110, 64];
/** Chord programs: grand and bright piano, electric piano, harpsichord, drawbar and church organ, nylon and steel guitar, banjo, clean electric guitar. */
export const CHORDS = [0, 1, 4, 6, 16, 19, 24, 25, 105, 27];
/** Bass programs: acoustic, fingered and picked bass, fretless, contrabass, tuba, bassoon, synth bass. */
export const BASS = [32, 33, 34, 35, 43, 58, 70, 38];
/** Pad programs: string ensembles, choir aahs, warm and choir pads. */
export const PADS = [48, 49, 52, 89, 91];
/** Arpeggio programs: harp, celesta, vibraphone, marimba, music box, glockenspiel. */
export const ARPEGGIO = [46, 8, 11, 12, 10, 9];

/** One of `choices` not yet in `used`, drawn with `rng`, and added to it. */
function pick(choices: readonly number[], used: Set<number>, rng: Rng): number {
  const free = choices.filter((p) => !used.has(p));
  const p = free[Math.floor(rng.next() * free.length)];
  used.add(p);
  return p;
}

/** The notes of `part` played with `program` at `velocity`, moved by `shift` semitones. */
const played = (part: readonly Note[], program: number, velocity: number, shift = 0): Note[] =>
  part.map((n) => ({ pitch: n.pitch + shift, start: n.start, duration: n.duration, velocity, program }));

/** The chords as onset groups: each group's start, length (its longest note) and pitches ascending. */
function chordGroups(chords: readonly Note[]): { start: number; duration: number; pitches: number[] }[] {
  const groups = new Map<number, { start: number; duration: number; pitches: number[] }>();
  for (const n of chords) {
    const g = groups.get(n.start) ?? { start: n.start, duration: 0, pitches: [] };
    g.duration = Math.max(g.duration, n.duration);
    g.pitches.push(n.pitch);
    groups.set(n.start, g);
  }
  return [...groups.values()].sort((a, b) => a.start - b.start).map((g) => ({ ...g, pitches: g.pitches.sort((x, y) => x - y) }));
}

/** Arranges one tune (melody and chords as read) for a band drawn with `rng` (see the file comment). */
export function arrange(name: string, melody: Piece, chords: Piece, rng: Rng): { piece: Piece; band: number[] } {
  const used = new Set<number>();
  const lead = pick(MELODY, used, rng);
  const notes: Note[] = played(melody.notes, lead, 96);
  notes.push(...played(chords.notes, pick(CHORDS, used, rng), 64));
  const bass = pick(BASS, used, rng);
  const walking = rng.next() < 0.5;
  for (const g of chordGroups(chords.notes)) {
    const root = 28 + ((((g.pitches[0] - 28) % 12) + 12) % 12);
    const split = walking && g.duration >= 2;
    notes.push({ pitch: root, start: g.start, duration: split ? g.duration / 2 : g.duration, velocity: 84, program: bass });
    if (split) notes.push({ pitch: root + 7, start: g.start + g.duration / 2, duration: g.duration / 2, velocity: 80, program: bass });
  }
  if (rng.next() < 0.4) {
    const top = Math.max(...melody.notes.map((n) => n.pitch));
    notes.push(...played(melody.notes, pick(MELODY, used, rng), 72, top + 12 <= 96 ? 12 : 0));
  }
  if (rng.next() < 0.35) notes.push(...played(chords.notes, pick(PADS, used, rng), 52, 12));
  if (rng.next() < 0.25) {
    const harp = pick(ARPEGGIO, used, rng);
    for (const g of chordGroups(chords.notes)) {
      for (let i = 0; i * 0.5 < g.duration; i++) {
        const pitch = g.pitches[i % g.pitches.length] + 12;
        notes.push({ pitch, start: g.start + i * 0.5, duration: Math.min(0.5, g.duration - i * 0.5), velocity: 60, program: harp });
      }
    }
  }
  const piece = makePiece(name, notes, { tempos: melody.tempos, timeSignatures: melody.timeSignatures, program: lead });
  return { piece, band: [...used] };
}

/** Writes the corpus; returns the tunes written, their notes, the programs used and how many tunes had each band size. */
export function buildMultiCorpus(
  data: string,
  out: string,
  seed: number,
  log: (line: string) => void = () => undefined,
): { files: number; notes: number; programs: number; bandSizes: Record<number, number> } {
  const files = fs
    .readdirSync(data)
    .filter((f) => /\.midi?$/i.test(f))
    .sort();
  let written = 0;
  let notes = 0;
  const programs = new Set<number>();
  const bandSizes: Record<number, number> = {};
  files.forEach((file, i) => {
    let tune: { piece: Piece; band: number[] };
    try {
      const src = path.join(data, file);
      const rng = createRng(deriveSeed(seed, i));
      tune = arrange(file, readMidiFile(src, { tracks: [0] }), readMidiFile(src, { tracks: [1] }), rng);
    } catch (e) {
      log(`skipped ${file}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
      return;
    }
    writeMidiFile(path.join(out, file), tune.piece);
    written++;
    notes += tune.piece.notes.length;
    tune.band.forEach((p) => programs.add(p));
    bandSizes[tune.band.length] = (bandSizes[tune.band.length] ?? 0) + 1;
  });
  return { files: written, notes, programs: programs.size, bandSizes };
}

if (require.main === module) {
  const a = parseFlags(process.argv.slice(2), FLAGS);
  if (a.values.help) {
    process.stdout.write(`usage: node --import tsx scripts/multi-corpus.ts [--data DIR --out DIR --seed N]\n${flagHelp(FLAGS)}\n`);
    process.exit(0);
  }
  const seed = Number(str(a, 'seed') ?? 1);
  if (!Number.isInteger(seed)) {
    process.stderr.write(`--seed must be an integer (got ${str(a, 'seed')})\n`);
    process.exit(2);
  }
  const data = path.resolve(str(a, 'data') ?? path.join(ROOT, '..', 'shared', 'data', 'nottingham'));
  const out = path.resolve(str(a, 'out') ?? path.join(ROOT, 'out', 'multi-corpus'));
  if (!fs.statSync(data, { throwIfNoEntry: false })?.isDirectory()) {
    process.stderr.write(`no folder of Nottingham tunes at ${data} (give --data DIR)\n`);
    process.exit(2);
  }
  const r = buildMultiCorpus(data, out, seed, (l) => process.stderr.write(`${l}\n`));
  process.stdout.write(
    `${r.files} tunes, ${r.notes} notes, ${r.programs} programs in all, bands of ${JSON.stringify(r.bandSizes)} programs in ${out}\n`,
  );
}
