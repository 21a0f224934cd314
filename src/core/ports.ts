/**
 * The interfaces the core needs from the outside world. Adapters implement them; the core never imports
 * a runtime, network or storage library itself.
 */
import type { PhaseBackends } from './cost/backend-choice';
import type { IOSpec } from './graph/manifest';
import type { Message } from './protocol/messages';
import type { NamedTensors, Tensor } from './tensor';

/** One loaded ONNX model (a stage, or a whole model) in some runtime: onnxruntime-web, -node, ... */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; returns the requested outputs (all of them when `fetch` is omitted). */
  run(feeds: NamedTensors, fetch?: readonly string[]): Promise<NamedTensors>;
  release(): Promise<void>;
}

/** What a phone needs to start running its stage. */
export interface StageLoadRequest {
  /** The merged stage graph (see core/graph/merge-stage.ts); initializers refer to `weights` by name. */
  readonly graph: Uint8Array;
  /** The blocks' weights files, by the names the graph's external data uses. */
  readonly weights: Readonly<Record<string, Uint8Array>>;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
  /** Specs of the model's graph inputs (the cache inputs' dtypes and layouts come from here). */
  readonly inputSpecs: readonly IOSpec[];
  /** For the last stage: return only the last position's logits row, as `logits` of dims [V]. */
  readonly trimLogits: boolean;
  readonly threads?: number;
  /**
   * The runtime for each phase. When they differ the stage holds two sessions (twice the weights) and
   * the KV cache, kept in CPU memory, passes from the prefill session to the decode one. Absent: the
   * backend's default. Asking for WebGPU where there is no adapter is an error, not a silent fallback.
   */
  readonly phases?: PhaseBackends;
}

/** A throwaway model to time beside a loaded stage (a serving phone measuring itself). */
export interface CalibrationRequest {
  readonly graph: Uint8Array;
  readonly weights: Readonly<Record<string, Uint8Array>>;
  readonly input: string;
  readonly output: string;
  /** Each input to time, and how many timed runs (after one untimed run) it gets. */
  readonly runs: readonly { readonly x: Tensor; readonly times: number }[];
}

export interface StageStepResult {
  /** The stage's non-cache outputs (its share of the data-transmission map, or the logits row). */
  readonly outputs: NamedTensors;
  /** Time the runtime spent on this step, in ms. */
  readonly ms: number;
}

/**
 * A stage that runs somewhere: in a Web Worker behind a proxy (browser), or in-process (tests). Both
 * sides implement this one interface, so callers don't care which they talk to.
 */
export interface StageBackend {
  /** `backend` names the runtime(s) in use; `adapter`, the WebGPU adapter when one is used. */
  load(
    req: StageLoadRequest,
  ): Promise<{ readonly backend: string; readonly loadMs: number; readonly adapter?: string }>;
  /**
   * Runs one step of a request; `tokens` is the positions it adds (default 1). Step 0 starts the
   * request's cache; a step of more than one token (a prefill chunk) always runs alone.
   */
  step(requestId: string, step: number, tensors: NamedTensors, tokens?: number): Promise<StageStepResult>;
  /** Drops one request's KV cache (its answer is over); the stage stays loaded. */
  release(requestId: string): Promise<void>;
  /**
   * Frees the loaded stage (its sessions and every KV cache) but keeps the backend — in the browser its
   * worker, with onnxruntime initialised — for a later `load`; a step before that load is an error.
   */
  unload(): Promise<void>;
  /**
   * `loads`: stages loaded into this backend since it was made; `activeRequests`: requests holding a
   * KV cache now; `kvBytes`: the bytes those caches hold (what a phone's memory budget must cover).
   */
  stats(): Promise<{
    readonly loads: number;
    readonly activeRequests: number;
    readonly kvBytes: number;
    /** Steps that ran in one session run with other sequences' steps, and the largest such batch. */
    readonly batchedSteps: number;
    readonly largestBatch: number;
    /** Session runs that served steps: steps run ÷ this is the mean batch. */
    readonly stepRuns: number;
    /** Ms the runtime spent running steps since the backend was made (emulated slowness included). */
    readonly busyMs: number;
  }>;
  /**
   * Times `req`'s model in a session of its own beside the loaded stage, which it leaves untouched (its
   * session, its KV caches), on the runtime the stage's wasm phase uses; the emulated slowdown applies.
   * Per input, the ms of each timed run.
   */
  calibrate(req: CalibrationRequest): Promise<number[][]>;
  /** Emulate a phone k (≥ 1) times slower from the next step on: benchmarks change it mid-run. */
  setSlowdown(k: number): Promise<void>;
  /** Most sequences one session run may take together (continuous batching); 1 runs each step alone. */
  setMaxBatch(k: number): Promise<void>;
  /** Frees everything for good; later calls are errors. */
  dispose(): Promise<void>;
}

/** One ordered, reliable message channel to another device (a peer data channel, or a loopback). */
export interface Link {
  readonly remoteId: string;
  send(message: Message): void;
  close(): void;
  onMessage(handler: (m: Message) => void): void;
  onClose(handler: () => void): void;
  /** A frame that could not be decoded; the link stays open. */
  onRejected(handler: (error: Error) => void): void;
  /**
   * Bytes sent but still queued locally (a data channel's bufferedAmount). Optional: in-memory links
   * have no queue. Bulk senders (block delivery) use it for backpressure.
   */
  readonly bufferedAmount?: number;
  /** Resolves once at most `lowBytes` are queued, or the link closed. */
  waitForDrain?(lowBytes: number): Promise<void>;
}
