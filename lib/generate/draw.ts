/**
 * What every family's sampling loop shares (./generate.ts for the token
 * family, ./note-sampling.ts for the note family): the settings it draws
 * with, the mask it draws under (the grammar's, narrowed by the controls and
 * by what the piece keeps), the check that the model's scores are finite,
 * and the loop's contract.
 */
import type { Rng } from '../core/rng';
import { NonFiniteOutput } from '../model/inference';
import type { Vocabulary } from '../tokens/vocabulary';
import type { Keeper } from './keep';
import type { SamplingConfig } from './sample';
import type { RunSettings } from './settings';

/** Generation progress (events written so far). */
export type GenerateProgress = (events: number, total: number) => void;

/** What the sampling loop draws with: resolved sampling settings, the run, the RNG, the control mask (null = none) and what the piece keeps. */
export interface Draw {
  readonly sampling: SamplingConfig;
  readonly run: RunSettings;
  readonly rng: Rng;
  readonly control: Float32Array | null;
  readonly keeper: Keeper;
}

/**
 * A family's sampling loop with the model's weights already read out: reads
 * the primer, then writes `run.length` events and completes the last note;
 * returns the primer and new ids, and the events written. Yields after every
 * token.
 */
export type Sampler = (
  vocab: Vocabulary,
  primer: readonly number[],
  draw: Draw,
  onProgress?: GenerateProgress,
) => Generator<void, { ids: number[]; events: number }, void>;

/**
 * The grammar's mask with the control and keeping masks applied, where that
 * leaves some token allowed (else the grammar's with the controls alone, else
 * the grammar's alone: the grammar always holds, the controls before what
 * the piece keeps).
 */
export function allowedNext(grammar: Float32Array, control: Float32Array | null, keep: Float32Array | null): Float32Array {
  return applied(applied(grammar, control), keep);
}

/** `mask` applied to `allowed` where that leaves some token allowed, else `allowed` as it is. */
function applied(allowed: Float32Array, mask: Float32Array | null): Float32Array {
  if (!mask) return allowed;
  const both = new Float32Array(allowed.length);
  let any = false;
  for (let j = 0; j < both.length; j++) {
    both[j] = allowed[j] * mask[j];
    if (both[j] > 0) any = true;
  }
  return any ? both : allowed;
}

/** Throws a {@link NonFiniteOutput} when a score is not finite (the weights are damaged: sampling would pick garbage); `where` says which scores, e.g. "after token 12". */
export function checkFinite(logits: Float32Array, where: string): void {
  for (let j = 0; j < logits.length; j++) {
    if (!Number.isFinite(logits[j])) throw new NonFiniteOutput(`generating: the scores ${where} are not finite (${logits[j]})`);
  }
}

/**
 * Reads a sequence into a recurrent state one item at a time (a token, or a
 * note family's step) and returns the output after each new item. With
 * `context` C > 0, once the state holds C items, the next call starts from
 * `start()` again and reads the last C/2 items, the new one included, so the
 * state always holds between C/2 and C (see RunSettings.context).
 */
export function contextWindow<I, S, O>(
  context: number,
  start: () => S,
  advance: (state: S, item: I) => { readonly state: S; readonly out: O },
): (item: I) => O {
  let state = start();
  let held = 0;
  const keep = Math.floor(context / 2);
  /** The last items read (at least `keep` of them, when there were that many; trimmed now and then). */
  let recent: I[] = [];
  return (item) => {
    let todo = [item];
    if (context > 0) {
      recent.push(item);
      if (recent.length > 2 * keep) recent = recent.slice(recent.length - keep);
      if (held >= context) {
        todo = recent.slice(recent.length - keep);
        state = start();
        held = 0;
      }
    }
    let out: O | undefined;
    for (const x of todo) {
      const r = advance(state, x);
      state = r.state;
      out = r.out;
      held++;
    }
    return out as O;
  };
}
