/**
 * The grammar of the `remi` scheme: which kind of token may follow which
 * ({@link REMI_NEXT}, the prev-token rule), and a state machine over token ids
 * ({@link remiGrammar}) that holds generation to everything else the encoder
 * (./remi) guarantees:
 *
 * - the first bar opens with a time signature, and the piece's first position
 *   is `p:0` with a tempo (every piece has a tempo at beat 0);
 * - within a bar, one position token per onset, positions strictly increasing
 *   and below the bar's length in steps under the meter in force;
 * - a position carries at least a tempo change or a note;
 * - with `meterEveryBar`, a time signature right after every bar; without it,
 *   a time signature only where it changes (never the one in force);
 * - a tempo token only where it changes (never the one in force);
 * - an instrument token before the first note and only where the instrument
 *   changes; at one position, instruments ascend (programs, drums last) and an
 *   instrument's pitches strictly ascend (so no note comes twice);
 * - at most `maxEmptyBars` empty bars in a row (a bar with a meter change
 *   starts a new count), as the encoder shortens longer silences.
 *
 * A sequence that keeps these rules decodes and re-encodes to itself, except
 * for a note that a later note of its pitch and instrument cuts short (the
 * decoder ends it there; the encoder writes such overlaps, so they are allowed).
 */
import type { TokenizerConfig } from './config';
import { barSteps } from './remi-bins';
import type { GrammarState } from './scheme';
import type { Token } from './token';

/** What may follow each kind of token. */
export const REMI_NEXT: Readonly<Record<Token['kind'], readonly Token['kind'][]>> = {
  bos: ['bar'],
  bar: ['ts', 'pos', 'bar'],
  ts: ['pos', 'bar'],
  pos: ['tempo', 'program', 'event'],
  tempo: ['program', 'event', 'pos', 'bar'],
  program: ['event'],
  event: ['vel'],
  vel: ['dur'],
  dur: ['program', 'event', 'pos', 'bar'],
  shift: [],
};

const KINDS = Object.keys(REMI_NEXT) as Token['kind'][];
const K = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<Token['kind'], number>;
/** The kind index before any token. */
const NONE = KINDS.length;

/** What the state machine precomputes once per vocabulary. */
interface Tables {
  readonly size: number;
  /** Kind index of each id. */
  readonly kind: Uint8Array;
  /** Each id's value: position (pos), pitch (event), instrument rank (program: program, drums 128), bar steps (ts). */
  readonly value: Int32Array;
  /** The prev-token mask after each kind index (NONE: before any token, only `<s>`). */
  readonly base: readonly Float32Array[];
  /** Ids by value (−1 where the vocabulary lacks it): positions, pitches, instrument ranks. */
  readonly posIds: Int32Array;
  readonly pitchIds: Int32Array;
  readonly rankIds: Int32Array;
  /** Masks of one kind only. */
  readonly onlyTs: Float32Array;
  readonly onlyTempo: Float32Array;
  readonly onlyFirstPos: Float32Array;
  readonly barId: number;
  readonly maxEmptyBars: number;
  readonly meterEveryBar: boolean;
}

function tables(tokens: readonly Token[], config: TokenizerConfig): Tables {
  const size = tokens.length;
  const kind = Uint8Array.from(tokens, (t) => K[t.kind]);
  const value = Int32Array.from(tokens, (t) => {
    switch (t.kind) {
      case 'pos':
        return t.position;
      case 'event':
        return t.pitches[0];
      case 'program':
        return t.drum ? 128 : t.program;
      case 'ts':
        return barSteps(config, [t.numerator, t.denominator]);
      default:
        return 0;
    }
  });
  const byValue = (k: number, length: number): Int32Array => {
    const ids = new Int32Array(length).fill(-1);
    for (let id = 0; id < size; id++) if (kind[id] === k && value[id] >= 0 && value[id] < length) ids[value[id]] = id;
    return ids;
  };
  const maskOf = (ok: (id: number) => boolean): Float32Array => Float32Array.from({ length: size }, (_, id) => (ok(id) ? 1 : 0));
  const base = KINDS.map((prev) => maskOf((id) => REMI_NEXT[prev].includes(KINDS[kind[id]])));
  base.push(maskOf((id) => kind[id] === K.bos));
  let maxPos = 0;
  for (let id = 0; id < size; id++) if (kind[id] === K.pos) maxPos = Math.max(maxPos, value[id] + 1);
  return {
    size,
    kind,
    value,
    base,
    posIds: byValue(K.pos, maxPos),
    pitchIds: byValue(K.event, 128),
    rankIds: byValue(K.program, 129),
    onlyTs: maskOf((id) => kind[id] === K.ts),
    onlyTempo: maskOf((id) => kind[id] === K.tempo),
    onlyFirstPos: maskOf((id) => kind[id] === K.pos && value[id] === 0),
    barId: tokens.findIndex((t) => t.kind === 'bar'),
    maxEmptyBars: config.maxEmptyBars,
    meterEveryBar: config.meterEveryBar,
  };
}

