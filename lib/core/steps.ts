/**
 * Long work that stays stoppable. Work written as a generator of steps (it
 * yields every few milliseconds) runs to the end with {@link runSteps}, or
 * with {@link runStepsStoppable}, which lets the event loop turn now and then
 * so that Ctrl-C and SIGTERM handlers run, and stops when they ask. Work that
 * awaits anyway (a training batch) calls {@link turnAndCheck} between steps.
 */

/** How long step-wise work runs before it lets the event loop turn. */
const TURN_MS = 50;

/** Lets the event loop turn (so signal handlers run), then says whether to stop. */
export async function turnAndCheck(shouldStop: () => boolean): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return shouldStop();
}

/** Runs steps to the end, synchronously. */
export function runSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs steps, letting the event loop turn first and then about every
 * {@link TURN_MS} ms; null once `shouldStop()` is true after a turn. The same
 * value as {@link runSteps} otherwise. When it stops early, the generator's
 * own `finally` blocks run (what it holds is freed).
 */
export async function runStepsStoppable<T>(steps: Generator<void, T, void>, shouldStop: () => boolean): Promise<T | null> {
  let turned = -Infinity;
  try {
    for (;;) {
      if (performance.now() - turned >= TURN_MS) {
        if (await turnAndCheck(shouldStop)) return null;
        turned = performance.now();
      }
      const r = steps.next();
      if (r.done) return r.value;
    }
  } finally {
    steps.return(undefined as never);
  }
}
