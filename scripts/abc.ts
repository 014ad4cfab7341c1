/**
 * A small, strict parser for the subset of ABC notation used by the project's
 * own corpus (data/abc/*.abc), and its conversion to a {@link Piece}.
 *
 * Supported: headers X T M L Q K (keys with modes, e.g. `Ador`, `Edor`, `Gmix`,
 * `F#m`), body field lines and inline fields `[K:..]` for K/M/L/Q; notes with
 * accidentals `^ ^^ _ __ =` and octave marks `' ,`; lengths (`2`, `/2`, `3/2`,
 * `/`, `//`); rests `z x`; note chords `[CEG]`; broken rhythm `> <`; tuplets
 * `(3abc` and `(p:q:r`; ties `-`; bars, repeats `|: :| ::`, endings `[1 |2`;
 * chord symbols `"Am"` (rendered as block chords); decorations, slurs, grace
 * notes and annotations are skipped. Repeats are unrolled so the result plays
 * the whole form. A tune's rhythm is checked bar by bar and problems are
 * reported as warnings (see {@link AbcTune.warnings}).
 */
import { UserError } from '../lib/core/errors';
import { makePiece, type Note, type Piece, type TimeSignature } from '../lib/core/piece';

/** One melody note of a parsed tune, in beats (quarter notes). */
export interface AbcNote {
  readonly pitch: number;
  readonly start: number;
  readonly duration: number;
}

/** One chord symbol of a parsed tune, held until the next symbol or the end. */
export interface AbcChord {
  readonly symbol: string;
  readonly pitches: readonly number[];
  readonly start: number;
  readonly duration: number;
}

/** A parsed and unrolled tune. */
export interface AbcTune {
  readonly file: string;
  /** Line (1-based) of the tune's X: field. */
  readonly line: number;
  readonly x: string;
  readonly title: string;
  /** Header fields by letter (the first value of each, e.g. `R` type, `O` origin, `C` composer, `S` source). */
  readonly fields: Readonly<Record<string, string>>;
  /** Quarter notes per minute. */
  readonly bpm: number;
  readonly timeSignatures: readonly TimeSignature[];
  /** Melody notes (repeats unrolled, ties merged), sorted by start. */
  readonly notes: readonly AbcNote[];
  readonly chords: readonly AbcChord[];
  /** Length in beats: the end of the last note or rest. */
  readonly lengthBeats: number;
  /** Rhythm problems (bars too long or short, bars off the bar grid after unrolling). */
  readonly warnings: readonly string[];
}

/** Options of {@link parseAbc}. */
export interface AbcParseOptions {
  /** Lowest MIDI pitch of a block chord's root (the root lies in [low, low + 12)). */
  readonly chordRootLow: number;
  /** Tempo when a tune has no Q: field, in quarter notes per minute. */
  readonly defaultBpm: number;
}

export const DEFAULT_ABC_PARSE_OPTIONS: AbcParseOptions = { chordRootLow: 40, defaultBpm: 120 };

/** Options of {@link abcTuneToPiece}. */
export interface AbcRenderOptions {
  readonly melodyVelocity: number;
  readonly chordVelocity: number;
  /** General-MIDI program of the piece. */
  readonly program: number;
}

export const DEFAULT_ABC_RENDER_OPTIONS: AbcRenderOptions = { melodyVelocity: 90, chordVelocity: 60, program: 0 };

