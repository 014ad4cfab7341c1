/**
 * Stateful inference for the note-step family (./note-network.ts): the main
 * LSTM stack advances once per step (a note, a bar with its meter, the
 * start), and a small head writes the next step's tokens one at a time.
 *
 *     advanceStep(state, group, look-back, flags) → h_s        (once per step)
 *     headStart(h_s) → head state (zeros, with h_s's share of the gates)
 *     headStep(head, y_{j−1}) → logits of y_j                  (once per token; y_{−1} = startId)
 *
 * The math is the saved layers model's, term for term: the step's slots
 * (the group padded with padId to STEP_SLOTS, then the LOOKBACK_SLOTS
 * look-back ids) are embedded and concatenated, x = slots·stepKernel +
 * stepBias; the first LSTM layer reads [x; flags]; the head's LSTM reads
 * [h_top; embedding(prev)] from a zero state at every step; logits =
 * h_head·outKernel + outBias (the saved model applies the softmax). The
 * weights are copied out once, and the products run on the same engines as
 * the token model's inference (./inference.ts); the main stack starts from
 * its `initialState` (zeros).
 */
import * as tf from '@tensorflow/tfjs';
import { LOOKBACK_FLAGS, LOOKBACK_SLOTS, STEP_SLOTS } from '../tokens/steps';
import {
  gemvMaker,
  inferenceLayer,
  layerStep,
  lstmCell,
  resolveEngine,
  type Gemv,
  type GemvEngine,
  type InferenceLayer,
  type LstmState,
} from './inference';
import { noteCodeSize } from './config';
import type { LayerState, MusicModel } from './network';

/** Everything note-step inference needs, copied out of the model once. Call dispose() when done. */
export interface NoteInferenceWeights {
  /** The ids the head chooses among (the vocabulary's V tokens, then any copy ids); padId = codeSize, startId = codeSize + 1 (../tokens/steps.ts). */
  readonly codeSize: number;
  readonly embeddingDim: number;
  /** Which engine computes the products. */
  readonly engine: GemvEngine;
  /** [codeSize + 2, embeddingDim] */
  readonly embedding: Float32Array;
  /** The concatenated slot embeddings ((STEP_SLOTS + LOOKBACK_SLOTS)·embeddingDim) → the step vector x (stepUnits). */
  readonly step: Gemv;
  /** The main stack; the first layer reads [x; flags]. */
  readonly layers: readonly InferenceLayer[];
  /** The head's share of h_top in its gates, with the head's bias: h_top (units) → 4·headUnits. */
  readonly headTop: Gemv;
  /** The rest of the head's gates, without bias: [embedding(prev); h_head] → 4·headUnits. */
  readonly headRest: Gemv;
  readonly headUnits: number;
  /** h_head → logits over the codes (with headSkip, without the bias: {@link outputTop} adds it). */
  readonly output: Gemv;
  /** With headSkip: h_top → its share of the logits, with the bias (once per step); else null. */
  readonly outputTop: Gemv | null;
  /** Frees tensors held by the tfjs engine (a no-op for the JS engine). */
  dispose(): void;
}

/** The head's state while it writes one step's tokens. Never mutated; each headStep returns a new one. */
export interface HeadState extends LayerState<Float32Array> {
  /** h_top's share of the head's gates (with the bias), the same for every slot of the step. */
  readonly top: Float32Array;
  /** With headSkip, h_top's share of the logits (with the bias), the same for every slot; else null. */
  readonly topLogits: Float32Array | null;
}

/** What one head step returns: the scores of the next token of the step, and the head's state after reading the previous one. */
export interface HeadPrediction {
  /** Unnormalized scores over the vocabulary and the copy ids (codeSize values). */
  readonly logits: Float32Array;
  readonly state: HeadState;
}

/**
 * Copies a note-step model's weights out for inference (engine as in
 * ./inference.ts `readInferenceWeights`). Throws a RangeError for a model of
 * the token family.
 */
