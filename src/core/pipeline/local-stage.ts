/**
 * A StageBackend that runs its stage in this process, on whatever runtime the session factory gives:
 * onnxruntime-web inside the browser's inference worker, onnxruntime-node in tests. The stage logic
 * (sessions per phase, name checks, KV caches, trimming the logits, emulated slowness) lives here once,
 * so the room protocol can be tested in Node on real models and the worker is only plumbing.
 */
import type {
  CalibrationRequest,
  ModelSession,
  StageBackend,
  StageLoadRequest,
  StageStepResult,
} from '../ports';
import type { ComputeBackend, PhaseBackends } from '../protocol/messages';
import type { NamedTensors } from '../tensor';
import { type BatchItem, isOneToken, lastLogitsRow, StageRunner } from './stage-runner';

/** Opens the merged stage graph, its external data given as bytes by name, on one execution provider. */
export type SessionFactory = (
  graph: Uint8Array,
  weights: Readonly<Record<string, Uint8Array>>,
  executionProvider: ComputeBackend,
) => Promise<ModelSession>;

export type StageLoadResult = Awaited<ReturnType<StageBackend['load']>>;
export type StageStats = Awaited<ReturnType<StageBackend['stats']>>;

export interface LocalStageOptions {
  /** Emulate a phone k (≥ 1) times slower: after each run, wait (k − 1) × the run's time. Default 1. */
  readonly slowdown?: number;
  /**
   * How to wait for the emulated slowness. The worker blocks its thread (Atomics.wait) so the phone is
   * really busy, as a slow phone would be; the default yields to the event loop instead.
   */
  readonly sleep?: (ms: number) => void | Promise<void>;
  /** The WebGPU adapter's name, or null when there is none. Default: none, so asking for WebGPU fails. */
  readonly webGpuAdapter?: () => Promise<string | null>;
  /** Names one phase's runtime for `load`'s `backend`. Default "webgpu" / "wasm (N threads)". */
  readonly describeRuntime?: (ep: ComputeBackend, req: StageLoadRequest) => string;
  /**
   * Most sequences run together in one session run (continuous batching): the one-token steps that
   * wait while the runtime is busy go in as one batch. 1 (the default here) runs every step alone;
   * the app's phones ask for 8 unless `?batching=off` (docs/decisions/011).
   */
  readonly maxBatch?: number;
  /**
   * Lets the steps already queued behind a busy runtime arrive (one macrotask) before the next group
   * starts. In a worker the calls queue as messages, handled only after the run that held the thread;
   * without this, the first of them would start alone before the rest were even seen. Default setTimeout 0.
   */
  readonly yieldToQueue?: () => Promise<void>;
}

/** A step that comes this soon (ms) after a run ended most likely waited for it: others may be queued too. */
const JUST_FREED_MS = 2;

/** A step waiting for the runtime, with the promise its caller holds. */
interface WaitingStep extends BatchItem {
  readonly resolve: (r: StageStepResult) => void;
  readonly reject: (e: unknown) => void;
}

interface LoadedStage {
  readonly runner: StageRunner;
  readonly trimLogits: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function defaultDescription(ep: ComputeBackend, req: StageLoadRequest): string {
  const threads = req.threads ?? 1;
  return ep === 'webgpu' ? 'webgpu' : `wasm (${threads} thread${threads === 1 ? '' : 's'})`;
}

function checkSlowdown(k: number): number {
  if (!(Number.isFinite(k) && k >= 1)) throw new RangeError(`a slowdown must be a number ≥ 1, got ${k}`);
  return k;
}

/** Names the request expects but the session lacks: a mismatch caught here reads far better than ORT's. */
function checkNames(what: string, wanted: readonly string[], has: readonly string[]): void {
  const have = new Set(has);
  const missing = wanted.filter((n) => !have.has(n));
  if (missing.length > 0) throw new Error(`the stage graph has no ${what} ${missing.join(', ')}`);
}

export class LocalStageBackend implements StageBackend {
  private stage: LoadedStage | null = null;
  private loads = 0;
  private slowdown: number;
  private disposed = false;
  /** The tail of the call queue: every call waits for the one before it (see `serial`). */
  private queue: Promise<unknown> = Promise.resolve();
  /** Steps that arrived since the runtime last started on steps: they will run as one group. */
  private waiting: WaitingStep[] | null = null;
  private maxBatch: number;
  /** Steps that ran batched with others, and the largest batch, for stats. */
  private batchedSteps = 0;
  private largestBatch = 1;
  /** Session runs that served steps (a batch is one): steps ÷ runs is the mean batch. */
  private stepRuns = 0;
  /** Ms the runtime spent on steps (emulated slowness included): how busy this phone's stage is. */
  private busyMs = 0;
  private lastRunEnd = Number.NEGATIVE_INFINITY;
  private readonly yieldToQueue: () => Promise<void>;
  private readonly sleep: (ms: number) => void | Promise<void>;
  private readonly webGpuAdapter: () => Promise<string | null>;
  private readonly describeRuntime: (ep: ComputeBackend, req: StageLoadRequest) => string;

