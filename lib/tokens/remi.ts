/**
 * The `remi` scheme (the default), after REMI (Huang & Yang 2020) and
 * MidiTok's REMI+: every note is its own pitch token; time is given by bar and
 * position-in-bar tokens, so bars and meter are explicit; each note carries a
 * velocity bin and a duration bin; tempo, time-signature and instrument tokens
 * appear where they change. A piece reads
 *
 *     <s> | ts:4/4 p:0 t:120 i:0 n:60 v:5 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:6 … | ts:4/4 p:0 …
 *
 * With `meterEveryBar` (the default) every bar states its meter, as above;
 * without it the time signature is written only where it changes.
 *
 * The vocabulary is fixed by the config (about 500 tokens at the defaults),
 * the same for every corpus, so a model reads any primer without unknown
 * symbols. Decoding gives back each note's pitch, grid onset, duration bin,
 * velocity bin and instrument, and the tempo and meter changes.
 */
import {
  changesInForce,
  DEFAULT_BPM,
  instrumentOf,
  makePiece,
  sameMeter,
  sameTempo,
  withoutOverlaps,
  type Note,
  type Piece,
  type TempoChange,
  type TimeSignature,
} from '../core/piece';
import type { TokenizerConfig } from './config';
import {
  barSteps,
  binVelocity,
  durationBins,
  meters,
  nearestBin,
  nearestMeter,
  nearestTempo,
  tempoBins,
  velocityBin,
  type Meter,
} from './remi-bins';
import { remiGrammar, REMI_NEXT } from './remi-grammar';
import type { DecodeOptions, TokenScheme } from './scheme';
import { lastOfKind, type Token } from './token';

/** A note on the grid, ready to write. */
interface RemiNote {
  readonly pitch: number;
  readonly onset: number;
  readonly duration: number;
  readonly velBin: number;
  readonly program: number;
  readonly drum: boolean;
}

/** Instrument order within a position: programs ascending, drums last. */
const instrumentRank = (n: { program: number; drum: boolean }): number => (n.drum ? 128 : n.program);

function gridNotes(piece: Piece, config: TokenizerConfig): RemiNote[] {
  const spb = config.stepsPerBeat;
  const durs = durationBins(config);
  const seen = new Map<string, RemiNote>();
  for (const n of piece.notes) {
    const { program, drum } = instrumentOf(n, piece);
    const note: RemiNote = {
      pitch: n.pitch,
      onset: Math.max(0, Math.round(n.start * spb)),
      duration: nearestBin(durs, n.duration * spb),
      velBin: velocityBin(config, n.velocity),
      program: drum ? 0 : program,
      drum,
    };
    // One note per instrument, pitch and onset: the longest (then the loudest).
    const key = `${instrumentRank(note)}/${note.pitch}/${note.onset}`;
    const was = seen.get(key);
    if (!was || note.duration > was.duration || (note.duration === was.duration && note.velBin > was.velBin)) seen.set(key, note);
  }
  return [...seen.values()].sort((a, b) => a.onset - b.onset || instrumentRank(a) - instrumentRank(b) || a.pitch - b.pitch);
}

