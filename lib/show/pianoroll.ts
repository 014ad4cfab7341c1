/**
 * A piano roll of a {@link Piece} as an SVG string: time (beats, with bar
 * lines from the piece's time signatures) across, pitch (with note names) up.
 * One `<rect class="note">` per note; notes that start before `primerBeats`
 * (the primer the model was given) are `class="note primer"`, drawn grey, and a
 * labelled divider marks where generation begins.
 */
import { esc, linear, r2, svgOpen, text, THEME } from './svg';
import { bars, pieceLengthBeats, pieceLengthSeconds, pitchName, type Piece, type TimeSignature } from '../core/piece';

/** Options for {@link pianoRollSvg}. */
export interface PianoRollOptions {
  /** Notes starting before this beat are the primer. Default: no primer part. */
  readonly primerBeats?: number;
  /** Chart title. Default: the piece's name. */
  readonly title?: string;
  /** Width in pixels. */
  readonly width?: number;
  /** Target height of the note area in pixels (rows are 4–14 px high). */
  readonly plotHeight?: number;
  /** Fewest semitones shown (the pitch range is widened to this around the notes). */
  readonly minPitchSpan?: number;
  /** Legend text for the primer part and for the rest. */
  readonly primerLabel?: string;
  readonly generatedLabel?: string;
}

const DEFAULT_PIANO_ROLL: Required<Omit<PianoRollOptions, 'primerBeats' | 'title'>> = {
  width: 900,
  plotHeight: 340,
  minPitchSpan: 24,
  primerLabel: 'primer',
  generatedLabel: 'generated',
};

const BLACK = new Set([1, 3, 6, 8, 10]);

