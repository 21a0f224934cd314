/**
 * The main-thread side of the inference worker: a StageBackend whose stage runs in a Web Worker, so a
 * long prefill never freezes the page or the WebRTC links. Callers see the same interface as an
 * in-process stage.
 */
import type { StageBackend, StageLoadRequest, StageStepResult } from '../core/ports';
import type { NamedTensors, TensorData } from '../core/tensor';
import type { FromWorker, RuntimeOptions, ToWorker } from './worker-protocol';

export interface WorkerStageBackendOptions {
  /** Folder serving onnxruntime's wasm runtime (tools/vite/ort-runtime.ts). Default `<base>ort/`. */
  readonly wasmPaths?: string;
  /** Emulate a phone k times slower (see RuntimeOptions.slowdown). */
  readonly slowdown?: number;
  /**
   * Hand the tensors' (and the load request's) buffers over to the worker instead of copying them.
   * Saves one copy per call but detaches the caller's arrays (they read as empty afterwards), which an
   * in-process stage would not do, so it is off unless the caller owns and drops what it passes.
   */
  readonly transferInputs?: boolean;
}

type Reply<K extends FromWorker['kind']> = Extract<FromWorker, { kind: K }>;

interface Pending {
  readonly what: string;
  readonly expect: FromWorker['kind'];
  resolve(reply: FromWorker): void;
  reject(error: Error): void;
}

/** How long dispose() waits for the worker to free its session before terminating it anyway. */
const DISPOSE_GRACE_MS = 3000;

export class WorkerStageBackend implements StageBackend {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly runtime: RuntimeOptions;
  private readonly transferInputs: boolean;
  private nextId = 1;
  /** Set once the worker is gone; every later call rejects with it. */
  private dead: Error | null = null;

  constructor(opts: WorkerStageBackendOptions = {}) {
    // Written out literally so that vite recognises it and bundles the worker as its own chunk.
    this.worker = new Worker(new URL('./inference-worker.ts', import.meta.url), {
      type: 'module',
      name: 'chorus-inference',
    });
    this.runtime = {
      // Absolute, because the worker resolves relative URLs against its own script's URL.
      wasmPaths: opts.wasmPaths ?? new URL(`${import.meta.env.BASE_URL}ort/`, globalThis.location.href).href,
      slowdown: opts.slowdown ?? 1,
    };
    this.transferInputs = opts.transferInputs ?? false;
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.settle(ev.data);
    // We catch every error inside the worker, so an error event means it could not even start (e.g. its
    // script failed to load) or something beyond our handlers broke: nothing pending will be answered.
    this.worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      const where = ev.filename ? ` (${ev.filename}:${ev.lineno})` : '';
      this.kill(
        new Error(`inference worker failed: ${ev.message || 'its script could not be loaded'}${where}`),
      );
    };
    this.worker.onmessageerror = () => {
      this.kill(new Error('inference worker sent a reply that could not be deserialised'));
    };
  }

  async load(
    req: StageLoadRequest,
  ): Promise<{ readonly backend: string; readonly loadMs: number; readonly adapter?: string }> {
    const transfer = new Set<ArrayBuffer>();
    const weights: Record<string, Uint8Array> = {};
    for (const [name, bytes] of Object.entries(req.weights)) weights[name] = this.pack(bytes, transfer);
    const graph = this.pack(req.graph, transfer);
    const reply = await this.call(
      'loaded',
      'load',
      (id) => ({ kind: 'load', id, req: { ...req, graph, weights }, runtime: this.runtime }),
      transfer,
    );
    return {
      backend: reply.backend,
      loadMs: reply.loadMs,
      ...(reply.adapter !== undefined ? { adapter: reply.adapter } : {}),
    };
  }

  async step(requestId: string, step: number, tensors: NamedTensors): Promise<StageStepResult> {
    const transfer = new Set<ArrayBuffer>();
    const sent: NamedTensors = {};
    for (const [name, t] of Object.entries(tensors)) sent[name] = { ...t, data: this.pack(t.data, transfer) };
    const reply = await this.call(
      'stepped',
      `step ${step} of request ${requestId}`,
      (id) => ({ kind: 'step', id, requestId, step, tensors: sent }),
      transfer,
    );
    return { outputs: reply.outputs, ms: reply.ms };
  }

  async release(requestId: string): Promise<void> {
    await this.call(
      'done',
      `release of request ${requestId}`,
      (id) => ({ kind: 'release', id, requestId }),
      new Set(),
    );
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    const freed = this.call('done', 'dispose', (id) => ({ kind: 'dispose', id }), new Set());
    const grace = new Promise<void>((resolve) => setTimeout(resolve, DISPOSE_GRACE_MS));
    // Let the worker release its session (wasm memory) first, but never hang on a stuck worker.
    await Promise.race([freed.catch(() => undefined), grace]);
    this.kill(new Error('the stage backend was disposed'));
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

  private call<K extends FromWorker['kind']>(
    expect: K,
    what: string,
    build: (id: number) => ToWorker,
    transfer: ReadonlySet<ArrayBuffer>,
  ): Promise<Reply<K>> {
    if (this.dead) return Promise.reject(new Error(`${what}: ${this.dead.message}`));
    const id = this.nextId++;
    return new Promise<Reply<K>>((resolve, reject) => {
      this.pending.set(id, { what, expect, resolve: (r) => resolve(r as Reply<K>), reject });
      try {
        this.worker.postMessage(build(id), [...transfer]);
      } catch (e) {
        this.pending.delete(id);
        reject(
          new Error(
            `${what}: could not post to the inference worker: ${e instanceof Error ? e.message : String(e)}`,
          ),
        );
      }
    });
  }

  private settle(reply: FromWorker): void {
    const p = this.pending.get(reply.id);
    if (!p) return; // a reply to a call already rejected by kill(): nobody is waiting for it
    this.pending.delete(reply.id);
    if (reply.kind === 'failed')
      p.reject(new Error(`${p.what} failed in the inference worker: ${reply.message}`));
    else if (reply.kind !== p.expect)
      p.reject(new Error(`${p.what}: worker answered ${reply.kind}, expected ${p.expect}`));
    else p.resolve(reply);
  }

  private kill(reason: Error): void {
    if (this.dead) return;
    this.dead = reason;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new Error(`${p.what}: ${reason.message}`));
    this.pending.clear();
  }
}