/** Ticks per whole note used internally (exact for lengths down to 1/256 and tuplets of 3, 5 and 9). */
const TPW = 23040;
const LETTER_PC: Readonly<Record<string, number>> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
const MAJOR_SHARPS: Readonly<Record<string, number>> = {
  C: 0,
  G: 1,
  D: 2,
  A: 3,
  E: 4,
  B: 5,
  'F#': 6,
  'C#': 7,
  F: -1,
  Bb: -2,
  Eb: -3,
  Ab: -4,
  Db: -5,
  Gb: -6,
  Cb: -7,
};
const MODE_SHIFT: Readonly<Record<string, number>> = {
  maj: 0,
  ion: 0,
  mix: -1,
  dor: -2,
  m: -3,
  min: -3,
  aeo: -3,
  phr: -4,
  loc: -5,
  lyd: 1,
};
const CHORD_QUALITY: Readonly<Record<string, readonly number[]>> = {
  '': [0, 4, 7],
  m: [0, 3, 7],
  min: [0, 3, 7],
  '7': [0, 4, 7, 10],
  m7: [0, 3, 7, 10],
  maj7: [0, 4, 7, 11],
  M7: [0, 4, 7, 11],
  '6': [0, 4, 7, 9],
  m6: [0, 3, 7, 9],
  dim: [0, 3, 6],
  dim7: [0, 3, 6, 9],
  m7b5: [0, 3, 6, 10],
  aug: [0, 4, 8],
  '+': [0, 4, 8],
  sus4: [0, 5, 7],
  sus: [0, 5, 7],
  sus2: [0, 2, 7],
  '7sus4': [0, 5, 7, 10],
  '9': [0, 4, 7, 10, 14],
};

/**
 * Key signature of a K: value as an alteration (in semitones) per note letter,
 * or undefined when the key is not understood. `none`, `HP` and an empty value mean C.
 */
