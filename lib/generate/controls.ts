/**
 * Controls at generation: time signature, tempo, instruments, dynamics and
 * key. With a `remi` model they steer what the model writes (a mask keeps the
 * asked meter, tempo, instruments and loudness, and a piece can start from
 * nothing but the controls); with every model they set the exported MIDI.
 * The key is changed by transposing the primer, which the model continues.
 */
import { checkInt, checkNumber } from '../core/check';
import { lastOfKind, pitchedPositions, type Token } from '../tokens/token';
import { grammarStart } from '../tokens/grammar';
import { decodeIds, encodeTokens, type Vocabulary } from '../tokens/vocabulary';
import { nearestTempo, tempoBins, velocityBin } from '../tokens/remi-bins';
import type { Primer } from './primer';

/** The source name of a primer made of the controls alone. */
const CONTROLS_SOURCE = 'the controls';

/** Named dynamics levels and the MIDI velocity each stands for. */
export const DYNAMICS = { pp: 33, p: 49, mp: 64, mf: 80, f: 96, ff: 112 } as const;
export type Dynamics = keyof typeof DYNAMICS;

/** What a generation is asked to keep. Every field is optional: absent = as the model (and primer) like. */
export interface GenerationControls {
  /** Meter of the output, e.g. [3, 4]. */
  readonly timeSignature?: readonly [number, number];
  /** Tempo of the output in beats per minute. */
  readonly bpm?: number;
  /** General-MIDI programs the output may use (the first is the instrument a piece from nothing starts with). */
  readonly programs?: readonly number[];
  /** Loudness: the model writes velocities within one bin of this level. */
  readonly dynamics?: Dynamics;
  /** Semitones to transpose the primer by (the key the model continues in). */
  readonly transpose?: number;
  /** Let a remi model change the meter the piece opens with (by default it keeps it: ./keep.ts). */
  readonly meterChanges?: boolean;
  /** Let a remi model bring in instruments beyond the band of the piece's opening bars (by default it keeps the band: ./keep.ts). */
  readonly newInstruments?: boolean;
}

/** Checks the controls; throws a RangeError naming the bad one. */
export function validateControls(c: GenerationControls): GenerationControls {
  if (c.timeSignature) {
    const [n, d] = c.timeSignature;
    checkInt('timeSignature numerator', n, 1, 16);
    if (![2, 4, 8].includes(d)) throw new RangeError(`timeSignature denominator must be 2, 4 or 8 (got ${d})`);
  }
  if (c.bpm !== undefined) checkNumber('bpm', c.bpm, (v) => v >= 10 && v <= 400, 'in [10, 400]');
  if (c.programs) {
    if (c.programs.length === 0) throw new RangeError('programs must name at least one General-MIDI program');
    c.programs.forEach((p, i) => checkInt(`programs[${i}]`, p, 0, 127));
  }
  if (c.dynamics !== undefined && !(c.dynamics in DYNAMICS)) {
    throw new RangeError(`dynamics must be one of ${Object.keys(DYNAMICS).join(', ')} (got ${String(c.dynamics)})`);
  }
  if (c.transpose !== undefined) checkInt('transpose', c.transpose, -24, 24);
  for (const flag of ['meterChanges', 'newInstruments'] as const) {
    if (c[flag] !== undefined && typeof c[flag] !== 'boolean')
      throw new RangeError(`${flag} must be true or false (got ${JSON.stringify(c[flag])})`);
  }
  return c;
}

/**
 * The tokens a remi model may write under the controls: 1 = allowed. Null when
 * nothing is restricted (or the scheme has no such tokens).
 */
export function controlMask(vocab: Vocabulary, c: GenerationControls): Float32Array | null {
  if (vocab.config.scheme !== 'remi' || (!c.timeSignature && c.bpm === undefined && !c.programs && !c.dynamics)) return null;
  const tempo = c.bpm === undefined ? undefined : nearestTempo(tempoBins(vocab.config), c.bpm);
  const vel = c.dynamics ? velocityBin(vocab.config, DYNAMICS[c.dynamics]) : undefined;
  const ok = (t: Token): boolean => {
    switch (t.kind) {
      case 'ts':
        return !c.timeSignature || (t.numerator === c.timeSignature[0] && t.denominator === c.timeSignature[1]);
      case 'tempo':
        return tempo === undefined || t.bpm === tempo;
      case 'program':
        return !c.programs || (!t.drum && c.programs.includes(t.program));
      case 'vel':
        return vel === undefined || Math.abs(t.bin - vel) <= 1;
      default:
        return true;
    }
  };
  return Float32Array.from(vocab.tokens, (t) => (ok(t) ? 1 : 0));
}

