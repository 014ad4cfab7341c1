/**
 * Chooses the tfjs backend at run time: the native `@tensorflow/tfjs-node`
 * when it loads (an optional dependency; many times faster), otherwise the
 * WebAssembly backend (with a registered `UnsortedSegmentSum` kernel, which it
 * lacks and which the gradient of an embedding lookup needs), otherwise the
 * plain JavaScript `cpu` backend. One code path for all three.
 */
import * as tf from '@tensorflow/tfjs';

/** Backend names as tfjs reports them. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What was chosen, and why the faster ones were not. */
export interface BackendInfo {
  readonly name: BackendName;
  /** True for the native TensorFlow backend. */
  readonly native: boolean;
  /** Reasons faster backends were not used (empty when native loaded). */
  readonly notes: readonly string[];
}

let current: BackendInfo | null = null;

/** Preference order; `auto` tries them in order. */
export type BackendPreference = 'auto' | BackendName;

/** The backend chosen earlier, or null before {@link initBackend}. */
export function currentBackend(): BackendInfo | null {
  return current;
}

/**
 * Initializes the fastest available backend (or the one asked for, via the
 * argument or the MUSICGEN_BACKEND environment variable) and returns what
 * was chosen. Safe to call again: later calls return the first choice unless
 * a different backend is asked for explicitly.
 */
export async function initBackend(preference: BackendPreference = envPreference()): Promise<BackendInfo> {
  if (current && (preference === 'auto' || preference === current.name)) return current;
  const notes: string[] = [];
  const order: BackendName[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  for (const name of order) {
    const why = await tryBackend(name);
    if (why === null) {
      current = { name, native: name === 'tensorflow', notes };
      return current;
    }
    notes.push(`${name}: ${why}`);
  }
  throw new Error(`no tfjs backend could be initialized (${notes.join('; ')})`);
}

function envPreference(): BackendPreference {
  const v = process.env.MUSICGEN_BACKEND;
  if (v === 'tensorflow' || v === 'wasm' || v === 'cpu' || v === 'auto') return v;
  if (v) throw new RangeError(`MUSICGEN_BACKEND must be auto, tensorflow, wasm or cpu (got "${v}")`);
  return 'auto';
}

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // Optional dependency: absent where its native library could not be installed.
      require('@tensorflow/tfjs-node');
    } else if (name === 'wasm') {
      require('@tensorflow/tfjs-backend-wasm');
      registerWasmSegmentSum();
    }
    if (!(await tf.setBackend(name))) return 'failed to initialize';
    await tf.ready();
    return null;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return /Cannot find module/.test(msg) ? 'not installed' : msg;
  }
}

let segmentSumRegistered = false;

/**
 * Registers `UnsortedSegmentSum` for the wasm backend (a plain loop over the
 * wasm heap), so tfjs's own layers can train an embedding there too.
 */
function registerWasmSegmentSum(): void {
  if (segmentSumRegistered || tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  segmentSumRegistered = true;
  interface WasmBackendLike {
    readSync(dataId: object): ArrayLike<number>;
    makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
    typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
  }
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const b = backend as unknown as WasmBackendLike;
      const xv = b.readSync(x.dataId);
      const ids = b.readSync(segmentIds.dataId);
      const inner = x.shape.slice(1).reduce((a, d) => a * d, 1);
      const out = b.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
      const ov = b.typedArrayFromHeap(out);
      ov.fill(0);
      for (let i = 0; i < ids.length; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue;
        const src = i * inner;
        const dst = s * inner;
        for (let k = 0; k < inner; k++) ov[dst + k] += xv[src + k];
      }
      return out;
    },
  });
}

/** A one-line description, e.g. "wasm (WebAssembly; tfjs-node: not installed)". */
export function describeBackend(info: BackendInfo): string {
  const label = info.name === 'tensorflow' ? 'tfjs-node, native TensorFlow' : info.name === 'wasm' ? 'WebAssembly' : 'plain JavaScript';
  return `${info.name} (${label}${info.notes.length ? `; ${info.notes.join('; ')}` : ''})`;
}