  constructor(
    private readonly createSession: SessionFactory,
    opts: LocalStageOptions = {},
  ) {
    this.slowdown = checkSlowdown(opts.slowdown ?? 1);
    this.sleep = opts.sleep ?? defaultSleep;
    this.webGpuAdapter = opts.webGpuAdapter ?? (async () => null);
    this.describeRuntime = opts.describeRuntime ?? defaultDescription;
    this.maxBatch = checkMaxBatch(opts.maxBatch ?? 1);
    this.yieldToQueue = opts.yieldToQueue ?? (() => new Promise((resolve) => setTimeout(resolve, 0)));
  }

  load(req: StageLoadRequest): Promise<StageLoadResult> {
    return this.serial('load', () => this.loadNow(req));
  }

  /**
   * Opens and closes a throwaway session so the runtime's one-time start-up is paid before the first
   * load. In the queue like every other call: onnxruntime-web keeps the external-data files of a session
   * being created in one table per module and clears it when any creation ends, so a warm-up that
   * overlapped a load made that load fail ("Module.MountedFiles is not available").
   */
  warm(graph: Uint8Array): Promise<void> {
    return this.serial('warm', async () => {
      const session = await this.createSession(graph, {}, 'wasm');
      await session.release();
    });
  }

  /**
   * Steps join the group waiting for the runtime; the group runs when the runtime frees up, so the
   * steps of many answers that meet at this stage share one session run (see `runGroup`).
   */
  step(requestId: string, step: number, tensors: NamedTensors, tokens = 1): Promise<StageStepResult> {
    return new Promise((resolve, reject) => {
      const item = { requestId, step, tensors, tokens, resolve, reject };
      if (this.waiting) {
        this.waiting.push(item);
        return;
      }
      const group = [item];
      this.waiting = group;
      const busy = this.maxBatch > 1 && performance.now() - this.lastRunEnd < JUST_FREED_MS;
      this.serial(`step ${step} of request ${requestId}`, async () => {
        if (busy) await this.yieldToQueue();
        if (this.waiting === group) this.waiting = null;
        return this.runGroup(group);
      }).catch((e) => {
        for (const s of group) s.reject(e);
      });
    });
  }

  setMaxBatch(k: number): Promise<void> {
    return this.serial('setMaxBatch', () => {
      this.maxBatch = checkMaxBatch(k);
    });
  }

  release(requestId: string): Promise<void> {
    return this.serial(`release of request ${requestId}`, () => this.stage?.runner.release(requestId));
  }

  unload(): Promise<void> {
    return this.serial('unload', () => this.unloadNow());
  }

  stats(): Promise<StageStats> {
    return this.serial('stats', () => ({
      loads: this.loads,
      activeRequests: this.stage?.runner.activeRequests ?? 0,
      kvBytes: this.stage?.runner.kvBytes ?? 0,
      batchedSteps: this.batchedSteps,
      largestBatch: this.largestBatch,
      stepRuns: this.stepRuns,
      busyMs: this.busyMs,
    }));
  }

  setSlowdown(k: number): Promise<void> {
    return this.serial('setSlowdown', () => {
      this.slowdown = checkSlowdown(k);
    });
  }

  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    return this.serial('dispose', async () => {
      this.disposed = true;
      await this.unloadNow();
    });
  }

