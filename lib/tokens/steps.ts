/**
 * Steps: a remi token sequence cut into groups, one per note (and one per
 * bar with its meter, and the start token), so that a model's LSTM can
 * advance once per note instead of once per token while keeping remi's
 * tokens, vocabulary and grammar. A piece
 *
 *     <s> | ts:4/4 p:0 t:120 i:0 n:60 v:5 d:12 n:64 v:4 d:12 p:12 n:62 v:5 d:6 …
 *
 * reads as the steps `<s>` · `| ts:4/4` · `p:0 t:120 i:0 n:60 v:5 d:12` ·
 * `n:64 v:4 d:12` · `p:12 n:62 v:5 d:6` · … (a chord's later notes share the
 * position in force and carry no position token). Positions that carry only
 * a tempo change join the group that follows them (`p:35 t:73 | ts:3/4`).
 *
 * With each step goes a look-back, as Magenta's Lookback RNN gives its LSTM
 * so that it can repeat bars: what one and two bars earlier came next from
 * the same place in the bar (the position, pitch and duration tokens of that
 * bar's next note at or after the position in force), and whether the bar so
 * far repeats those bars note for note. Only remi vocabularies that write the
 * meter after every bar are supported: there a bar's step always ends at its
 * time signature.
 *
 * With `copy`, a note that is its look-back note again (same position, pitch
 * and duration, no tempo or program token of its own) is written as one copy
 * id and its velocity: `copy:1 v:5` for `p:12 n:62 v:5 d:6` when bar −1 played
 * `p:12 n:62 d:6` from there (bar −1 is preferred to bar −2). These are
 * Magenta's Lookback RNN's "repeat the event of 1 or 2 bars ago" labels: a
 * repeated bar costs the model one decision per note instead of spelling it
 * again. The copy ids follow the vocabulary's (V, V + 1); the coding is
 * canonical, so a piece has one code and back (`expand`) gives its tokens.
 */
import type { Token } from './token';
import type { Vocabulary } from './vocabulary';

/**
 * Token slots of one step; a longer group is split. A note's group has at most 7 tokens (pos tempo pos program pitch vel
 * dur) unless several tempo-only positions precede it (tempo ramps: 112 of piano-midi's 843,529 steps are split).
 */
export const STEP_SLOTS = 8;
/** Look-back token slots: for 1 and 2 bars back, the pos, pitch (event) and dur tokens of that bar's next note from the same place (see {@link stepReader}). */
export const LOOKBACK_SLOTS = 6;
/** Look-back flags: the current bar so far repeats bar −1 / bar −2. */
export const LOOKBACK_FLAGS = 2;

/** Bars a copy id can copy from: 1 and 2 bars back. */
export const COPY_BACKS = 2;

/** How a piece is cut into steps: with the look-back (else it is left empty), and with copy ids (which need the look-back). */
export interface StepOptions {
  readonly lookback: boolean;
  readonly copy: boolean;
}

/** The look-back, no copy ids: steps as the first note-family models read them. */
const DEFAULT_STEP_OPTIONS: StepOptions = { lookback: true, copy: false };

/** Ids a step's head chooses among: the vocabulary's V tokens, then the {@link COPY_BACKS} copy ids when `copy`. */
export function codeSize(vocab: Vocabulary, options: StepOptions = DEFAULT_STEP_OPTIONS): number {
  return vocab.tokens.length + (options.copy ? COPY_BACKS : 0);
}

/** The id used for an empty slot (a padded group slot, a look-back note that does not exist): {@link codeSize}. */
export function padId(vocab: Vocabulary, options: StepOptions = DEFAULT_STEP_OPTIONS): number {
  return codeSize(vocab, options);
}

/** The id a step head starts from before it emits a group's first token: {@link codeSize} + 1 (so embeddings have codeSize + 2 rows). */
export function startId(vocab: Vocabulary, options: StepOptions = DEFAULT_STEP_OPTIONS): number {
  return codeSize(vocab, options) + 1;
}

/** The copy id of bar −`back` (1 or 2): V + back − 1. */
export function copyId(vocab: Vocabulary, back: number): number {
  return vocab.tokens.length + back - 1;
}

/** Which bar back a copy id copies from (1 or 2), or 0 for any other id. */
export function copyBack(vocab: Vocabulary, id: number): number {
  const back = id - vocab.tokens.length + 1;
  return back >= 1 && back <= COPY_BACKS ? back : 0;
}

/** Whether a token ends its step: bos (the piece starts), dur (a note is complete), ts (a bar and its meter). */
export function endsStep(t: Token): boolean {
  return t.kind === 'bos' || t.kind === 'dur' || t.kind === 'ts';
}

