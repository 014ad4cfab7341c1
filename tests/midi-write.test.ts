/**
 * Writing MIDI (lib/midi/write.ts): a large multi-instrument piece survives
 * write → read exactly, and the bytes follow the Standard MIDI File layout
 * the writer promises. Speed is measured by `npm run bench` ("MIDI writing"),
 * not here: the round trip below took 3 minutes with @tonejs/midi's writer,
 * under a second with ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMidi } from '../lib/midi/read';
import { decodeSmf } from '../lib/midi/smf';
import { pieceToMidiBytes } from '../lib/midi/write';
import { makePiece, type Note, type Piece } from '../lib/core/piece';
import { DRUM_CHANNEL } from '../lib/midi/sustain';
import { walkEvents, type WalkedEvent } from './fixtures/smf-events';
import { createRng } from '../lib/core/rng';

/** `count` notes on the writer's 1/480-beat grid, spread over three programs and drums, with gaps of up to 8 beats. */
function bigPiece(count: number): Piece {
  const rng = createRng(2024);
  const int = (n: number): number => Math.floor(rng.next() * n);
  const programs = [0, 33, 73];
  const notes: Note[] = [];
  // A MIDI file cannot tell apart overlapping notes of one pitch and instrument (the reader would pair them otherwise): none here.
  const busyUntil = new Map<string, number>();
  let tick = 0;
  while (notes.length < count) {
    tick += int(50) === 0 ? int(8 * 480) : int(4) * 120;
    const kind = int(4);
    const drum = kind === 3;
    const pitch = drum ? 35 + int(47) : 24 + int(84);
    const start = tick + int(3) * 40;
    const key = `${kind}/${pitch}`;
    if ((busyUntil.get(key) ?? 0) > start) continue;
    const ticks = 1 + int(2000);
    busyUntil.set(key, start + ticks);
    const note = { pitch, start: start / 480, duration: ticks / 480, velocity: 1 + int(127) };
    notes.push(drum ? { ...note, program: 0, drum: true } : { ...note, program: programs[kind] });
  }
  return makePiece('big', notes, {
    tempos: [
      { beat: 0, bpm: 96 },
      { beat: 100, bpm: 150 },
      { beat: 1000, bpm: 60 },
    ],
    timeSignatures: [
      { beat: 0, numerator: 6, denominator: 8 },
      { beat: 48, numerator: 5, denominator: 4 },
    ],
    program: 0,
  });
}

const row = (n: Note): string => `${n.start}/${n.pitch}/${n.duration}/${n.velocity}/${n.drum ? 'drum' : n.program}`;

test('20,000 notes of three instruments and drums survive write → read exactly', () => {
  const piece = bigPiece(20_000);
  const back = parseMidi(pieceToMidiBytes(piece), 'back', { includeDrums: true, sustain: false });
  assert.equal(back.notes.length, piece.notes.length);
  const want = piece.notes.map(row).sort();
  const got = back.notes.map(row).sort();
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.fail(`note ${i}: wrote ${want[i]}, read ${got[i]}`);
  assert.deepEqual(back.tempos, piece.tempos);
  assert.deepEqual(back.timeSignatures, piece.timeSignatures);
});

test('the file layout: a tempo track, then one track per instrument in order of first appearance, drums on channel 10', () => {
  const piece = makePiece(
    'layout',
    [
      { pitch: 60, start: 0, duration: 1, velocity: 100, program: 40 },
      { pitch: 36, start: 0.5, duration: 0.25, velocity: 90, program: 0, drum: true },
      { pitch: 48, start: 1, duration: 2, velocity: 80, program: 32 },
      { pitch: 62, start: 1, duration: 1, velocity: 70, program: 40 },
    ],
    { tempos: [{ beat: 0, bpm: 100 }], timeSignatures: [{ beat: 0, numerator: 3, denominator: 4 }] },
  );
  const bytes = pieceToMidiBytes(piece);
  assert.equal(Buffer.from(bytes.subarray(0, 14)).toString('hex'), '4d546864000000060001000401e0');
  const smf = decodeSmf(bytes, 1000);
  assert.deepEqual(smf.warnings, []);
  assert.deepEqual(
    smf.tempos.map((t) => [t.tick, t.microsPerBeat]),
    [[0, 600_000]],
  );
  assert.deepEqual(
    smf.timeSignatures.map((t) => [t.tick, t.numerator, t.denominator]),
    [[0, 3, 4]],
  );
  const notes = smf.notes.map((n) => [n.track, n.channel, n.program, n.pitch, n.startTick, n.durationTicks, n.velocity]);
  assert.deepEqual(
    notes.sort((a, b) => a[0] - b[0] || a[4] - b[4]),
    [
      [1, 0, 40, 60, 0, 480, 100],
      [1, 0, 40, 62, 480, 480, 70],
      [2, 9, 0, 36, 240, 120, 90],
      [3, 1, 32, 48, 480, 960, 80],
    ],
  );
});