function encode(piece: Piece, config: TokenizerConfig): Token[] {
  const notes = gridNotes(piece, config);
  const spb = config.stepsPerBeat;
  const tBins = tempoBins(config);
  // Changes that land in the bin already in force are dropped: they write no token, so they must not end a long silence either.
  const tempos = changesOnly(
    piece.tempos.map((t) => ({ at: Math.max(0, Math.round(t.beat * spb)), bpm: nearestTempo(tBins, t.bpm) })),
    (a, b) => a.bpm === b.bpm,
  );
  const signatures = changesOnly(
    piece.timeSignatures.map((t) => ({
      at: Math.max(0, Math.round(t.beat * spb)),
      meter: nearestMeter(config, [t.numerator, t.denominator]),
    })),
    (a, b) => a.meter[0] === b.meter[0] && a.meter[1] === b.meter[1],
  );
  const tokens: Token[] = [{ kind: 'bos' }];
  if (notes.length === 0) return tokens;
  let meter: Meter = signatures[0]?.meter ?? [4, 4];
  let lastMeter: Meter | null = null;
  let lastTempo = -1;
  let lastInstrument = -1;
  let ni = 0; // next note
  let ti = 0; // next tempo change
  let si = 0; // next time signature
  let cut = 0; // steps removed by shortening long silences
  let barStart = 0;
  while (ni < notes.length) {
    while (si < signatures.length && signatures[si].at - cut <= barStart) meter = signatures[si++].meter;
    const len = barSteps(config, meter);
    const barEnd = barStart + len;
    // A long silence: skip whole empty bars beyond maxEmptyBars, up to the next note, tempo or meter change
    // (so no meter change falls inside the skipped stretch).
    const nextAt = Math.min(notes[ni].onset, ti < tempos.length ? tempos[ti].at : Infinity) - cut;
    const nextMeterAt = si < signatures.length ? signatures[si].at - cut : Infinity;
    const emptyBars = Math.floor((Math.min(nextAt, nextMeterAt) - barStart) / len);
    if (emptyBars > config.maxEmptyBars) cut += (emptyBars - config.maxEmptyBars) * len;
    tokens.push({ kind: 'bar' });
    if (config.meterEveryBar || !lastMeter || lastMeter[0] !== meter[0] || lastMeter[1] !== meter[1])
      tokens.push({ kind: 'ts', numerator: meter[0], denominator: meter[1] });
    lastMeter = meter;
    for (;;) {
      const noteAt = ni < notes.length ? notes[ni].onset - cut : Infinity;
      const tempoAt = ti < tempos.length ? tempos[ti].at - cut : Infinity;
      const at = Math.max(barStart, Math.min(noteAt, tempoAt));
      if (at >= barEnd || at === Infinity) break;
      let bpm = -1;
      while (ti < tempos.length && Math.max(barStart, tempos[ti].at - cut) === at) bpm = tempos[ti++].bpm;
      const here: RemiNote[] = [];
      while (ni < notes.length && Math.max(barStart, notes[ni].onset - cut) === at) here.push(notes[ni++]);
      const tempoChanged = bpm > 0 && bpm !== lastTempo;
      if (!tempoChanged && here.length === 0) continue;
      tokens.push({ kind: 'pos', position: at - barStart });
      if (tempoChanged) {
        tokens.push({ kind: 'tempo', bpm });
        lastTempo = bpm;
      }
      for (const n of here) {
        if (instrumentRank(n) !== lastInstrument) {
          tokens.push({ kind: 'program', program: n.program, drum: n.drum });
          lastInstrument = instrumentRank(n);
        }
        tokens.push({ kind: 'event', pitches: [n.pitch] }, { kind: 'vel', bin: n.velBin }, { kind: 'dur', steps: n.duration });
      }
    }
    barStart = barEnd;
  }
  return tokens;
}

/** The events (in time order) that differ from the one before them. */
function changesOnly<T>(events: readonly T[], same: (a: T, b: T) => boolean): T[] {
  return events.filter((e, i) => i === 0 || !same(events[i - 1], e));
}

/** The decoder's state: where in time it is, and the context the tokens set. */
interface RemiState {
  barStart: number;
  barLength: number;
  bars: number;
  now: number;
  meter: Meter;
  program: number;
  drum: boolean;
}

/** Runs the decoder over tokens, calling `onToken` with the state after each one. */
function walk(tokens: readonly Token[], config: TokenizerConfig, onToken?: (t: Token, s: Readonly<RemiState>) => void): RemiState {
  const s: RemiState = { barStart: 0, barLength: barSteps(config, [4, 4]), bars: 0, now: 0, meter: [4, 4], program: 0, drum: false };
  for (const t of tokens) {
    if (t.kind === 'bar') {
      if (s.bars > 0) s.barStart += s.barLength;
      s.bars++;
      s.now = s.barStart;
    } else if (t.kind === 'ts') {
      s.meter = [t.numerator, t.denominator];
      s.barLength = barSteps(config, s.meter);
    } else if (t.kind === 'pos') {
      s.now = s.barStart + t.position;
    } else if (t.kind === 'program') {
      s.program = t.program;
      s.drum = t.drum;
    }
    onToken?.(t, s);
  }
  return s;
}

