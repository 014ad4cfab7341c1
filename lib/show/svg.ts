/**
 * Shared pieces for the SVG charts in ./plots and ./pianoroll: XML escaping,
 * number formatting, "nice" axis ticks, the colour theme, and rasterising an
 * SVG string to PNG bytes with resvg (PNG is what renders reliably in GitHub's
 * notebook view; SVG text needs a font there and here).
 *
 * Fonts: resvg draws no text at all when it finds no font, silently. So
 * {@link svgToPng} loads the system fonts (plus any `fontFiles` given or
 * named in MUSICGEN_FONT), checks once that text can be drawn, and otherwise
 * throws a one-line error naming the package to install.
 */
import * as fs from 'node:fs';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { UserError } from '../core/errors';

/** Font stack used by every chart (DejaVu Sans ships with Debian/Ubuntu; the rest are fallbacks). */
export const FONT_FAMILY = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** Colours shared by all charts (Tableau-10 based, readable on white and for colour-blind viewers). */
export const THEME = {
  background: '#ffffff',
  text: '#222222',
  mutedText: '#555555',
  axis: '#444444',
  grid: '#e3e3e3',
  train: '#1f77b4',
  validation: '#ff7f0e',
  perplexity: '#2ca02c',
  bar: '#4c78a8',
  note: '#1f77b4',
  noteStroke: '#0b3d66',
  primer: '#9a9a9a',
  primerStroke: '#555555',
  divider: '#d62728',
  blackKeyRow: '#f1f1f4',
  barLine: '#9a9aa5',
  beatLine: '#e6e6ea',
} as const;

/** Escapes text for use in SVG element content or attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** Rounds a coordinate to 2 decimals (keeps SVG output small and deterministic). */
export function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Formats a tick or data value compactly (no exponent for ordinary magnitudes). */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) return x.toExponential(1);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  return String(Number(x.toPrecision(4)));
}

/**
 * About `count` evenly spaced round tick values (steps of 1, 2 or 5 × 10^k)
 * covering [lo, hi]. With `integer`, steps are at least 1.
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A linear map from a data interval to a pixel interval. */
export function linear(d0: number, d1: number, p0: number, p1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => p0 + ((v - d0) / span) * (p1 - p0);
}

/** Opening `<svg>` tag with a white background and the chart font; close with `</svg>`. */
export function svgOpen(width: number, height: number, label: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
    ` font-family="${esc(FONT_FAMILY)}" role="img" aria-label="${esc(label)}">\n` +
    `<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="${THEME.background}"/>\n`
  );
}

/** A text element; `anchor` is start, middle or end. */
export function text(
  x: number,
  y: number,
  content: string,
  opts: { size?: number; anchor?: 'start' | 'middle' | 'end'; fill?: string; weight?: 'bold'; rotate?: number; cls?: string } = {},
): string {
  const size = opts.size ?? 12;
  const rot = opts.rotate ? ` transform="rotate(${opts.rotate} ${r2(x)} ${r2(y)})"` : '';
  const cls = opts.cls ? ` class="${opts.cls}"` : '';
  const weight = opts.weight ? ` font-weight="${opts.weight}"` : '';
  return (
    `<text${cls} x="${r2(x)}" y="${r2(y)}" font-size="${size}" text-anchor="${opts.anchor ?? 'start'}"` +
    ` fill="${opts.fill ?? THEME.text}"${weight}${rot}>${esc(content)}</text>`
  );
}