test('a tempo slower than MIDI can hold is written as the slowest it can hold (3.58 bpm), not wrapped around', () => {
  const piece = makePiece('slow', [{ pitch: 60, start: 0, duration: 1, velocity: 100 }], {
    tempos: [
      { beat: 0, bpm: 2 },
      { beat: 1, bpm: 60 },
    ],
  });
  const back = parseMidi(pieceToMidiBytes(piece), 'back');
  assert.deepEqual(back.tempos, [
    { beat: 0, bpm: 60_000_000 / 0xffffff },
    { beat: 1, bpm: 60 },
  ]);
});

/** The channel events of a file, in the order a player meets them: by tick, then track by track, each track's in file order. */
function playerOrder(bytes: Uint8Array): WalkedEvent[] {
  const channel = walkEvents(bytes).filter((e) => e.status < 0xf0);
  return channel
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.tick - b.e.tick || a.e.track - b.e.track || a.i - b.i)
    .map(({ e }) => e);
}

/**
 * Plays a file as a synthesizer does, as far as programs go: one program per
 * channel, changed by program changes as they come. Returns each note-on as
 * "tick/pitch/program" (drums as "drum"), sorted.
 */
function playedNotes(bytes: Uint8Array): string[] {
  const programs = new Array<number>(16).fill(0);
  const played: string[] = [];
  for (const e of playerOrder(bytes)) {
    const channel = e.status & 0x0f;
    if (e.status >> 4 === 0xc) programs[channel] = e.d1;
    else if (e.status >> 4 === 0x9 && e.d2 > 0) played.push(`${e.tick}/${e.d1}/${channel === DRUM_CHANNEL ? 'drum' : programs[channel]}`);
  }
  return played.sort();
}

/** `programs.length` melodic instruments (and drums) playing `perProgram` notes each, often at one tick, on the 1/480 grid. */
function manyInstruments(programs: readonly number[], perProgram: number): Piece {
  const rng = createRng(40);
  const int = (n: number): number => Math.floor(rng.next() * n);
  const notes: Note[] = [];
  for (const program of programs) {
    for (let i = 0; i < perProgram; i++)
      notes.push({ pitch: 36 + int(60), start: i * 0.5 + int(2) * 0.25, duration: 0.25, velocity: 1 + int(127), program });
  }
  for (let i = 0; i < perProgram; i++) notes.push({ pitch: 36, start: i * 0.5, duration: 0.25, velocity: 100, program: 0, drum: true });
  notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  return makePiece('many', notes);
}

const asPlayed = (piece: Piece): string[] =>
  piece.notes.map((n) => `${Math.round(n.start * 480)}/${n.pitch}/${n.drum ? 'drum' : n.program}`).sort();

test('40 melodic programs share the 15 melodic channels, and every note is played and read back with its own program', () => {
  const programs = Array.from({ length: 40 }, (_, i) => (i * 3) % 128);
  const piece = manyInstruments(programs, 24);
  const bytes = pieceToMidiBytes(piece);
  assert.deepEqual(playedNotes(bytes), asPlayed(piece), 'as a synthesizer plays it');
  const back = parseMidi(bytes, 'back', { includeDrums: true, sustain: false });
  assert.deepEqual(back.notes.map(row).sort(), piece.notes.map(row).sort(), 'as a reader reads it');
  // Programs 0, 94 and 57 dealt onto one channel all sound as themselves.
  const three = makePiece(
    'three',
    [0, 94, 57].flatMap((program, k) => [0, 1, 2].map((b) => ({ pitch: 60 + k, start: b, duration: 1, velocity: 90, program }))),
  );
  const shared = pieceToMidiBytes(three);
  assert.deepEqual(playedNotes(shared), asPlayed(three));
});

test('with up to 15 melodic programs no channel is shared: one program change per track, at tick 0', () => {
  const piece = manyInstruments(
    Array.from({ length: 15 }, (_, i) => i * 8),
    24,
  );
  const bytes = pieceToMidiBytes(piece);
  assert.deepEqual(playedNotes(bytes), asPlayed(piece));
  const changes = playerOrder(bytes).filter((e) => e.status >> 4 === 0xc);
  assert.deepEqual(
    changes.map((e) => [e.tick, e.track]),
    Array.from({ length: 16 }, (_, k) => [0, k + 1]),
    'one per track: 15 instruments and the drums',
  );
});