/**
 * A primer of nothing but the controls, for a remi model: the start of a
 * piece in the asked meter, tempo (default 120) and first instrument
 * (default piano). Without a meter it is only the piece's first bar line:
 * the model then opens with the meter, tempo and instruments it likes (the
 * asked tempo and programs still hold: ./controls `controlMask`), and keeps
 * that meter (./keep.ts).
 */
export function controlsPrimer(vocab: Vocabulary, c: GenerationControls): Primer {
  if (vocab.config.scheme !== 'remi')
    throw new RangeError(`a piece from nothing needs a remi model (this one uses ${vocab.config.scheme}): give a primer or a data folder`);
  if (!c.timeSignature)
    return { ids: encodeTokens(vocab, [{ kind: 'bos' }, { kind: 'bar' }], 'error'), source: CONTROLS_SOURCE, bpm: c.bpm };
  const [numerator, denominator] = c.timeSignature;
  const bpm = nearestTempo(tempoBins(vocab.config), c.bpm ?? 120);
  const tokens: Token[] = [
    { kind: 'bos' },
    { kind: 'bar' },
    { kind: 'ts', numerator, denominator },
    { kind: 'pos', position: 0 },
    { kind: 'tempo', bpm },
    { kind: 'program', program: c.programs?.[0] ?? 0, drum: false },
  ];
  return { ids: encodeTokens(vocab, tokens, 'error'), source: CONTROLS_SOURCE, bpm: c.bpm ?? 120, timeSignature: [numerator, denominator] };
}

/**
 * The primer moved by `semitones` (drum notes stay): notes that would leave
 * 0–127 move by an octave less. Symbols the vocabulary lacks map to the
 * nearest known ones.
 */
export function transposePrimer(vocab: Vocabulary, primer: Primer, semitones: number): Primer {
  if (semitones === 0) return primer;
  const tokens = decodeIds(vocab, primer.ids);
  const pitched = pitchedPositions(tokens);
  const moved = tokens.map((t, i): Token => {
    if (t.kind !== 'event' || !pitched[i]) return t;
    return { kind: 'event', pitches: [...new Set(t.pitches.map((p) => shiftPitch(p, semitones)))].sort((a, b) => a - b) };
  });
  return { ...primer, ids: encodeTokens(vocab, moved, 'nearest') };
}

function shiftPitch(p: number, k: number): number {
  let q = p + k;
  while (q > 127) q -= 12;
  while (q < 0) q += 12;
  return q;
}

/**
 * For a remi model, a primer that ends where the controls begin: when a
 * meter, tempo or instruments are asked for and the primer does not have them
 * in force at its end already, a new bar carrying the ones it lacks is added
 * after it (an unfinished note at the primer's end left out, so the bar keeps
 * the grammar), and the model goes on in the asked meter, tempo and instrument.
 */
export function withControls(vocab: Vocabulary, primer: Primer, c: GenerationControls): Primer {
  if (vocab.config.scheme !== 'remi' || (!c.timeSignature && c.bpm === undefined && !c.programs)) return primer;
  if (primer.source === CONTROLS_SOURCE) return primer;
  const had = decodeIds(vocab, primer.ids);
  const meter = lastOfKind(had, 'ts');
  const tempo = lastOfKind(had, 'tempo');
  const program = lastOfKind(had, 'program');
  const bpm = c.bpm === undefined ? undefined : nearestTempo(tempoBins(vocab.config), c.bpm);
  const newMeter = c.timeSignature && !(meter && meter.numerator === c.timeSignature[0] && meter.denominator === c.timeSignature[1]);
  const newTempo = bpm !== undefined && tempo?.bpm !== bpm;
  const newProgram = c.programs && !(program && !program.drum && program.program === c.programs[0]);
  if (!newMeter && !newTempo && !newProgram) return primer;
  const tokens: Token[] = [{ kind: 'bar' }];
  if (newMeter && c.timeSignature) tokens.push({ kind: 'ts', numerator: c.timeSignature[0], denominator: c.timeSignature[1] });
  else if (vocab.config.meterEveryBar) tokens.push(meter ?? { kind: 'ts', numerator: 4, denominator: 4 }); // every bar states its meter
  if (newTempo || newProgram) tokens.push({ kind: 'pos', position: 0 });
  if (newTempo && bpm !== undefined) tokens.push({ kind: 'tempo', bpm });
  if (newProgram && c.programs) tokens.push({ kind: 'program', program: c.programs[0], drum: false });
  // The primer up to its last point where the grammar lets a bar begin (an unfinished note, or a bar still owing its meter, goes).
  const ids = encodeTokens(vocab, tokens, 'error');
  const states = [grammarStart(vocab)];
  for (const id of primer.ids) states.push(states[states.length - 1].after(id));
  let end = primer.ids.length;
  while (end > 1 && !(states[end].allowed()[ids[0]] > 0)) end--;
  return { ...primer, ids: [...primer.ids.slice(0, end), ...ids] };
}
