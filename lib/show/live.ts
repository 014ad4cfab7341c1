/**
 * A live training curve in the browser with nodeplotlib: train and validation
 * loss (and validation perplexity on a right-hand axis) redrawn after every
 * epoch through an RxJS stream.
 *
 * Nothing starts at import time: nodeplotlib (and the NestJS server behind
 * it) is only loaded by {@link startLivePlot}, and only when the environment
 * can show it. In CI, in quick runs (MUSICGEN_QUICK=1), under `node --test`,
 * and on a Linux machine without a display (unless NODEPLOTLIB_PORT is set,
 * meaning "serve on this port, I will open it myself") it returns a no-op with
 * the reason instead.
 *
 * nodeplotlib's own behaviour: it opens a browser tab (unless NODEPLOTLIB_PORT
 * is set), logs a few lines to the console, and its server keeps running until
 * that tab is closed, even after {@link LivePlot.stop}.
 */
import { ReplaySubject, type Observable } from 'rxjs';
import type { Layout, Plot } from 'nodeplotlib';
import type { LossHistoryPoint } from './charts';

/** A running (or refused) live plot. */
export interface LivePlot {
  /** True when a browser view was started. */
  readonly active: boolean;
  /** Why the live plot did not start ('' when active). */
  readonly reason: string;
  /** Adds one epoch and redraws (ignored after stop or when inactive). */
  onEpoch(record: LossHistoryPoint): void;
  /** Ends the stream; the view keeps (and late viewers still get) the last curve. */
  stop(): void;
}

/** The plotting function: nodeplotlib's `plot` or a stand-in (tests). */
export type PlotFunction = (data: Observable<Plot[]>, layout: Layout) => void;

/** Options for {@link startLivePlot}. */
export interface LivePlotOptions {
  /** Chart title. */
  readonly title?: string;
  /** Environment to check; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Platform to check for a display; default process.platform. */
  readonly platform?: NodeJS.Platform;
  /** Plotting function; default nodeplotlib's `plot` (loaded on first use). */
  readonly plot?: PlotFunction;
}

const truthy = (v: string | undefined): boolean => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/** Why a live plot must not start in this environment ('' when it may). */
export function liveRefusal(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (truthy(env.CI)) return 'live plot disabled: CI is set (headless run)';
  if (env.MUSICGEN_QUICK === '1') return 'live plot disabled: MUSICGEN_QUICK=1';
  if (env.NODE_TEST_CONTEXT) return 'live plot disabled: running under node --test';
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY && !env.NODEPLOTLIB_PORT) {
    return 'live plot disabled: no display (set NODEPLOTLIB_PORT=8991 to serve it on that port and open http://localhost:8991 yourself)';
  }
  return '';
}

/** The plotly traces for a history: train and validation loss, and validation perplexity on axis y2 when present. */
export function liveTraces(history: readonly LossHistoryPoint[]): Plot[] {
  const series = (pick: (r: LossHistoryPoint) => number | undefined): { x: number[]; y: number[] } => {
    const rows = history.filter((r) => {
      const v = pick(r);
      return v !== undefined && Number.isFinite(v) && Number.isFinite(r.epoch);
    });
    return { x: rows.map((r) => r.epoch), y: rows.map((r) => pick(r) as number) };
  };
  const traces: Plot[] = [
    { ...series((r) => r.trainLoss), type: 'scatter', mode: 'lines+markers', name: 'train loss', line: { color: '#1f77b4' } },
    {
      ...series((r) => r.valLoss),
      type: 'scatter',
      mode: 'lines+markers',
      name: 'validation loss',
      line: { color: '#ff7f0e', dash: 'dash' },
    },
  ];
  const ppl = series((r) => r.valPerplexity);
  if (ppl.x.length > 0) {
    traces.push({
      ...ppl,
      type: 'scatter',
      mode: 'lines+markers',
      name: 'validation perplexity',
      yaxis: 'y2',
      line: { color: '#2ca02c', dash: 'dot' },
    });
  }
  return traces;
}

function layoutFor(title: string): Layout {
  return {
    title: { text: title },
    xaxis: { title: { text: 'epoch' }, dtick: 1 },
    yaxis: { title: { text: 'cross-entropy loss (nats/token)' } },
    yaxis2: { title: { text: 'perplexity' }, overlaying: 'y', side: 'right', showgrid: false },
    legend: { orientation: 'h', y: -0.2 },
  };
}

function loadNodeplotlib(): PlotFunction {
  // Loaded here, not at the top, so that importing this module never loads NestJS or starts a server.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const npl = require('nodeplotlib') as typeof import('nodeplotlib');
  return (data, layout) => npl.plot(data, layout);
}

/**
 * Starts a live training curve, or returns an inactive no-op (with `reason`)
 * when the environment cannot show one (see {@link liveRefusal}). Call
 * `onEpoch` after each epoch and `stop` when training ends.
 */
export function startLivePlot(options: LivePlotOptions = {}): LivePlot {
  const reason = liveRefusal(options.env ?? process.env, options.platform ?? process.platform);
  if (reason) return { active: false, reason, onEpoch: () => undefined, stop: () => undefined };
  const history: LossHistoryPoint[] = [];
  // A replay subject, so a browser tab that connects late (even after stop) still gets the latest curve.
  const stream$ = new ReplaySubject<Plot[]>(1);
  stream$.next(liveTraces(history));
  const plot = options.plot ?? loadNodeplotlib();
  plot(stream$, layoutFor(options.title ?? 'Training (live)'));
  let stopped = false;
  return {
    active: true,
    reason: '',
    onEpoch(record: LossHistoryPoint): void {
      if (stopped) return;
      history.push({ ...record });
      stream$.next(liveTraces(history));
    },
    stop(): void {
      if (stopped) return;
      stopped = true;
      stream$.complete();
    },
  };
}
