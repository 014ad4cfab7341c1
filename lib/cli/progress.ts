/**
 * A terminal progress bar with ETA on stderr (cli-progress), so stdout stays
 * clean for --json. When stderr is not a terminal it prints a line every few
 * seconds instead of redrawing.
 */
import { SingleBar } from 'cli-progress';

/** A bar that can be updated and stopped. */
export interface Bar {
  update(done: number, info?: Readonly<Record<string, string | number>>): void;
  setTotal(total: number): void;
  stop(): void;
}

/**
 * Formats an ETA of `seconds` as `1h05m`, `4m35s` or `40s`, rounded to
 * `step` seconds before it is split, so it never reads `10m60s` (cli-progress's
 * own formatter rounds the seconds after splitting).
 */
export function formatEta(seconds: number, step = 5): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const t = seconds > 10 ? step * Math.round(seconds / step) : Math.round(seconds);
  const pad = (v: number): string => String(v).padStart(2, '0');
  if (t >= 3600) {
    const minutes = Math.round(t / 60);
    return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
  }
  if (t >= 60) return `${Math.floor(t / 60)}m${pad(t % 60)}s`;
  return `${t}s`;
}

/** Bars started and not yet stopped. */
const active = new Set<Bar>();

/** Stops every running bar, so a message printed next starts on a line of its own (errors, interrupts). */
export function stopBars(): void {
  for (const b of [...active]) b.stop();
}

/**
 * Starts a bar labelled `label` over `total` units, at `start` done (a resumed
 * epoch starts part-way: the ETA then counts only the work still to do).
 */
export function startBar(label: string, total: number, quiet = false, start = 0): Bar {
  if (quiet) return { update: () => undefined, setTotal: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% {value}/{total} | ETA {eta_formatted} | {info}`,
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    stream: process.stderr,
    noTTYOutput: !process.stderr.isTTY,
    notTTYSchedule: 5000,
    etaBuffer: 50,
    formatTime: (t: number, _options: unknown, step: number) => formatEta(t, step),
    clearOnComplete: false,
  });
  bar.start(total, start, { info: '' });
  const handle: Bar = {
    update(done, info) {
      const text = info
        ? Object.entries(info)
            .map(([k, v]) => `${k} ${v}`)
            .join(' ')
        : '';
      bar.update(done, { info: text });
    },
    setTotal(t) {
      bar.setTotal(t);
    },
    stop() {
      active.delete(handle);
      bar.stop();
    },
  };
  active.add(handle);
  return handle;
}
