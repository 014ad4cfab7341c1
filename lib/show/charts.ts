/**
 * Charts as pure functions returning SVG strings: training curves and
 * histograms (piano rolls are in ./pianoroll). Turn any of them into PNG bytes
 * with svgToPng (./png). Every data mark carries a
 * class (`point train`, `point val`, `point ppl`, `bar`, `note`, `note seed`)
 * so the output can be checked by counting elements.
 */
import { esc, fmt, linear, niceTicks, r2, svgOpen, text, THEME } from './svg';

import type { EpochRecord } from '../store/train-config';

/** What a loss curve needs of each epoch (validation values that are not finite are left out). */
export type LossHistoryPoint = Pick<EpochRecord, 'epoch' | 'trainLoss' | 'valLoss'> & Partial<Pick<EpochRecord, 'valPerplexity'>>;

/** Options for {@link lossCurveSvg}. */
export interface LossCurveOptions {
  /** Chart title. */
  readonly title?: string;
  /** Width in pixels. */
  readonly width?: number;
  /** Height of each panel in pixels. */
  readonly panelHeight?: number;
  /** Draw validation perplexity on a second panel: 'auto' = when any record has it. */
  readonly perplexity?: boolean | 'auto';
  /** Label of the loss axis. */
  readonly lossLabel?: string;
}

const DEFAULT_LOSS_CURVE: Required<LossCurveOptions> = {
  title: 'Training history',
  width: 720,
  panelHeight: 260,
  perplexity: 'auto',
  lossLabel: 'cross-entropy loss (nats/token)',
};