/** Where a remi sequence is: what the rules need of the tokens so far. */
interface Where {
  /** Kind index of the last token (NONE before any). */
  readonly prev: number;
  /** Id of the time-signature token in force (−1: none yet). */
  readonly meter: number;
  /** Bar length in steps under that meter (4/4 until one is given, as the decoder reads it). */
  readonly barLength: number;
  /** Bars opened so far. */
  readonly bars: number;
  /** Whether the current bar has a position yet. */
  readonly filled: boolean;
  /** Empty bars closed in a row since the last one with a position or a meter change. */
  readonly quiet: number;
  /** Last position in the current bar (−1: none yet). */
  readonly position: number;
  /** Id of the tempo token in force (−1: none yet). */
  readonly tempo: number;
  /** Instrument rank in force (program, drums 128; −1: none yet). */
  readonly rank: number;
  /** Last pitch of that instrument at the current position (−1: none yet). */
  readonly pitch: number;
}

class RemiGrammarState implements GrammarState {
  private mask: Float32Array | null = null;

  constructor(
    private readonly t: Tables,
    private readonly w: Where,
  ) {}

  allowed(): Float32Array {
    this.mask ??= this.computeMask();
    return this.mask;
  }

  private computeMask(): Float32Array {
    const { t, w } = this;
    const base = t.base[w.prev];
    // The opening: a meter, then p:0 and a tempo (a sequence that lacks them gets them wherever it is).
    if (w.prev === K.bar && (w.meter < 0 || t.meterEveryBar)) return t.onlyTs;
    if (w.tempo < 0 && (w.prev === K.bar || w.prev === K.ts)) return t.onlyFirstPos;
    if (w.tempo < 0 && w.prev === K.pos) return t.onlyTempo;
    const m = base.slice();
    const zero = (id: number): void => {
      if (id >= 0) m[id] = 0;
    };
    if (base[t.barId] > 0 && !w.filled && w.quiet + 1 > t.maxEmptyBars) zero(t.barId);
    if (w.meter >= 0 && !t.meterEveryBar) zero(w.meter);
    if (w.tempo >= 0) zero(w.tempo);
    if (w.prev === K.bar || w.prev === K.ts || w.prev === K.tempo || w.prev === K.dur) {
      // Positions after the last one of the bar, and inside it.
      const end = Math.min(t.posIds.length, w.position + 1);
      for (let p = 0; p < end; p++) zero(t.posIds[p]);
      for (let p = Math.max(0, w.barLength); p < t.posIds.length; p++) zero(t.posIds[p]);
    }
    if (w.prev === K.dur) {
      // Another note at this position: a higher pitch of this instrument, or a later instrument.
      for (let r = 0; r <= Math.min(w.rank, 128); r++) zero(t.rankIds[r]);
      for (let p = 0; p <= Math.min(w.pitch, 127); p++) zero(t.pitchIds[p]);
    } else if (w.rank >= 0 && w.rank <= 128) {
      zero(t.rankIds[w.rank]);
    }
    if (w.rank < 0 && w.prev !== K.program) for (let p = 0; p < 128; p++) zero(t.pitchIds[p]);
    return m.some((v) => v > 0) ? m : base;
  }

  after(id: number): GrammarState {
    const { t, w } = this;
    const kind = t.kind[id];
    const v = t.value[id];
    let next: Where;
    switch (kind) {
      case K.bar:
        next = { ...w, bars: w.bars + 1, quiet: w.bars === 0 || w.filled ? 0 : w.quiet + 1, filled: false, position: -1, pitch: -1 };
        break;
      case K.ts:
        next = { ...w, meter: id, barLength: v, quiet: id === w.meter ? w.quiet : 0 };
        break;
      case K.pos:
        next = { ...w, filled: true, position: v, pitch: -1 };
        break;
      case K.tempo:
        next = { ...w, tempo: id };
        break;
      case K.program:
        next = { ...w, rank: v, pitch: -1 };
        break;
      case K.event:
        next = { ...w, pitch: v, rank: w.rank < 0 ? 0 : w.rank };
        break;
      default:
        next = w;
    }
    return new RemiGrammarState(t, next.prev === kind ? next : { ...next, prev: kind });
  }
}

/** Tables already built, per vocabulary (its token list) and config. */
const TABLES = new WeakMap<readonly Token[], { readonly config: TokenizerConfig; readonly tables: Tables }>();

/** The remi grammar over the ids of `tokens` (a remi vocabulary), before any token (see the rules above). */
export function remiGrammar(tokens: readonly Token[], config: TokenizerConfig): GrammarState {
  const cached = TABLES.get(tokens);
  const t = cached?.config === config ? cached.tables : tables(tokens, config);
  if (cached?.tables !== t) TABLES.set(tokens, { config, tables: t });
  const meter44 = barSteps(config, [4, 4]);
  return new RemiGrammarState(t, {
    prev: NONE,
    meter: -1,
    barLength: meter44,
    bars: 0,
    filled: false,
    quiet: 0,
    position: -1,
    tempo: -1,
    rank: -1,
    pitch: -1,
  });
}
