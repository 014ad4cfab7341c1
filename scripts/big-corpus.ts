/**
 * `npm run -s big-corpus [-- --notes N --out DIR --data DIR]`
 *
 * Builds a large MIDI corpus on disk for the streaming benchmark
 * (scripts/bench-data.ts): ../shared/data/piano-midi (or --data) written again
 * and again, each copy transposed by another shift (−5…+6 semitones, the
 * pitched notes that leave 0–127 dropped), until it holds at least --notes
 * notes (default 20,000,000). It goes to out/big-corpus/ by default, which git
 * ignores: never commit it. A copy already written is kept, so a second run
 * only checks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makePiece, type Piece } from '../lib/core/piece';
import { loadMidiFolder } from '../lib/midi/read';
import { writeMidiFile } from '../lib/midi/write';
import { flagHelp, parseFlags, str, type FlagSpecs } from '../lib/cli/args';

const ROOT = path.resolve(__dirname, '..');
const FLAGS: FlagSpecs = {
  notes: { type: 'string', help: 'N notes to reach at least (default 20000000)' },
  out: { type: 'string', help: 'DIR where to write (default out/big-corpus)' },
  data: { type: 'string', help: 'DIR corpus to repeat (default ../shared/data/piano-midi)' },
};

/** The piece moved by `shift` semitones (drums stay; notes pushed out of range are dropped). */
function transposed(p: Piece, shift: number): Piece {
  const notes = p.notes
    .filter((n) => n.drum || (n.pitch + shift >= 0 && n.pitch + shift <= 127))
    .map((n) => (n.drum ? n : { ...n, pitch: n.pitch + shift }));
  return makePiece(p.name, notes, { tempos: p.tempos, timeSignatures: p.timeSignatures, program: p.program });
}

/** Builds the corpus; returns its folder, files and notes. */
export function buildBigCorpus(
  target: number,
  out: string,
  data: string,
  log: (line: string) => void = () => undefined,
): { dir: string; files: number; notes: number } {
  const src = loadMidiFolder(data);
  const perCopy = src.pieces.reduce((n, p) => n + p.notes.length, 0);
  if (perCopy === 0) throw new Error(`no notes in ${data}`);
  let notes = 0;
  let files = 0;
  for (let copy = 0; notes < target; copy++) {
    const shift = (copy % 12) - 5;
    const dir = path.join(out, `copy-${String(copy).padStart(3, '0')}`);
    const done = path.join(dir, '.done');
    if (fs.existsSync(done)) {
      const n = JSON.parse(fs.readFileSync(done, 'utf8')) as { notes: number; files: number };
      notes += n.notes;
      files += n.files;
      continue;
    }
    let copyNotes = 0;
    for (const p of src.pieces) {
      const t = transposed(p, shift);
      if (t.notes.length === 0) continue;
      writeMidiFile(path.join(dir, p.name.replace(/\.(midi?|kar|rmi)$/i, '') + `_t${shift}.mid`), t);
      copyNotes += t.notes.length;
    }
    fs.writeFileSync(done, JSON.stringify({ notes: copyNotes, files: src.pieces.length }));
    notes += copyNotes;
    files += src.pieces.length;
    log(`copy ${copy} (shift ${shift}): ${notes} notes so far`);
  }
  return { dir: out, files, notes };
}

if (require.main === module) {
  const a = parseFlags(process.argv.slice(2), FLAGS);
  if (a.values.help) {
    process.stdout.write(`usage: npm run -s big-corpus [-- --notes N --out DIR --data DIR]\n${flagHelp(FLAGS)}\n`);
    process.exit(0);
  }
  const target = Number(str(a, 'notes') ?? 20_000_000);
  const out = path.resolve(str(a, 'out') ?? path.join(ROOT, 'out', 'big-corpus'));
  const data = path.resolve(str(a, 'data') ?? path.join(ROOT, '..', 'shared', 'data', 'piano-midi'));
  const r = buildBigCorpus(target, out, data, (l) => process.stderr.write(`${l}\n`));
  process.stdout.write(`${r.files} files, ${r.notes} notes in ${path.relative(process.cwd(), r.dir) || '.'}\n`);
}