export function readNoteInferenceWeights(model: MusicModel, engine: GemvEngine | 'auto' = 'auto'): NoteInferenceWeights {
  const c = model.config;
  const note = model.vars.note;
  if (c.family !== 'note' || !note)
    throw new RangeError(`note-step inference needs a model of the "note" family (this one is of the "${c.family ?? 'token'}" family)`);
  const use = resolveEngine(engine);
  const held: tf.Tensor[] = [];
  const gemv = gemvMaker(use, held);
  const top = model.vars.lstm[model.vars.lstm.length - 1].recurrentKernel.shape[0];
  const headUnits = note.head.recurrentKernel.shape[0];
  const skip = (model.vars.outKernel.shape[0] as number) > headUnits;
  const C = noteCodeSize(c);
  const [headTopKernel, headRestKernel, zeros, outHead, outTop, outZeros] = tf.tidy(() => {
    const k = note.head.kernel as tf.Tensor2D;
    const rest = tf.concat([k.slice([top, 0], [k.shape[0] - top, 4 * headUnits]), note.head.recurrentKernel], 0) as tf.Tensor2D;
    const o = model.vars.outKernel as tf.Tensor2D;
    return [
      k.slice([0, 0], [top, 4 * headUnits]),
      rest,
      tf.zeros([4 * headUnits]) as tf.Tensor1D,
      o.slice([0, 0], [headUnits, C]),
      o.slice([headUnits, 0], [o.shape[0] - headUnits, C]),
      tf.zeros([C]) as tf.Tensor1D,
    ];
  });
  try {
    return {
      codeSize: noteCodeSize(c),
      embeddingDim: c.embeddingDim,
      engine: use,
      embedding: model.vars.embedding.dataSync() as Float32Array,
      step: gemv(note.stepKernel as tf.Tensor2D, note.stepBias as tf.Tensor1D),
      layers: model.vars.lstm.map((l) => inferenceLayer(l, gemv)),
      headTop: gemv(headTopKernel, note.head.bias as tf.Tensor1D),
      headRest: gemv(headRestKernel, zeros),
      headUnits,
      output: skip ? gemv(outHead, outZeros) : gemv(model.vars.outKernel as tf.Tensor2D, model.vars.outBias as tf.Tensor1D),
      outputTop: skip ? gemv(outTop, model.vars.outBias as tf.Tensor1D) : null,
      dispose: () => tf.dispose(held),
    };
  } finally {
    tf.dispose([headTopKernel, headRestKernel, zeros, outHead, outTop, outZeros]);
  }
}

/** Checks that `id` is an integer in [0, limit); throws a RangeError naming `what` otherwise. */
function checkId(id: number, limit: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= limit) throw new RangeError(`${what} id ${id} is outside [0, ${limit})`);
}

/**
 * The main stack reads one complete step: `group` is its token ids (1 to
 * STEP_SLOTS, unpadded), `lookback` the LOOKBACK_SLOTS look-back ids after it
 * (padId where there is no note) and `flags` its LOOKBACK_FLAGS flags, as
 * ../tokens/steps.ts `stepReader` gives them. Returns the top layer's output
 * (what the head starts the next step from) and the new state.
 */
export function advanceStep(
  w: NoteInferenceWeights,
  state: LstmState,
  group: readonly number[],
  lookback: Int32Array,
  flags: Float32Array,
): { readonly h: Float32Array; readonly state: LstmState } {
  if (group.length < 1 || group.length > STEP_SLOTS) throw new RangeError(`a step has 1 to ${STEP_SLOTS} tokens (got ${group.length})`);
  if (lookback.length !== LOOKBACK_SLOTS || flags.length !== LOOKBACK_FLAGS) {
    throw new RangeError(
      `a step's look-back has ${LOOKBACK_SLOTS} ids and ${LOOKBACK_FLAGS} flags (got ${lookback.length} and ${flags.length})`,
    );
  }
  const V = w.codeSize;
  const E = w.embeddingDim;
  const slots = new Float32Array((STEP_SLOTS + LOOKBACK_SLOTS) * E);
  for (let k = 0; k < STEP_SLOTS + LOOKBACK_SLOTS; k++) {
    let id: number;
    if (k < STEP_SLOTS) {
      id = k < group.length ? group[k] : V;
      checkId(id, k < group.length ? V : V + 1, 'token');
    } else {
      id = lookback[k - STEP_SLOTS];
      checkId(id, V + 1, 'look-back');
    }
    slots.set(w.embedding.subarray(id * E, (id + 1) * E), k * E);
  }
  const step = w.step(slots);
  const x0 = new Float32Array(step.length + LOOKBACK_FLAGS);
  x0.set(step, 0);
  x0.set(flags, step.length);
  let x = x0;
  const next: LayerState<Float32Array>[] = [];
  w.layers.forEach((layer, l) => {
    const s = layerStep(layer, x, state[l]);
    next.push(s);
    x = s.h;
  });
  return { h: x, state: next };
}

/** The head's state at the start of a step after `h` (the top output of {@link advanceStep}): zeros, with h's share of the gates computed once. */
export function headStart(w: NoteInferenceWeights, h: Float32Array): HeadState {
  const H = w.headUnits;
  return { h: new Float32Array(H), c: new Float32Array(H), top: w.headTop(h), topLogits: w.outputTop ? w.outputTop(h) : null };
}

/**
 * The head reads the step's previous token `prev` (startId = codeSize + 1 before the
 * step's first token) and gives the scores of the step's next token.
 */
export function headStep(w: NoteInferenceWeights, state: HeadState, prev: number): HeadPrediction {
  checkId(prev, w.codeSize + 2, 'head input');
  const E = w.embeddingDim;
  const H = w.headUnits;
  const xh = new Float32Array(E + H);
  xh.set(w.embedding.subarray(prev * E, (prev + 1) * E), 0);
  xh.set(state.h, E);
  const rest = w.headRest(xh);
  const z = new Float32Array(4 * H);
  for (let j = 0; j < 4 * H; j++) z[j] = rest[j] + state.top[j];
  const s = lstmCell(z, state.c);
  const logits = w.output(s.h);
  if (state.topLogits) for (let j = 0; j < logits.length; j++) logits[j] += state.topLogits[j];
  return { logits, state: { ...s, top: state.top, topLogits: state.topLogits } };
}