interface Series {
  readonly name: string;
  readonly cls: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** The y domain of a panel: the data range with 8 % padding, not below 0 for non-negative data. */
function yDomain(points: readonly (readonly [number, number])[]): [number, number] {
  const ys = points.map((p) => p[1]);
  let [y0, y1] = ys.length > 0 ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.1 || 1;
  const lo = y0;
  y0 -= pad;
  y1 += pad;
  if (y0 < 0 && lo >= 0) y0 = 0;
  return [y0, y1];
}

/** The y scale of a panel holding `points`. */
function panelY(box: Box, points: readonly (readonly [number, number])[]): (v: number) => number {
  const [y0, y1] = yDomain(points);
  return linear(y0, y1, box.y + box.h, box.y);
}

/** One line-chart panel: grid, axes with ticks and labels, a polyline plus a circle per point for each series, legend. */
function linePanel(box: Box, series: readonly Series[], xLabel: string, yLabel: string, xDomain: readonly [number, number]): string {
  const [y0, y1] = yDomain(series.flatMap((s) => s.points));
  const [x0, x1] = xDomain;
  const sx = linear(x0, x1, box.x, box.x + box.w);
  const sy = panelY(
    box,
    series.flatMap((s) => s.points),
  );
  const out: string[] = [];
  const yTicks = niceTicks(y0, y1, 5).filter((v) => v >= y0 && v <= y1);
  const xTicks = niceTicks(x0, x1, Math.min(10, Math.max(1, Math.floor(box.w / 60))), true).filter((v) => v >= x0 && v <= x1);
  for (const v of yTicks) {
    const y = r2(sy(v));
    out.push(`<line class="grid" x1="${box.x}" x2="${box.x + box.w}" y1="${y}" y2="${y}" stroke="${THEME.grid}"/>`);
    out.push(text(box.x - 8, y + 4, fmt(v), { size: 11, anchor: 'end', fill: THEME.mutedText }));
  }
  for (const v of xTicks) {
    const x = r2(sx(v));
    out.push(`<line class="tick" x1="${x}" x2="${x}" y1="${box.y + box.h}" y2="${box.y + box.h + 5}" stroke="${THEME.axis}"/>`);
    out.push(text(x, box.y + box.h + 18, fmt(v), { size: 11, anchor: 'middle', fill: THEME.mutedText }));
  }
  out.push(
    `<path class="axis" d="M${box.x} ${box.y}V${box.y + box.h}H${box.x + box.w}" fill="none" stroke="${THEME.axis}"/>`,
    text(box.x + box.w / 2, box.y + box.h + 36, xLabel, { size: 12, anchor: 'middle' }),
    text(box.x - 52, box.y + box.h / 2, yLabel, { size: 12, anchor: 'middle', rotate: -90 }),
  );
  for (const s of series) {
    const pts = s.points.map(([x, y]) => `${r2(sx(x))},${r2(sy(y))}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) {
      out.push(`<polyline class="line ${s.cls}" points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    const rad = s.points.length > 60 ? 1.8 : 3.2;
    for (const [x, y] of s.points) {
      out.push(`<circle class="point ${s.cls}" cx="${r2(sx(x))}" cy="${r2(sy(y))}" r="${rad}" fill="${s.color}"/>`);
    }
  }
  // Legend, top-right inside the panel.
  const lw = Math.max(...series.map((s) => s.name.length)) * 6.8 + 34;
  const lx = box.x + box.w - lw - 6;
  out.push(
    `<rect class="legend" x="${r2(lx)}" y="${box.y + 6}" width="${r2(lw)}" height="${series.length * 18 + 8}" ` +
      `fill="#ffffff" fill-opacity="0.85" stroke="${THEME.grid}"/>`,
  );
  series.forEach((s, i) => {
    const y = box.y + 20 + i * 18;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<line x1="${r2(lx + 6)}" x2="${r2(lx + 26)}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    out.push(text(lx + 31, y, s.name, { size: 12 }));
  });
  return out.join('\n');
}

/**
 * Train and validation loss per epoch (one point per epoch and series) and,
 * optionally, validation perplexity on a second panel. The epoch with the
 * lowest validation loss is marked. An empty history gives a placeholder chart.
 */
export function lossCurveSvg(history: readonly LossHistoryPoint[], options: LossCurveOptions = {}): string {
  const o = { ...DEFAULT_LOSS_CURVE, ...options };
  const finite = (pick: (r: LossHistoryPoint) => number | undefined): [number, number][] =>
    history.flatMap((r) => {
      const v = pick(r);
      return Number.isFinite(r.epoch) && v !== undefined && Number.isFinite(v) ? [[r.epoch, v] as [number, number]] : [];
    });
  const train = finite((r) => r.trainLoss);
  const val = finite((r) => r.valLoss);
  const ppl = finite((r) => r.valPerplexity);
  const showPpl = o.perplexity === 'auto' ? ppl.length > 0 : o.perplexity;
  const margin = { left: 78, right: 20, top: 62, gap: 62, bottom: 52 };
  const panels = showPpl ? 2 : 1;
  const height = margin.top + panels * o.panelHeight + (panels - 1) * margin.gap + margin.bottom;
  const out: string[] = [svgOpen(o.width, height, o.title)];
  out.push(text(o.width / 2, 26, o.title, { size: 16, anchor: 'middle', weight: 'bold' }));
  const epochs = [...train, ...val, ...ppl].map((p) => p[0]);
  if (epochs.length === 0) {
    out.push(text(o.width / 2, height / 2, 'no epochs yet', { size: 14, anchor: 'middle', fill: THEME.mutedText }));
    return out.join('\n') + '\n</svg>\n';
  }
  let e0 = Math.min(...epochs);
  let e1 = Math.max(...epochs);
  if (e0 === e1) [e0, e1] = [e0 - 1, e1 + 1];
  const padX = (e1 - e0) * 0.03;
  const xDomain: [number, number] = [e0 - padX, e1 + padX];
  const box: Box = { x: margin.left, y: margin.top, w: o.width - margin.left - margin.right, h: o.panelHeight };
  const series: Series[] = [
    { name: 'train loss', cls: 'train', color: THEME.train, points: train },
    { name: 'validation loss', cls: 'val', color: THEME.validation, points: val, dashed: true },
  ].filter((s) => s.points.length > 0);
  out.push(linePanel(box, series, 'epoch', o.lossLabel, xDomain));
  if (val.length > 0) {
    const best = val.reduce((a, b) => (b[1] < a[1] ? b : a));
    const note = `best validation loss ${fmt(best[1])} at epoch ${fmt(best[0])}; last train loss ${train.length > 0 ? fmt(train[train.length - 1][1]) : '–'}`;
    out.push(text(o.width / 2, 46, note, { size: 12, anchor: 'middle', fill: THEME.mutedText, cls: 'best' }));
    const [bx, by] = [linear(xDomain[0], xDomain[1], box.x, box.x + box.w)(best[0]), panelY(box, val.concat(train))(best[1])];
    out.push(
      `<circle class="best-marker" cx="${r2(bx)}" cy="${r2(by)}" r="7" fill="none" stroke="${THEME.validation}" stroke-width="1.5"/>`,
    );
  }
  if (showPpl) {
    const box2: Box = { ...box, y: box.y + o.panelHeight + margin.gap };
    out.push(
      linePanel(
        box2,
        [{ name: 'validation perplexity', cls: 'ppl', color: THEME.perplexity, points: ppl }],
        'epoch',
        'perplexity',
        xDomain,
      ),
    );
  }
  return out.join('\n') + '\n</svg>\n';
}

/** One bar of a histogram. */
export interface HistogramItem {
  readonly label: string;
  readonly count: number;
}

/** Options for {@link histogramSvg}. */
export interface HistogramOptions {
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Keep only the N largest counts (sorted by count, largest first). Default: all, in the given order. */
  readonly topN?: number;
  readonly width?: number;
  readonly height?: number;
}

const DEFAULT_HISTOGRAM: Required<Omit<HistogramOptions, 'topN'>> = {
  title: 'Histogram',
  xLabel: '',
  yLabel: 'count',
  width: 720,
  height: 360,
};

/**
 * A bar chart of counts (pitch histograms, token frequencies). One `<rect
 * class="bar">` per item kept; labels are thinned or rotated when crowded.
 */
export function histogramSvg(items: readonly HistogramItem[], options: HistogramOptions = {}): string {
  const o = { ...DEFAULT_HISTOGRAM, ...options };
  for (const it of items) {
    if (!Number.isFinite(it.count) || it.count < 0)
      throw new RangeError(`histogram count for "${it.label}" must be a finite number ≥ 0 (got ${it.count})`);
  }
  if (options.topN !== undefined && !(Number.isInteger(options.topN) && options.topN > 0)) {
    throw new RangeError(`topN must be a positive integer (got ${options.topN})`);
  }
  const kept =
    options.topN !== undefined
      ? [...items].sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1)).slice(0, options.topN)
      : [...items];
  const longest = Math.max(1, ...kept.map((k) => k.label.length));
  const slot0 = (o.width - 100) / Math.max(1, kept.length);
  const rotate = longest * 7 > slot0 - 2;
  const labelSpace = rotate ? Math.min(110, longest * 4.8 + 16) : 20;
  const m = { left: 72, right: 24, top: 46, bottom: 8 + labelSpace + (o.xLabel ? 24 : 0) };
  const box: Box = { x: m.left, y: m.top, w: o.width - m.left - m.right, h: o.height - m.top - m.bottom };
  const out: string[] = [svgOpen(o.width, o.height, o.title)];
  out.push(text(o.width / 2, 26, o.title, { size: 16, anchor: 'middle', weight: 'bold' }));
  if (kept.length === 0) {
    out.push(text(o.width / 2, o.height / 2, 'no data', { size: 14, anchor: 'middle', fill: THEME.mutedText }));
    return out.join('\n') + '\n</svg>\n';
  }
  const maxCount = Math.max(...kept.map((k) => k.count));
  const integer = kept.every((k) => Number.isInteger(k.count));
  const rough = niceTicks(0, maxCount || 1, 5, integer);
  const step = rough.length > 1 ? rough[1] - rough[0] : maxCount || 1;
  const yMax = Math.ceil(((maxCount || 1) * 1.05) / step - 1e-9) * step;
  const yTicks = rough.concat(rough[rough.length - 1] + step <= yMax + 1e-9 ? [rough[rough.length - 1] + step] : []);
  const sy = linear(0, yMax, box.y + box.h, box.y);
  for (const v of yTicks) {
    const y = r2(sy(v));
    out.push(`<line class="grid" x1="${box.x}" x2="${box.x + box.w}" y1="${y}" y2="${y}" stroke="${THEME.grid}"/>`);
    out.push(text(box.x - 8, y + 4, fmt(v), { size: 11, anchor: 'end', fill: THEME.mutedText }));
  }
  const slot = box.w / kept.length;
  const barW = Math.max(1, slot * 0.8);
  const every = rotate ? Math.max(1, Math.ceil(13 / slot)) : 1;
  const showValues = slot >= 26 && kept.length <= 40;
  kept.forEach((k, i) => {
    const x = box.x + i * slot + (slot - barW) / 2;
    const y = sy(k.count);
    out.push(
      `<rect class="bar" x="${r2(x)}" y="${r2(y)}" width="${r2(barW)}" height="${r2(box.y + box.h - y)}" fill="${THEME.bar}"><title>${esc(`${k.label}: ${k.count}`)}</title></rect>`,
    );
    if (showValues) out.push(text(x + barW / 2, y - 4, fmt(k.count), { size: 10, anchor: 'middle', fill: THEME.mutedText }));
    if (i % every === 0) {
      const cx = x + barW / 2;
      const ly = box.y + box.h + 14;
      out.push(
        rotate
          ? text(cx + 3, ly, k.label, { size: 10, anchor: 'end', rotate: -45 })
          : text(cx, ly, k.label, { size: 11, anchor: 'middle' }),
      );
    }
  });
  out.push(`<path class="axis" d="M${box.x} ${box.y}V${box.y + box.h}H${box.x + box.w}" fill="none" stroke="${THEME.axis}"/>`);
  if (o.xLabel) out.push(text(box.x + box.w / 2, o.height - 12, o.xLabel, { size: 12, anchor: 'middle' }));
  out.push(text(box.x - 52, box.y + box.h / 2, o.yLabel, { size: 12, anchor: 'middle', rotate: -90 }));
  return out.join('\n') + '\n</svg>\n';
}