function decode(tokens: readonly Token[], config: TokenizerConfig, options: DecodeOptions): Piece {
  const spb = config.stepsPerBeat;
  const notes: Note[] = [];
  const tempos: TempoChange[] = [];
  const signatures: TimeSignature[] = [];
  let pending: { pitch: number; at: number; velocity: number; program: number; drum: boolean } | null = null;
  const finish = (steps: number): void => {
    if (!pending) return;
    const { pitch, at, velocity, program, drum } = pending;
    const note: Note = { pitch, start: at / spb, duration: steps / spb, velocity, program };
    notes.push(drum ? { ...note, drum: true } : note);
    pending = null;
  };
  walk(tokens, config, (t, s) => {
    if (t.kind === 'vel') {
      if (pending) pending.velocity = binVelocity(config, t.bin);
      return;
    }
    if (t.kind === 'dur') {
      finish(t.steps);
      return;
    }
    finish(spb); // a note whose duration never came lasts a beat
    if (t.kind === 'event') pending = { pitch: t.pitches[0], at: s.now, velocity: config.velocity, program: s.program, drum: s.drum };
    else if (t.kind === 'tempo') tempos.push({ beat: s.now / spb, bpm: t.bpm });
    else if (t.kind === 'ts') signatures.push({ beat: s.barStart / spb, numerator: t.numerator, denominator: t.denominator });
  });
  finish(spb);
  const first = notes.find((n) => !n.drum);
  const meter = options.timeSignature;
  return makePiece(options.name ?? 'generated', withoutOverlaps(notes), {
    tempos:
      options.bpm !== undefined
        ? [{ beat: 0, bpm: options.bpm }]
        : changesInForce(tempos, sameTempo, (f) => f ?? { beat: 0, bpm: DEFAULT_BPM }),
    timeSignatures: meter
      ? [{ beat: 0, numerator: meter[0], denominator: meter[1] }]
      : changesInForce(signatures, sameMeter, (f) => f ?? { beat: 0, numerator: 4, denominator: 4 }),
    program: options.program ?? first?.program ?? 0,
  });
}

/**
 * An excerpt from a bar on (the last at or before `from`), with the context
 * it needs in front: the start token, the meter and tempo in force at its
 * first bar, and its instrument before the first note when no program token
 * comes before it. It opens as an encoded piece does (`| ts p:0 t`), so it
 * keeps the grammar (./remi-grammar).
 */
function excerpt(tokens: readonly Token[], from: number, to: number): Token[] {
  // The last bar at or before `from` (so the excerpt has at least to − from tokens).
  let start = Math.min(from, to - 1);
  while (start > 0 && tokens[start].kind !== 'bar') start--;
  if (start <= 0) return tokens.slice(0, to);
  const before = tokens.slice(0, start);
  const ts = lastOfKind(before, 'ts');
  const tempo = lastOfKind(before, 'tempo');
  const program = lastOfKind(before, 'program');
  const body = tokens.slice(start, to);
  // The excerpt's first bar (body[0]) opens with the context: its meter, then its tempo at position 0.
  const out: Token[] = [{ kind: 'bos' }, { kind: 'bar' }];
  let i = 1;
  if (body[i]?.kind === 'ts') out.push(body[i++]);
  else if (ts) out.push(ts);
  if (tempo) {
    // The tempo at position 0: the bar's own when it has one there, else the one in force (one p:0 either way).
    const first = body[i];
    if (first?.kind === 'pos' && first.position === 0) {
      out.push(first);
      i++;
      if (body[i]?.kind !== 'tempo') out.push(tempo);
    } else out.push({ kind: 'pos', position: 0 }, tempo);
  }
  out.push(...body.slice(i));
  const firstNote = out.findIndex((t) => t.kind === 'event');
  if (program && firstNote >= 0 && !out.slice(0, firstNote).some((t) => t.kind === 'program')) out.splice(firstNote, 0, program);
  return out;
}

/** Every token of the vocabulary under `config`. */
function fixedVocabulary(config: TokenizerConfig): Token[] {
  const out: Token[] = [{ kind: 'bos' }, { kind: 'bar' }];
  for (const [numerator, denominator] of meters(config)) out.push({ kind: 'ts', numerator, denominator });
  const positions = Math.max(...meters(config).map((m) => barSteps(config, m)));
  for (let p = 0; p < positions; p++) out.push({ kind: 'pos', position: p });
  for (const bpm of tempoBins(config)) out.push({ kind: 'tempo', bpm });
  for (let program = 0; program < 128; program++) out.push({ kind: 'program', program, drum: false });
  out.push({ kind: 'program', program: 0, drum: true });
  for (let pitch = 0; pitch < 128; pitch++) out.push({ kind: 'event', pitches: [pitch] });
  for (let bin = 0; bin < config.velocityBins; bin++) out.push({ kind: 'vel', bin });
  for (const steps of durationBins(config)) out.push({ kind: 'dur', steps });
  return out;
}

export const remiScheme: TokenScheme = {
  name: 'remi',
  encode,
  decode,
  mayFollow: (prev, next) => REMI_NEXT[prev.kind].includes(next.kind),
  grammar: remiGrammar,
  canStartAt: (t) => t.kind === 'bar',
  excerpt,
  needsMore: (t) => t.kind === 'event' || t.kind === 'vel' || t.kind === 'program' || t.kind === 'bos',
  beatsAfter: (tokens, config) => walk(tokens, config).now / config.stepsPerBeat,
  fixedVocabulary,
};