/** Bar start positions (beats) from a time-signature list, up to `end`; the first is 0. */
function barStarts(signatures: readonly TimeSignature[], end: number): number[] {
  const out = bars(signatures, end).map((b) => b.start);
  if (out.length === 0 || out[0] > 0) out.unshift(0);
  return out;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Draws a piece as a piano roll (see the module comment). An empty piece gives
 * a placeholder chart. Throws RangeError for a negative or non-finite primerBeats.
 */
export function pianoRollSvg(piece: Piece, options: PianoRollOptions = {}): string {
  const o = { ...DEFAULT_PIANO_ROLL, ...options };
  const primerBeats = options.primerBeats ?? 0;
  if (!Number.isFinite(primerBeats) || primerBeats < 0)
    throw new RangeError(`primerBeats must be a number ≥ 0 (got ${options.primerBeats})`);
  const title = options.title ?? piece.name;
  const notes = piece.notes;
  const width = o.width;
  if (notes.length === 0) {
    const h = 160;
    return `${svgOpen(width, h, title)}${text(width / 2, 28, title, { size: 16, anchor: 'middle', weight: 'bold' })}\n${text(width / 2, 90, 'no notes', { size: 14, anchor: 'middle', fill: THEME.mutedText })}\n</svg>\n`;
  }
  // Pitch range, widened to minPitchSpan and clamped to MIDI.
  const minPitch = Math.min(...notes.map((n) => n.pitch));
  const maxPitch = Math.max(...notes.map((n) => n.pitch));
  let lo = minPitch - 1;
  let hi = maxPitch + 1;
  while (hi - lo + 1 < o.minPitchSpan) {
    if (lo > 0) lo--;
    if (hi - lo + 1 < o.minPitchSpan && hi < 127) hi++;
    if (lo === 0 && hi === 127) break;
  }
  lo = Math.max(0, lo);
  hi = Math.min(127, hi);
  // Header: title, a summary line and (with a primer) a legend, on the summary line when both fit.
  const lengthBeats = Math.max(pieceLengthBeats(piece), primerBeats, 1e-6);
  const bars = barStarts(piece.timeSignatures, lengthBeats);
  const bpm = piece.tempos[0]?.bpm ?? 120;
  const primerCount = notes.filter((n) => n.start < primerBeats).length;
  const summary = `${notes.length} notes · ${bars.length} bars · ${Math.round(bpm)} bpm · ${clock(pieceLengthSeconds(piece))}`;
  const legend: [string, string][] =
    primerBeats > 0
      ? [
          [THEME.primer, `${o.primerLabel} (${primerCount} notes)`],
          [THEME.note, `${o.generatedLabel} (${notes.length - primerCount} notes)`],
        ]
      : [];
  const textW = (t: string): number => t.length * 6.8;
  const legendW = legend.reduce((w, [, label]) => w + textW(label) + 26, 0);
  const legendY = textW(summary) + legendW + 24 > width - 76 ? 66 : 46;
  const m = { left: 58, right: 18, top: legend.length > 0 ? legendY + 32 : 60, bottom: 48 };
  const rows = hi - lo + 1;
  const rowH = Math.max(4, Math.min(14, Math.floor(o.plotHeight / rows)));
  const plotH = rows * rowH;
  const height = m.top + plotH + m.bottom;
  const plotW = width - m.left - m.right;
  const sx = linear(0, lengthBeats, m.left, m.left + plotW);
  const rowY = (pitch: number): number => m.top + (hi - pitch) * rowH;
  const out: string[] = [svgOpen(width, height, `piano roll of ${title}`)];

  out.push(text(width / 2, 24, title, { size: 16, anchor: 'middle', weight: 'bold' }));
  out.push(text(m.left, 46, summary, { size: 12, fill: THEME.mutedText }));

  // Background: black-key rows shaded, note names on the left.
  const labelAll = rowH >= 11;
  for (let p = lo; p <= hi; p++) {
    const y = rowY(p);
    if (BLACK.has(p % 12))
      out.push(`<rect class="row" x="${m.left}" y="${y}" width="${plotW}" height="${rowH}" fill="${THEME.blackKeyRow}"/>`);
    if (p % 12 === 0)
      out.push(`<line class="octave" x1="${m.left}" x2="${m.left + plotW}" y1="${y + rowH}" y2="${y + rowH}" stroke="${THEME.beatLine}"/>`);
    const pc = p % 12;
    if (pc === 0) {
      out.push(text(m.left - 6, y + rowH / 2 + 4, pitchName(p), { size: 11, anchor: 'end', weight: 'bold' }));
    } else if ((labelAll && !BLACK.has(pc)) || (rowH >= 7 && (pc === 4 || pc === 7))) {
      out.push(text(m.left - 6, y + rowH / 2 + 3.5, pitchName(p), { size: Math.min(10, rowH), anchor: 'end', fill: THEME.mutedText }));
    }
  }

  // Beat lines (when there is room), bar lines and bar numbers.
  const pxPerBeat = plotW / lengthBeats;
  if (pxPerBeat >= 10) {
    for (let b = 1; b < lengthBeats; b++) {
      const x = r2(sx(b));
      out.push(`<line class="beat" x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + plotH}" stroke="${THEME.beatLine}"/>`);
    }
  }
  const barPx = plotW / Math.max(1, bars.length);
  const labelEvery = [1, 2, 4, 5, 8, 10, 16, 20, 25, 50, 100].find((k) => k * barPx >= 26) ?? 200;
  bars.forEach((b, i) => {
    const x = r2(sx(b));
    const labelled = (i + 1) % labelEvery === 0 || i === 0;
    const stroke = labelled || barPx >= 12 ? THEME.barLine : THEME.beatLine;
    out.push(`<line class="bar-line" x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + plotH}" stroke="${stroke}" stroke-width="0.8"/>`);
    if (labelled) {
      out.push(text(x + 2, m.top + plotH + 16, String(i + 1), { size: 11, fill: THEME.mutedText }));
    }
  });
  const sigText = [...new Set(piece.timeSignatures.map((t) => `${t.numerator}/${t.denominator}`))].join(', ');
  out.push(text(m.left + plotW / 2, height - 10, `bar (time signature ${sigText})`, { size: 12, anchor: 'middle' }));

  // Notes.
  for (const n of notes) {
    const inPrimer = n.start < primerBeats;
    const x = sx(n.start);
    const w = Math.max(1.5, sx(n.start + n.duration) - x - 0.6);
    const fill = inPrimer ? THEME.primer : THEME.note;
    const stroke = inPrimer ? THEME.primerStroke : THEME.noteStroke;
    const opacity = r2(0.55 + (0.45 * Math.min(127, Math.max(1, n.velocity))) / 127);
    out.push(
      `<rect class="${inPrimer ? 'note primer' : 'note'}" x="${r2(x)}" y="${r2(rowY(n.pitch) + 0.5)}" width="${r2(w)}" height="${Math.max(1, rowH - 1)}"` +
        ` rx="1.5" fill="${fill}" fill-opacity="${opacity}" stroke="${stroke}" stroke-width="0.6"/>`,
    );
  }
  out.push(`<rect class="frame" x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="${THEME.axis}"/>`);

  // Seed divider and legend.
  if (primerBeats > 0) {
    const x = r2(sx(primerBeats));
    out.push(
      `<line class="primer-divider" x1="${x}" x2="${x}" y1="${m.top - 4}" y2="${m.top + plotH}" stroke="${THEME.divider}" ` +
        `stroke-width="2" stroke-dasharray="6 3"/>`,
    );
    const room = m.left + plotW - x;
    if (x - m.left > 50)
      out.push(text(x - 5, m.top - 8, `← ${o.primerLabel}`, { size: 11, anchor: 'end', fill: THEME.divider, weight: 'bold' }));
    if (room > 80) out.push(text(x + 5, m.top - 8, `${o.generatedLabel} →`, { size: 11, fill: THEME.divider, weight: 'bold' }));
    let lx = m.left + plotW;
    const parts: string[] = [];
    for (const [color, label] of [...legend].reverse()) {
      lx -= textW(label) + 26;
      parts.push(
        `<rect x="${r2(lx)}" y="${legendY - 10}" width="12" height="12" rx="2" fill="${color}"/>`,
        text(lx + 16, legendY, label, { size: 12 }),
      );
    }
    out.push(`<g class="legend">${parts.join('')}</g>`);
  }
  out.push(`<desc>${esc(`${notes.length} notes, pitches ${pitchName(minPitch)}–${pitchName(maxPitch)}`)}</desc>`);
  return out.join('\n') + '\n</svg>\n';
}
