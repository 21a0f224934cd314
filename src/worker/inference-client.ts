/**
 * The main-thread side of the inference worker: a StageBackend whose stage runs in a Web Worker, so a
 * long prefill never freezes the page or the WebRTC links. Callers see the same interface as an
 * in-process stage (core/pipeline/local-stage.ts, which is what the worker runs).
 */
import * as Comlink from 'comlink';
import type { StageLoadResult, StageStats } from '../core/pipeline/local-stage';
import type { CalibrationRequest, StageBackend, StageLoadRequest, StageStepResult } from '../core/ports';
import type { NamedTensors, TensorData } from '../core/tensor';
import type { InferenceWorkerApi, RuntimeOptions } from './worker-protocol';
import { WorkerConnection } from './worker-rpc';

export interface WorkerStageBackendOptions {
  /** Folder serving onnxruntime's wasm runtime (tools/vite/ort-runtime.ts). Default `<base>ort/`. */
  readonly wasmPaths?: string;
  /**
   * Emulate a phone k (≥ 1) times slower: after each run the worker sleeps (k − 1) × the run's time.
   * Benchmarks and tests use it; CPU throttling cannot reach workers. `setSlowdown` changes it later.
   */
  readonly slowdown?: number;
  /**
   * Hand the tensors' (and the load request's) buffers over to the worker instead of copying them.
   * Saves one copy per call but detaches the caller's arrays (they read as empty afterwards), which an
   * in-process stage would not do, so it is off unless the caller owns and drops what it passes.
   */
  readonly transferInputs?: boolean;
  /** Most sequences one session run takes together (continuous batching); 1 (the default) runs each alone. */
  readonly maxBatch?: number;
  /** Start onnxruntime now, in the background (a phone's stage worker, before its first assignment). */
  readonly warm?: boolean;
}

/** How long dispose() waits for the worker to free its session before terminating it anyway. */
const DISPOSE_GRACE_MS = 3000;

export class WorkerStageBackend implements StageBackend {
  private readonly rpc: WorkerConnection<InferenceWorkerApi>;
  private readonly runtime: RuntimeOptions;
  private readonly transferInputs: boolean;

  constructor(opts: WorkerStageBackendOptions = {}) {
    const slowdown = opts.slowdown ?? 1;
    if (!(Number.isFinite(slowdown) && slowdown >= 1))
      throw new RangeError(`a slowdown must be a number ≥ 1, got ${slowdown}`);
    // Written out literally so that vite recognises it and bundles the worker as its own chunk.
    const worker = new Worker(new URL('./inference-worker.ts', import.meta.url), {
      type: 'module',
      name: 'chorus-inference',
    });
    this.rpc = new WorkerConnection(worker, 'inference worker');
    this.runtime = {
      // Absolute, because the worker resolves relative URLs against its own script's URL.
      wasmPaths: opts.wasmPaths ?? new URL(`${import.meta.env.BASE_URL}ort/`, globalThis.location.href).href,
    };
    this.transferInputs = opts.transferInputs ?? false;
    // Sent first, so it is in force before any load; calls run in order in the worker. A failure here
    // (the worker never started) surfaces again, with its reason, on the caller's first real call.
    if (slowdown !== 1) this.setSlowdown(slowdown).catch(() => undefined);
    if (opts.maxBatch !== undefined) this.setMaxBatch(opts.maxBatch).catch(() => undefined);
    // A failed warm-up costs nothing but the time it would have saved: the first load starts it again.
    if (opts.warm) this.rpc.call('warm', (w) => w.warm(this.runtime)).catch(() => undefined);
  }

  load(req: StageLoadRequest): Promise<StageLoadResult> {
    const transfer = new Set<ArrayBuffer>();
    const weights: Record<string, Uint8Array> = {};
    for (const [name, bytes] of Object.entries(req.weights)) weights[name] = this.pack(bytes, transfer);
    const sent = { ...req, graph: this.pack(req.graph, transfer), weights };
    return this.rpc.call('load', (w) => w.load(Comlink.transfer(sent, [...transfer]), this.runtime));
  }

  step(requestId: string, step: number, tensors: NamedTensors, tokens?: number): Promise<StageStepResult> {
    const transfer = new Set<ArrayBuffer>();
    const sent: NamedTensors = {};
    for (const [name, t] of Object.entries(tensors)) sent[name] = { ...t, data: this.pack(t.data, transfer) };
    return this.rpc.call(`step ${step} of request ${requestId}`, (w) =>
      w.step(requestId, step, Comlink.transfer(sent, [...transfer]), tokens),
    );
  }

  calibrate(req: CalibrationRequest): Promise<number[][]> {
    return this.rpc.call('calibrate', (w) => w.calibrate(req));
  }

  release(requestId: string): Promise<void> {
    return this.rpc.call(`release of request ${requestId}`, (w) => w.release(requestId));
  }

  unload(): Promise<void> {
    return this.rpc.call('unload', (w) => w.unload());
  }

  stats(): Promise<StageStats> {
    return this.rpc.call('stats', (w) => w.stats());
  }

  setSlowdown(k: number): Promise<void> {
    return this.rpc.call('setSlowdown', (w) => w.setSlowdown(k));
  }

  setMaxBatch(k: number): Promise<void> {
    return this.rpc.call('setMaxBatch', (w) => w.setMaxBatch(k));
  }

  async dispose(): Promise<void> {
    if (this.rpc.dead) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DISPOSE_GRACE_MS);
    });
    // Let the worker release its session (wasm memory) first, but never hang on a stuck worker.
    await Promise.race([this.rpc.call('dispose', (w) => w.dispose()).catch(() => undefined), grace]);
    clearTimeout(timer);
    this.rpc.kill(new Error('the stage backend was disposed'));
  }

  /** The array to send: the caller's own (transferred) or a compact copy (transferred too, no 2nd copy). */
  private pack<T extends TensorData>(data: T, transfer: Set<ArrayBuffer>): T {
    const buf = data.buffer;
    // Only a view that spans its whole buffer may be handed over: transferring detaches the whole buffer,
    // and cloning a view clones the whole buffer, even when the view is a small slice of a large file.
    const whole = buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength;
    if (this.transferInputs && whole && !transfer.has(buf)) {
      transfer.add(buf);
      return data;
    }
    const copy = data.slice() as T;
    transfer.add(copy.buffer as ArrayBuffer);
    return copy;
  }
}