/** A token sequence cut into steps (groups of consecutive tokens, each ending at a token that {@link endsStep}, or at {@link STEP_SLOTS} tokens, or at the end of the sequence). */
export interface Steps {
  /** S, the number of steps. */
  readonly count: number;
  /** S × STEP_SLOTS ids, each group padded with {@link padId}: the group's tokens, or its copy id and velocity. */
  readonly groups: Int32Array;
  /** S: ids in each group. */
  readonly lengths: Int32Array;
  /** S: index in the token sequence where each group starts. */
  readonly starts: Int32Array;
  /** S: tokens of the sequence each group stands for (its length, unless it is a copy). */
  readonly spans: Int32Array;
  /** S × LOOKBACK_SLOTS ids ({@link padId} where there is no such note), describing the context after reading group s (used to predict group s + 1). */
  readonly lookback: Int32Array;
  /** S × LOOKBACK_FLAGS (0/1), likewise after group s. */
  readonly flags: Float32Array;
}

/** What a copy id stands for at the place in force: its tokens before the velocity (pos if it moves, pitch) and its dur. */
export interface CopiedNote {
  readonly before: readonly number[];
  readonly dur: number;
}

/** Incremental: the same look-back as {@link toSteps}, one group at a time (for generation). */
export interface StepReader {
  /** Reads one complete group of token ids; returns its look-back slots and flags (new arrays). Throws a RangeError on an id outside the vocabulary. */
  readonly read: (group: readonly number[]) => { readonly lookback: Int32Array; readonly flags: Float32Array };
  /** What the copy id of bar −`back` would write next (null: that bar has no note to copy from here, or the reader has no look-back). */
  readonly copyOf: (back: number) => CopiedNote | null;
  /** The next group's code: its copy id and velocity if it is a look-back note again (and the reader copies), else the group itself. */
  readonly encode: (group: readonly number[]) => number[];
  /** The tokens the next group's code stands for (the inverse of encode). Throws a RangeError for a copy id with nothing to copy. */
  readonly expand: (code: readonly number[]) => number[];
}

/** Token kinds as the reader tells them apart (0: any other). */
const BOS = 1;
const BAR = 2;
const POS = 3;
const PITCH = 4;
const DUR = 5;
const VEL = 6;

/** Each id's kind; throws a RangeError when the vocabulary is not remi with the meter after every bar. */
function kindsOf(vocab: Vocabulary): Uint8Array {
  const { scheme, meterEveryBar } = vocab.config;
  if (scheme !== 'remi') throw new RangeError(`steps need a remi vocabulary (got the "${scheme}" scheme)`);
  if (!meterEveryBar)
    throw new RangeError("steps need a remi vocabulary with meterEveryBar (a time signature after every bar ends the bar's step)");
  const of: Partial<Record<Token['kind'], number>> = { bos: BOS, bar: BAR, pos: POS, event: PITCH, dur: DUR, vel: VEL };
  return Uint8Array.from(vocab.tokens, (t) => of[t.kind] ?? 0);
}

/**
 * A reader of groups that tracks bars and, in each, its notes in order as
 * (pos in force, pitch, dur) ids; only the current bar and the two before it
 * are kept. A `bar` token starts a new bar (notes before the first bar belong
 * to bar 0); `<s>` starts a new piece, with no bars before it. A note is
 * counted at its dur token when a pitch came since the last note; its pos is
 * the last pos token read in the bar (padId when none).
 *
 * The look-back is aligned by position, not by note index, so that a chord
 * in one bar does not shift what the other bars are compared with: when the
 * current bar has c notes at the position p in force, the look-back note of
 * bar −k is its (c+1)-th note at p, or else its first note after p (none: pad).
 * Before any position in the bar, that is bar −k's first note. The flags say
 * whether the current bar's notes so far equal bar −k's first ones.
 *
 * With `options.lookback` false every step's look-back is empty (padId) and
 * its flags 0: a model trained so, to measure what the look-back brings.
 * With `options.copy` the reader also codes groups as copies (see the file
 * comment). Throws a RangeError for copy without the look-back.
 */