export function keySignature(key: string): Record<string, number> | undefined {
  const words = key
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '' && !w.includes('='));
  const text = words.join('');
  const acc: Record<string, number> = { C: 0, D: 0, E: 0, F: 0, G: 0, A: 0, B: 0 };
  if (text === '' || /^(none|HP|Hp)$/.test(text)) return acc;
  const m = /^([A-G])([#b]?)([A-Za-z]*)$/.exec(text);
  if (!m) return undefined;
  const modeWord = m[3].toLowerCase();
  const mode = modeWord === '' ? 'maj' : modeWord === 'm' ? 'm' : modeWord.slice(0, 3);
  const base = MAJOR_SHARPS[m[1] + m[2]];
  const shift = MODE_SHIFT[mode];
  if (base === undefined || shift === undefined) return undefined;
  const sharps = base + shift;
  if (sharps > 7 || sharps < -7) return undefined;
  for (let i = 0; i < Math.abs(sharps); i++) acc[(sharps > 0 ? 'FCGDAEB' : 'BEADGCF')[i]] = Math.sign(sharps);
  return acc;
}

/** MIDI pitches of a chord symbol such as `G`, `D7`, `F#m`, `Bbmaj7`, `G/B`; undefined when not understood. */
export function chordPitches(symbol: string, rootLow = DEFAULT_ABC_PARSE_OPTIONS.chordRootLow): number[] | undefined {
  const m = /^([A-G])([#b]?)([^/]*)(?:\/([A-G])([#b]?))?$/.exec(symbol.trim());
  const quality = m ? CHORD_QUALITY[m[3]] : undefined;
  if (!m || !quality) return undefined;
  const pc = (letter: string, acc: string): number => (LETTER_PC[letter] + (acc === '#' ? 1 : acc === 'b' ? -1 : 0) + 12) % 12;
  const root = rootLow + ((pc(m[1], m[2]) - rootLow + 120) % 12);
  const out = quality.map((i) => root + i);
  if (m[4]) {
    let bass = root - 1;
    while ((bass - pc(m[4], m[5]) + 120) % 12 !== 0) bass--;
    out.unshift(bass);
  }
  return out;
}

/** A file-name slug of a title: lower-case ASCII letters and digits joined by dashes. */
export function slugify(title: string): string {
  return (
    title
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/'/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'untitled'
  );
}

interface Ev {
  pitches: number[];
  dur: number;
  tie: boolean;
  chord?: { symbol: string; pitches: number[] };
}
interface Seg {
  evs: Ev[];
  line: number;
  meter: [number, number];
  startRepeat: boolean;
  endRepeat: boolean;
  closes: boolean;
  ending: number[] | null;
}
type Fail = (msg: string) => never;

/** Parses every tune of an ABC text. Throws {@link UserError} naming the file, tune and line on bad input. */
export function parseAbc(text: string, file: string, options: Partial<AbcParseOptions> = {}): AbcTune[] {
  const opts = { ...DEFAULT_ABC_PARSE_OPTIONS, ...options };
  const lines = text.split(/\r?\n/);
  const tunes: AbcTune[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^X:/.test(lines[i])) continue;
    let end = i + 1;
    while (end < lines.length && lines[end].trim() !== '' && !/^X:/.test(lines[end])) end++;
    tunes.push(parseTune(lines.slice(i, end), i + 1, file, opts));
    i = end - 1;
  }
  if (tunes.length === 0) throw new UserError(`${file}: no tunes (no X: line)`);
  return tunes;
}

function parseTune(lines: readonly string[], firstLine: number, file: string, opts: AbcParseOptions): AbcTune {
  const fields: Record<string, string> = {};
  const titles: string[] = [];
  let lineNo = firstLine;
  const fail: Fail = (msg) => {
    const t = titles[0] ?? fields.X ?? '?';
    throw new UserError(`${file}: tune X:${fields.X ?? '?'} "${t}", line ${lineNo}: ${msg}`);
  };
  let h = 0;
  for (; h < lines.length; h++) {
    lineNo = firstLine + h;
    const line = stripComment(lines[h]);
    if (line.trim() === '') continue;
    const m = /^([A-Za-z]):\s*(.*)$/.exec(line);
    if (!m) fail(`expected a header field before K:, got "${line.trim()}"`);
    if (m[1] === 'T') titles.push(m[2].trim());
    if (!(m[1] in fields)) fields[m[1]] = m[2].trim();
    if (m[1] === 'K') break;
  }
  if (!('K' in fields)) fail('missing K: field (it must end the header)');
  if (titles.length === 0 || titles[0] === '') fail('missing T: (title) field');
  const st = new State(fail);
  st.setMeter(fields.M ?? 'C');
  st.setUnit(fields.L);
  st.setKey(fields.K);
  const bpm = fields.Q === undefined ? opts.defaultBpm : parseTempo(fields.Q, fail);
  for (h++; h < lines.length; h++) {
    lineNo = firstLine + h;
    const line = stripComment(lines[h]);
    const field = /^([A-Za-z]):\s*(.*)$/.exec(line);
    if (field) st.field(field[1], field[2]);
    else st.music(line, lineNo, opts.chordRootLow);
  }
  const segs = st.finish();
  if (segs.length === 0) fail('tune has no notes');
  return build(file, firstLine, fields, titles[0], bpm, segs);
}

function stripComment(line: string): string {
  const i = line.search(/(^|[^\\])%/);
  return i < 0 ? line : line.slice(0, i === 0 && line[0] === '%' ? 0 : i + 1);
}

function parseTempo(q: string, fail: Fail): number {
  const m = /^(?:"[^"]*"\s*)?(?:(\d+)\/(\d+)\s*=\s*)?(\d+(?:\.\d+)?)(?:\s*"[^"]*")?$/.exec(q.trim());
  if (!m) fail(`cannot read tempo Q:${q} (use e.g. Q:1/4=120 or Q:3/8=110)`);
  const beat = m[1] ? Number(m[1]) / Number(m[2]) : 0.25;
  const bpm = Number(m[3]) * beat * 4;
  if (!(bpm > 0 && bpm <= 1000)) fail(`tempo out of range in Q:${q}`);
  return bpm;
}

/** The interpreter: turns body text into bar segments, applying key, bar accidentals and lengths. */
class State {
  meter: [number, number] = [4, 4];
  unit = TPW / 8;
  key: Record<string, number> = {};
  barAcc = new Map<string, number>();
  segs: Seg[] = [];
  seg: Seg;
  chord: Ev['chord'] | undefined;
  broken = 1;
  tuplet = { left: 0, p: 1, q: 1 };
  lineNo = 0;
  constructor(readonly fail: Fail) {
    this.seg = this.newSeg(0);
  }
  newSeg(line: number): Seg {
    return { evs: [], line, meter: this.meter, startRepeat: false, endRepeat: false, closes: false, ending: null };
  }
  setMeter(m: string): void {
    const v = m.trim();
    const r = v === 'C' ? [4, 4] : v === 'C|' ? [2, 2] : /^(\d+)\/(\d+)$/.exec(v)?.slice(1).map(Number);
    if (!r || !(r[0] > 0 && r[1] > 0)) this.fail(`cannot read meter M:${m} (use e.g. M:6/8, M:C or M:C|)`);
    this.meter = [r[0], r[1]];
    if (this.seg && this.seg.evs.length === 0) this.seg.meter = this.meter;
  }
  setUnit(l: string | undefined): void {
    if (l === undefined) {
      this.unit = this.meter[0] / this.meter[1] < 0.75 ? TPW / 16 : TPW / 8;
      return;
    }
    const m = /^1\/(\d+)$/.exec(l.trim());
    if (!m || TPW % Number(m[1]) !== 0) this.fail(`cannot read unit length L:${l} (use e.g. L:1/8)`);
    this.unit = TPW / Number(m[1]);
  }
  setKey(k: string): void {
    const acc = keySignature(k);
    if (!acc) this.fail(`unknown key K:${k} (use e.g. K:G, K:Em, K:Ador, K:Dmix)`);
    this.key = acc;
  }
  field(name: string, value: string): void {
    if (name === 'K') this.setKey(value);
    else if (name === 'M') this.setMeter(value);
    else if (name === 'L') this.setUnit(value);
    else if (name === 'V') this.fail('multiple voices (V:) are not supported');
  }
  /** Appends a note, rest or note chord with base length `len` (ticks). */
  push(pitches: number[], len: number, tie: boolean): void {
    let dur = len * this.broken;
    this.broken = 1;
    if (this.tuplet.left > 0) {
      dur = (dur * this.tuplet.q) / this.tuplet.p;
      this.tuplet.left--;
    }
    if (!Number.isInteger(dur) || dur <= 0) this.fail('note length too short or not supported');
    if (this.seg.evs.length === 0) this.seg.line = this.lineNo;
    this.seg.evs.push({ pitches, dur, tie, chord: this.chord });
    this.chord = undefined;
  }
  bar(tok: string, ending: number[] | null, line: number): void {
    const lead = tok === '::' ? 1 : /^:*/.exec(tok)![0].length;
    const trail = tok === '::' ? 1 : /:*$/.exec(tok)![0].length;
    const core = tok.slice(lead, tok.length - trail);
    const cur = this.seg;
    if (lead > 0) cur.endRepeat = true;
    if (/\|\||\[\||\|\]/.test(core) || lead > 0) cur.closes = true;
    this.segs.push(cur);
    this.seg = this.newSeg(line);
    this.seg.startRepeat = trail > 0 || tok === '::';
    this.seg.ending = ending;
    this.barAcc.clear();
  }
  /** Reads one line of music. */
  music(line: string, lineNo: number, rootLow: number): void {
    const fail: Fail = this.fail;
    this.lineNo = lineNo;
    let i = 0;
    const re = (r: RegExp): RegExpExecArray | null => {
      r.lastIndex = i;
      const m = r.exec(line);
      if (m) i += m[0].length;
      return m;
    };
    while (i < line.length) {
      const c = line[i];
      let m: RegExpExecArray | null;
      if (/[\s`\\y~.HLMOPSTuv)$]/.test(c)) i++;
      else if (c === '!' || c === '+') {
        const j = line.indexOf(c, i + 1);
        if (j < 0) fail(`unclosed decoration ${c}`);
        i = j + 1;
      } else if (c === '{') {
        const j = line.indexOf('}', i);
        if (j < 0) fail('unclosed grace notes {');
        i = j + 1;
      } else if (c === '"') {
        const j = line.indexOf('"', i + 1);
        if (j < 0) fail('unclosed chord symbol "');
        const text = line.slice(i + 1, j).trim();
        i = j + 1;
        if (/^[\^_<>@(]/.test(text) || text === '') continue;
        if (/^N\.?C\.?$/.test(text)) this.chord = { symbol: text, pitches: [] };
        else {
          const pitches = chordPitches(text, rootLow);
          if (!pitches) fail(`unknown chord symbol "${text}"`);
          this.chord = { symbol: text, pitches };
        }
      } else if ((m = re(/\[([KMLQ]):([^\]]*)\]/y))) this.field(m[1], m[2]);
      else if ((m = re(/(::)()()(?:\[?(\d+(?:[,-]\d+)*))?/y)) || (m = re(/(:*)(\[\||\|\]|\|+|\[(?=\d))(:*)(?:\[?(\d+(?:[,-]\d+)*))?/y))) {
        const tok = m[1] + m[2] + m[3];
        const ending = m[4] ? m[4].split(',').flatMap((r) => expandRange(r)) : null;
        if (m[2] === '[' && this.seg.evs.length > 0) fail('ending [n must follow a bar line');
        if (m[2] === '[') this.seg.ending = ending;
        else this.bar(tok, ending, lineNo);
      } else if ((m = re(/\((\d)(?::(\d?))?(?::(\d?))?/y))) {
        const p = Number(m[1]);
        const compound = this.meter[0] % 3 === 0 && this.meter[0] > 3;
        const q = m[2] ? Number(m[2]) : (({ 2: 3, 3: 2, 4: 3, 6: 2, 8: 3 } as Record<number, number>)[p] ?? (compound ? 3 : 2));
        this.tuplet = { left: m[3] ? Number(m[3]) : p, p, q };
      } else if (c === '(') i++;
      else if ((m = re(/(>+|<+)/y))) {
        const last = this.seg.evs[this.seg.evs.length - 1];
        if (!last) fail(`broken rhythm ${m[1]} must follow a note in the same bar`);
        const half = 1 / 2 ** m[1].length;
        last.dur = m[1][0] === '>' ? last.dur * (2 - half) : last.dur * half;
        if (!Number.isInteger(last.dur)) fail('broken rhythm gives an unsupported length');
        this.broken = m[1][0] === '>' ? half : 2 - half;
      } else if ((m = re(/[zx](\d*)(\/*)(\d*)/y))) this.push([], this.len(m[1], m[2], m[3]), false);
      else if ((m = re(/Z(\d*)/y))) {
        for (let k = 0; k < Number(m[1] || '1'); k++) {
          this.push([], (TPW * this.meter[0]) / this.meter[1], false);
          if (k + 1 < Number(m[1] || '1')) this.bar('|', null, lineNo);
        }
      } else if (c === '[') {
        i++;
        const pitches: number[] = [];
        let len = 0;
        while ((m = re(/\s*(\^\^|\^|__|_|=)?([A-Ga-g])([',]*)(\d*)(\/*)(\d*)-?/y))) {
          pitches.push(this.pitch(m[1], m[2], m[3]));
          if (len === 0) len = this.len(m[4], m[5], m[6]);
        }
        if (line[i] !== ']' || pitches.length === 0) fail('bad note chord [..] (only notes are allowed inside)');
        i++;
        const suffix = re(/(\d*)(\/*)(\d*)/y)!;
        const tie = re(/-/y) !== null;
        this.push(pitches, (len * this.len(suffix[1], suffix[2], suffix[3])) / this.unit, tie);
      } else if ((m = re(/(\^\^|\^|__|_|=)?([A-Ga-g])([',]*)(\d*)(\/*)(\d*)/y))) {
        const pitch = this.pitch(m[1], m[2], m[3]);
        const len = this.len(m[4], m[5], m[6]);
        this.push([pitch], len, re(/\s*-/y) !== null);
      } else fail(`unexpected character "${c}" at column ${i + 1}`);
    }
  }
  pitch(acc: string | undefined, letter: string, octave: string): number {
    const up = letter.toUpperCase();
    let oct = letter === up ? 0 : 1;
    for (const ch of octave) oct += ch === "'" ? 1 : -1;
    const id = up + oct;
    if (acc !== undefined) this.barAcc.set(id, { '^^': 2, '^': 1, '=': 0, _: -1, __: -2 }[acc]!);
    const alt = this.barAcc.get(id) ?? this.key[up];
    const p = 60 + 12 * oct + LETTER_PC[up] + alt;
    if (p < 0 || p > 127) this.fail(`note ${letter}${octave} is outside the MIDI range`);
    return p;
  }
  len(num: string, slashes: string, den: string): number {
    const n = num === '' ? 1 : Number(num);
    const d = den !== '' ? Number(den) * (slashes.length > 1 ? 2 ** (slashes.length - 1) : 1) : 2 ** slashes.length;
    const t = (this.unit * n) / d;
    if (!Number.isInteger(t) || t <= 0) this.fail(`note length ${num}${slashes}${den} is not supported`);
    return t;
  }
  finish(): Seg[] {
    this.segs.push(this.seg);
    if (this.tuplet.left > 0) this.fail('tuplet is missing notes at the end of the tune');
    // Drop empty segments, moving their structural marks to their neighbours.
    const out: Seg[] = [];
    let carry: Pick<Seg, 'startRepeat' | 'ending'> = { startRepeat: false, ending: null };
    for (const s of this.segs) {
      if (s.evs.length === 0) {
        if (out.length > 0 && s.endRepeat) out[out.length - 1].endRepeat = true;
        if (out.length > 0 && s.closes) out[out.length - 1].closes = true;
        carry = { startRepeat: carry.startRepeat || s.startRepeat, ending: s.ending ?? carry.ending };
        continue;
      }
      out.push({ ...s, startRepeat: s.startRepeat || carry.startRepeat, ending: s.ending ?? carry.ending });
      carry = { startRepeat: false, ending: null };
    }
    return out;
  }
}

function expandRange(r: string): number[] {
  const [a, b] = r.split('-').map(Number);
  const out: number[] = [];
  for (let k = a; k <= (b ?? a); k++) out.push(k);
  return out;
}

/** Unrolls repeats and endings into the order in which the segments are played. */
function unroll(segs: readonly Seg[]): Seg[] {
  const out: Seg[] = [];
  let repStart = 0;
  let pass = 1;
  let ending: number[] | null = null;
  let jumped = false;
  for (let i = 0; i < segs.length; i++) {
    if (out.length > 64 * segs.length) return out; // malformed repeats: stop rather than loop
    const s = segs[i];
    const next = segs[i + 1];
    if (s.startRepeat && !jumped) {
      repStart = i;
      pass = 1;
    }
    jumped = false;
    if (s.ending) ending = s.ending;
    const play = ending === null || ending.includes(pass);
    if (play) out.push(s);
    if (s.endRepeat && play) {
      const passes = Math.max(2, ...segs.slice(repStart, i + 2).flatMap((t) => t.ending ?? []));
      if (pass < passes) {
        pass++;
        ending = null;
        i = repStart - 1;
        jumped = true;
        continue;
      }
      repStart = i + 1;
      if (!next?.ending) pass = 1;
    }
    if (next?.ending) continue; // still inside a block of endings
    if (ending !== null && (s.closes || !next || next.startRepeat)) {
      ending = null;
      pass = 1;
      repStart = i + 1;
    } else if (ending === null && s.closes && !s.endRepeat) repStart = i + 1;
  }
  return out;
}

function build(file: string, line: number, fields: Record<string, string>, title: string, bpm: number, segs: readonly Seg[]): AbcTune {
  const warnings: string[] = [];
  const frac = (t: number, den: number): string => {
    if ((t * den) % TPW === 0) return `${(t * den) / TPW}/${den}`;
    const g = gcd(t, TPW);
    return `${t / g}/${TPW / g}`;
  };
  const segLen = (s: Seg): number => s.evs.reduce((a, e) => a + e.dur, 0);
  const measure = (s: Seg): number => (TPW * s.meter[0]) / s.meter[1];
  segs.forEach((s, i) => {
    const d = segLen(s);
    const m = measure(s);
    const prev = segs[i - 1];
    const next = segs[i + 1];
    const edge =
      !prev ||
      !next ||
      s.startRepeat ||
      s.endRepeat ||
      s.closes ||
      s.ending !== null ||
      prev.closes ||
      next.startRepeat ||
      next.ending !== null;
    if (d > m) warnings.push(`line ${s.line}: bar is ${frac(d, s.meter[1])} long, M:${s.meter.join('/')} wants ${frac(m, s.meter[1])}`);
    else if (d < m && !edge)
      warnings.push(`line ${s.line}: bar is only ${frac(d, s.meter[1])} long, M:${s.meter.join('/')} wants ${frac(m, s.meter[1])}`);
  });
  const played = unroll(segs);
  const first = segLen(played[0]);
  let t = first < measure(played[0]) ? measure(played[0]) - first : 0;
  let origin = 0;
  let meter = played[0].meter;
  const timeSignatures: TimeSignature[] = [{ beat: 0, numerator: meter[0], denominator: meter[1] }];
  const notes: { pitch: number; start: number; dur: number }[] = [];
  const chords: { symbol: string; pitches: number[]; start: number }[] = [];
  let open = new Map<number, number>(); // pitch -> index in notes of a note tied into `t`
  for (const s of played) {
    if (s.meter[0] !== meter[0] || s.meter[1] !== meter[1]) {
      meter = s.meter;
      origin = t;
      timeSignatures.push({ beat: (t * 4) / TPW, numerator: meter[0], denominator: meter[1] });
    }
    if (segLen(s) === measure(s) && (t - origin) % measure(s) !== 0) {
      warnings.push(`line ${s.line}: bar starts off the bar grid after unrolling repeats (pickup and closing bars do not add up)`);
    }
    for (const e of s.evs) {
      if (e.chord) chords.push({ ...e.chord, start: t });
      const next = new Map<number, number>();
      for (const p of e.pitches) {
        const k = open.get(p);
        if (k !== undefined) notes[k].dur += e.dur;
        else notes.push({ pitch: p, start: t, dur: e.dur });
        if (e.tie) next.set(p, k ?? notes.length - 1);
      }
      open = next;
      t += e.dur;
    }
  }
  const beats = (x: number): number => (x * 4) / TPW;
  return {
    file,
    line,
    x: fields.X,
    title,
    fields,
    bpm,
    timeSignatures,
    notes: notes
      .map((n) => ({ pitch: n.pitch, start: beats(n.start), duration: beats(n.dur) }))
      .sort((a, b) => a.start - b.start || a.pitch - b.pitch),
    chords: chords
      .map((c, i) => ({ ...c, start: beats(c.start), duration: beats((chords[i + 1]?.start ?? t) - c.start) }))
      .filter((c) => c.pitches.length > 0 && c.duration > 0),
    lengthBeats: beats(t),
    warnings: [...new Set(warnings)],
  };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Converts a parsed tune to a Piece: melody and block chords merged, one program. */
export function abcTuneToPiece(tune: AbcTune, options: Partial<AbcRenderOptions> = {}, name = tune.title): Piece {
  const opts = { ...DEFAULT_ABC_RENDER_OPTIONS, ...options };
  const notes: Note[] = tune.notes.map((n) => ({ ...n, velocity: opts.melodyVelocity }));
  const clashes = (pitch: number, start: number, end: number): boolean =>
    tune.notes.some((n) => n.pitch === pitch && n.start < end && start < n.start + n.duration);
  for (const c of tune.chords) {
    for (let pitch of c.pitches) {
      // A chord tone may not share a pitch with a sounding melody note (MIDI could not tell them apart).
      while (pitch >= 12 && clashes(pitch, c.start, c.start + c.duration)) pitch -= 12;
      notes.push({ pitch, start: c.start, duration: c.duration, velocity: opts.chordVelocity });
    }
  }
  return makePiece(name, notes, { tempos: [{ beat: 0, bpm: tune.bpm }], timeSignatures: tune.timeSignatures, program: opts.program });
}