  /**
   * Runs calls strictly one after another, in the order they were made: a runtime cannot run one
   * session concurrently, and a step must never overtake the load before it. A call made after
   * dispose fails, naming itself.
   */
  private serial<T>(what: string, run: () => T | Promise<T>): Promise<T> {
    // Steps that come after this call must not join a group queued before it (nor overtake a load).
    if (!what.startsWith('step ')) this.waiting = null;
    const result = this.queue.then(() => {
      if (this.disposed) throw new Error(`${what}: this stage backend was disposed`);
      return run();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async unloadNow(): Promise<void> {
    const old = this.stage;
    if (!old) return;
    this.stage = null;
    await old.runner.close();
  }

  private async loadNow(req: StageLoadRequest): Promise<StageLoadResult> {
    const t0 = performance.now();
    // A new assignment replaces the old stage: free its memory before allocating the new one.
    await this.unloadNow();
    // Each phase on the runtime asked for (the stage host's choice); two sessions when they differ.
    const phases: PhaseBackends = req.phases ?? { decode: 'wasm', prefill: 'wasm' };
    const usesGpu = phases.decode === 'webgpu' || phases.prefill === 'webgpu';
    const adapter = usesGpu ? await this.webGpuAdapter() : null;
    if (usesGpu && !adapter)
      throw new Error('WebGPU was asked for, but this browser gives no WebGPU adapter (use wasm)');
    const sessions: ModelSession[] = [];
    try {
      sessions.push(await this.createSession(req.graph, req.weights, phases.decode));
      if (phases.prefill !== phases.decode)
        sessions.push(await this.createSession(req.graph, req.weights, phases.prefill));
      for (const session of sessions) {
        checkNames('input', req.inputs, session.inputNames);
        checkNames('output', req.outputs, session.outputNames);
      }
    } catch (e) {
      await Promise.allSettled(sessions.map((s) => s.release()));
      throw e;
    }
    const specs = new Map(req.inputSpecs.map((s) => [s.name, s]));
    this.stage = {
      runner: new StageRunner(sessions[0]!, req, specs, sessions[1]),
      trimLogits: req.trimLogits,
    };
    this.loads++;
    const name = (ep: ComputeBackend) => this.describeRuntime(ep, req);
    const backend =
      phases.prefill !== phases.decode
        ? `decode on ${name(phases.decode)}, prefill on ${name(phases.prefill)}`
        : name(phases.decode);
    return { backend, loadMs: performance.now() - t0, ...(adapter ? { adapter } : {}) };
  }

  calibrate(req: CalibrationRequest): Promise<number[][]> {
    return this.serial('calibrate', () => this.calibrateNow(req));
  }

  private async calibrateNow(req: CalibrationRequest): Promise<number[][]> {
    const session = await this.createSession(req.graph, req.weights, 'wasm');
    try {
      const out: number[][] = [];
      for (const { x, times } of req.runs) {
        const ms: number[] = [];
        for (let i = 0; i <= times; i++) {
          const t0 = performance.now();
          await session.run({ [req.input]: x }, [req.output]);
          if (this.slowdown > 1) await this.sleep((this.slowdown - 1) * (performance.now() - t0));
          if (i > 0) ms.push(performance.now() - t0); // the first run pays one-time costs
        }
        out.push(ms);
      }
      return out;
    } finally {
      await session.release();
    }
  }

  /**
   * Runs a group of waiting steps: one-token steps of distinct requests together, up to maxBatch, and
   * the rest (a prefill or a chunk of one, a request's next replayed step) alone, each request's steps
   * in their order.
   * A batch this stage can't run together runs one step after another; each step settles on its own.
   */
  private async runGroup(group: WaitingStep[]): Promise<void> {
    let left = group;
    while (left.length > 0) {
      const batch: WaitingStep[] = [];
      const blocked = new Set<string>();
      for (const s of left) {
        const first = batch.length === 0;
        if (first || (batch.length < this.maxBatch && isOneToken(s) && !blocked.has(s.requestId)))
          batch.push(s);
        blocked.add(s.requestId); // a request's later steps wait for this one
        if (first && !isOneToken(s)) break; // a prefill, or a chunk of one, runs alone
      }
      left = left.filter((s) => !batch.includes(s));
      await this.runBatch(batch);
    }
  }

  private async runBatch(batch: readonly WaitingStep[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const { value, ms } = await this.timed((stage) => stage.runner.stepMany(batch));
        if (typeof value !== 'string') {
          this.batchedSteps += batch.length;
          this.largestBatch = Math.max(this.largestBatch, batch.length);
          for (const [i, s] of batch.entries()) this.settle(s, () => this.finish(value[i]!, ms));
          return;
        }
        // Not batchable (yet): `value` says why; the steps run one by one below.
      } catch {
        // Run them one by one below: each then fails, or not, on its own.
      }
    }
    for (const s of batch) {
      try {
        const r = await this.timed((stage) => stage.runner.step(s.requestId, s.step, s.tensors, s.tokens));
        this.settle(s, () => this.finish(r.value, r.ms));
      } catch (e) {
        s.reject(e);
      }
    }
  }

  private settle(s: WaitingStep, result: () => StageStepResult): void {
    try {
      s.resolve(result());
    } catch (e) {
      s.reject(e);
    }
  }

  /** Runs on the loaded stage, then waits out the emulated slowness; `ms` includes that wait. */
  private async timed<T>(run: (stage: LoadedStage) => Promise<T>): Promise<{ value: T; ms: number }> {
    const stage = this.stage;
    if (!stage) throw new Error('no stage is loaded in this backend (a step before load, or after unload)');
    const t0 = performance.now();
    const value = await run(stage);
    // CPU throttling cannot reach a worker, so a slow phone is emulated by waiting after each run.
    if (this.slowdown > 1) await this.sleep((this.slowdown - 1) * (performance.now() - t0));
    this.lastRunEnd = performance.now();
    if (typeof value !== 'string') this.stepRuns++; // a string: the batch was refused, nothing ran
    this.busyMs += this.lastRunEnd - t0;
    return { value, ms: this.lastRunEnd - t0 };
  }

  private finish(outputs: NamedTensors, ms: number): StageStepResult {
    if (this.stage?.trimLogits) {
      const logits = outputs.logits;
      if (!logits) throw new Error('this is the last stage (trimLogits) but it produced no logits');
      // Only the last position's row goes back: the rest of [1, S, V] is of no use to the sampler.
      const row = lastLogitsRow(logits);
      outputs.logits = { dtype: 'float32', dims: [row.length], data: row };
    }
    return { outputs, ms };
  }
}

function checkMaxBatch(k: number): number {
  if (!(Number.isInteger(k) && k >= 1))
    throw new RangeError(`a batch limit must be an integer ≥ 1, got ${k}`);
  return k;
}