export function stepReader(vocab: Vocabulary, options: StepOptions = DEFAULT_STEP_OPTIONS): StepReader {
  const kinds = kindsOf(vocab);
  if (options.copy && !options.lookback) throw new RangeError('copy ids need the look-back (they copy its notes)');
  const V = vocab.tokens.length;
  const pad = padId(vocab, options);
  /** Each id's position in the bar (pos tokens), −1 for the others and for pad (no position yet). */
  const place = Int32Array.from({ length: pad + 1 }, (_, id) => {
    const t = vocab.tokens[id];
    return t !== undefined && t.kind === 'pos' ? t.position : -1;
  });
  /** Notes of the current bar and of 1 and 2 bars back, flat (pos, pitch, dur: note n at 3n); null: no such bar. */
  let bars: [number[], number[] | null, number[] | null] = [[], null, null];
  /** Whether the current bar's notes so far equal the first ones of bar −1 / bar −2. */
  const same = [true, true];
  let pos = pad;
  let pitch = -1;
  /** The look-back after the last group read: what a copy id copies. */
  let ahead = new Int32Array(LOOKBACK_SLOTS).fill(pad);
  const velocities = kinds.includes(VEL);
  const newBar = (piece: boolean): void => {
    bars = piece ? [[], null, null] : [[], bars[0], bars[1]];
    same[0] = same[1] = true;
    pos = pad;
    pitch = -1;
  };
  const addNote = (dur: number): void => {
    const cur = bars[0];
    const i = cur.length;
    cur.push(pos, pitch, dur);
    for (const k of [1, 2] as const) {
      const back = bars[k];
      same[k - 1] = same[k - 1] && back !== null && back.length > i && back[i] === pos && back[i + 1] === pitch && back[i + 2] === dur;
    }
    pitch = -1;
  };
  /** Where bar −k's next note from the current place starts in its flat list, or −1. */
  const nextFrom = (back: readonly number[]): number => {
    const p = place[pos];
    let c = 0;
    for (let i = bars[0].length - 3; i >= 0 && bars[0][i] === pos; i -= 3) c++;
    for (let i = 0; i < back.length; i += 3) {
      const q = place[back[i]];
      if (q > p || (q === p && c-- === 0)) return i;
    }
    return -1;
  };
  const read = (group: readonly number[]): { lookback: Int32Array; flags: Float32Array } => {
    for (const id of group) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} is outside the vocabulary (size ${V})`);
      const kind = kinds[id];
      if (kind === BOS || kind === BAR) newBar(kind === BOS);
      else if (kind === POS) pos = id;
      else if (kind === PITCH) pitch = id;
      else if (kind === DUR && pitch >= 0) addNote(id);
    }
    const lookback = new Int32Array(LOOKBACK_SLOTS).fill(pad);
    const flags = new Float32Array(LOOKBACK_FLAGS);
    const n = bars[0].length;
    for (const k of [1, 2] as const) {
      const back = bars[k];
      if (back === null) continue;
      const i = nextFrom(back);
      if (i >= 0) lookback.set(back.slice(i, i + 3), 3 * (k - 1));
      flags[k - 1] = n > 0 && same[k - 1] ? 1 : 0;
    }
    if (options.lookback) ahead = lookback;
    return options.lookback
      ? { lookback, flags }
      : { lookback: new Int32Array(LOOKBACK_SLOTS).fill(pad), flags: new Float32Array(LOOKBACK_FLAGS) };
  };
  const copyOf = (back: number): CopiedNote | null => {
    if (!options.copy || back < 1 || back > COPY_BACKS) return null;
    const [p, pitch, dur] = ahead.subarray(3 * (back - 1), 3 * back);
    if (pitch === pad) return null;
    return { before: p === pos ? [pitch] : [p, pitch], dur };
  };
  /** The velocity tokens of a note's group between its pitch and dur: one if the vocabulary has them, else none. */
  const middle = (group: readonly number[], from: number): boolean =>
    group.length - 1 - from === (velocities ? 1 : 0) && (!velocities || kinds[group[from]] === VEL);
  const encode = (group: readonly number[]): number[] => {
    for (let back = 1; back <= COPY_BACKS; back++) {
      const c = copyOf(back);
      if (c === null || group[group.length - 1] !== c.dur || !c.before.every((id, i) => group[i] === id)) continue;
      if (middle(group, c.before.length)) return [copyId(vocab, back), ...group.slice(c.before.length, -1)];
    }
    return [...group];
  };
  const expand = (code: readonly number[]): number[] => {
    const back = code.length > 0 ? copyBack(vocab, code[0]) : 0;
    if (back === 0 || !options.copy) return [...code];
    const c = copyOf(back);
    if (c === null) throw new RangeError(`copy:${back} has no note of bar −${back} to copy here`);
    return [...c.before, ...code.slice(1), c.dur];
  };
  return { read, copyOf, encode, expand };
}

/** Cuts token ids into steps, codes them (copies, with `options.copy`) and computes each step's look-back (with {@link stepReader}, so the two agree). */
export function toSteps(vocab: Vocabulary, ids: ArrayLike<number>, options: StepOptions = DEFAULT_STEP_OPTIONS): Steps {
  const reader = stepReader(vocab, options);
  const pad = padId(vocab, options);
  const ends = Uint8Array.from(vocab.tokens, (t) => (endsStep(t) ? 1 : 0));
  // Group boundaries first (so the arrays are allocated once).
  const startList: number[] = [];
  for (let i = 0, len = 0; i < ids.length; i++) {
    if (len === 0) startList.push(i);
    len++;
    if (ends[ids[i]] === 1 || len === STEP_SLOTS) len = 0;
  }
  const count = startList.length;
  const groups = new Int32Array(count * STEP_SLOTS).fill(pad);
  const lengths = new Int32Array(count);
  const starts = Int32Array.from(startList);
  const spans = new Int32Array(count);
  const lookback = new Int32Array(count * LOOKBACK_SLOTS);
  const flags = new Float32Array(count * LOOKBACK_FLAGS);
  for (let s = 0; s < count; s++) {
    const end = s + 1 < count ? starts[s + 1] : ids.length;
    const group: number[] = [];
    for (let i = starts[s]; i < end; i++) group.push(ids[i]);
    const code = options.copy ? reader.encode(group) : group;
    const after = reader.read(group);
    groups.set(code, s * STEP_SLOTS);
    lengths[s] = code.length;
    spans[s] = group.length;
    lookback.set(after.lookback, s * LOOKBACK_SLOTS);
    flags.set(after.flags, s * LOOKBACK_FLAGS);
  }
  return { count, groups, lengths, starts, spans, lookback, flags };
}
