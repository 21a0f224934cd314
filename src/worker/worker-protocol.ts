/**
 * What the inference worker exposes over Comlink (inference-worker.ts implements it, inference-client.ts
 * calls it): the StageBackend's calls, with `load` also carrying how to set up onnxruntime.
 */
import type { StageLoadResult, StageStats } from '../core/pipeline/local-stage';
import type { CalibrationRequest, StageLoadRequest, StageStepResult } from '../core/ports';
import type { NamedTensors } from '../core/tensor';

/** How the worker should set up onnxruntime; fixed by the first load (onnxruntime reads it once). */
export interface RuntimeOptions {
  /** Absolute URL of the folder with ort-wasm-simd-threaded.jsep.{mjs,wasm}. */
  readonly wasmPaths: string;
}

export interface InferenceWorkerApi {
  /**
   * Starts onnxruntime (its first session costs seconds: a 28 MB wasm runtime to instantiate) with the
   * settings a stage load uses, so the phone's first real load does not pay it while the room waits.
   */
  warm(runtime: RuntimeOptions): Promise<void>;
  load(req: StageLoadRequest, runtime: RuntimeOptions): Promise<StageLoadResult>;
  step(requestId: string, step: number, tensors: NamedTensors, tokens?: number): Promise<StageStepResult>;
  calibrate(req: CalibrationRequest): Promise<number[][]>;
  release(requestId: string): Promise<void>;
  unload(): Promise<void>;
  stats(): Promise<StageStats>;
  setSlowdown(k: number): Promise<void>;
  setMaxBatch(k: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * The distinct ArrayBuffers behind some tensors, for a transfer list. A buffer listed twice makes
 * postMessage throw, and a SharedArrayBuffer cannot be transferred, so both are filtered out.
 */
export function transferablesOf(tensors: NamedTensors): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    if (t.data.buffer instanceof ArrayBuffer && t.data.buffer.byteLength > 0) buffers.add(t.data.buffer);
  }
  return [...buffers];
}
