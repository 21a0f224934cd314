/**
 * The interfaces the core needs from the outside world. Adapters implement them; the core never imports
 * a runtime, network or storage library itself.
 */
import type { NamedTensors } from './tensor';

/** One loaded ONNX model (a stage, or a whole model) in some runtime: onnxruntime-web, -node, ... */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; returns the requested outputs (all of them when `fetch` is omitted). */
  run(feeds: NamedTensors, fetch?: readonly string[]): Promise<NamedTensors>;
  release(): Promise<void>;
}

/** Weights files by name (as the graph's external data refers to them) and their bytes. */
export type ExternalFiles = ReadonlyMap<string, Uint8Array>;
