/**
 * Messages between the main thread (inference-client.ts) and the inference worker. One union each way,
 * keyed by `kind`; every message carries the `id` of the call it starts or answers, so replies can be
 * matched even if the worker ever answers out of order.
 */
import type { StageLoadRequest } from '../core/ports';
import type { NamedTensors } from '../core/tensor';

/** How the worker should set up onnxruntime; fixed by the first load (onnxruntime reads it once). */
export interface RuntimeOptions {
  /** Absolute URL of the folder with ort-wasm-simd-threaded.jsep.{mjs,wasm}. */
  readonly wasmPaths: string;
  /**
   * Emulates a phone this many times slower (≥ 1): after each run the worker sleeps (k − 1) × the run's
   * time before answering. Benchmarks and tests use it; CPU throttling cannot reach workers.
   */
  readonly slowdown?: number;
}

export type ToWorker =
  | {
      readonly kind: 'load';
      readonly id: number;
      readonly req: StageLoadRequest;
      readonly runtime: RuntimeOptions;
    }
  | {
      readonly kind: 'step';
      readonly id: number;
      readonly requestId: string;
      readonly step: number;
      readonly tensors: NamedTensors;
    }
  | { readonly kind: 'release'; readonly id: number; readonly requestId: string }
  | { readonly kind: 'dispose'; readonly id: number };

export type FromWorker =
  | {
      readonly kind: 'loaded';
      readonly id: number;
      readonly backend: string;
      readonly loadMs: number;
      readonly adapter?: string;
    }
  | { readonly kind: 'stepped'; readonly id: number; readonly outputs: NamedTensors; readonly ms: number }
  | { readonly kind: 'done'; readonly id: number }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };

/**
 * The distinct ArrayBuffers behind some tensors, for postMessage's transfer list. A buffer listed twice
 * makes postMessage throw, and a SharedArrayBuffer cannot be transferred, so both are filtered out.
 */
export function transferablesOf(tensors: NamedTensors): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    if (t.data.buffer instanceof ArrayBuffer && t.data.buffer.byteLength > 0) buffers.add(t.data.buffer);
  }
  return [...buffers];
}
