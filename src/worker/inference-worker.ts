/**
 * The inference Web Worker: holds one stage (a StageRunner over an onnxruntime-web session) so that
 * model runs never block the page. Messages are handled strictly one after another: onnxruntime-web
 * cannot run one session concurrently, and a step must never overtake the load before it.
 *
 * A failure of any call is answered with `failed` and the worker stays up for the next call.
 */
import { configureOrt, createWebSession, webGpuAdapter } from '../adapters/ort/web';
import type { PhaseBackends } from '../core/cost/backend-choice';
import { lastLogitsRow, StageRunner } from '../core/pipeline/stage-runner';
import type { ModelSession, StageLoadRequest } from '../core/ports';
import type { ComputeBackend } from '../core/protocol/messages';
import type { NamedTensors } from '../core/tensor';
import { type FromWorker, type RuntimeOptions, type ToWorker, transferablesOf } from './worker-protocol';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

interface LoadedStage {
  readonly runner: StageRunner;
  readonly trimLogits: boolean;
}

let stage: LoadedStage | null = null;
let slowdown = 1;

/**
 * Blocks this worker for `ms` without burning a core (Atomics.wait on a private SharedArrayBuffer, which
 * a cross-origin isolated worker may do), so an emulated slow phone leaves the CPU to the others.
 */
function sleepSync(ms: number): void {
  if (ms <= 0) return;
  if (typeof SharedArrayBuffer !== 'undefined') {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return;
  }
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* no SharedArrayBuffer: spin */
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  // The wasm runtime sometimes throws plain strings or numbers (e.g. an abort code).
  return typeof e === 'string' ? e : `non-Error thrown: ${String(e)}`;
}

/** Names the request expects but the session lacks: a mismatch caught here reads far better than ORT's. */
function checkNames(what: string, wanted: readonly string[], has: readonly string[]): void {
  const have = new Set(has);
  const missing = wanted.filter((n) => !have.has(n));
  if (missing.length > 0) throw new Error(`the stage graph has no ${what} ${missing.join(', ')}`);
}

async function load(
  req: StageLoadRequest,
  runtime: RuntimeOptions,
): Promise<{ backend: string; loadMs: number; adapter?: string }> {
  const t0 = performance.now();
  if (stage) {
    // A new assignment replaces the old stage; free its wasm memory before allocating the new one.
    const old = stage;
    stage = null;
    await old.runner.close();
  }
  slowdown = Math.max(1, runtime.slowdown ?? 1);
  const applied = configureOrt({ wasmPaths: runtime.wasmPaths, threads: req.threads ?? 1 });
  // Each phase on the runtime asked for (the stage host's choice); two sessions when they differ.
  const phases: PhaseBackends = req.phases ?? { decode: 'wasm', prefill: 'wasm' };
  const usesGpu = phases.decode === 'webgpu' || phases.prefill === 'webgpu';
  const adapter = usesGpu ? await webGpuAdapter() : null;
  if (usesGpu && !adapter)
    throw new Error('WebGPU was asked for, but this browser gives no WebGPU adapter (use wasm)');
  const sessions: ModelSession[] = [];
  try {
    sessions.push(await createWebSession(req.graph, req.weights, { executionProviders: [phases.decode] }));
    if (phases.prefill !== phases.decode)
      sessions.push(await createWebSession(req.graph, req.weights, { executionProviders: [phases.prefill] }));
    for (const session of sessions) {
      checkNames('input', req.inputs, session.inputNames);
      checkNames('output', req.outputs, session.outputNames);
    }
  } catch (e) {
    await Promise.allSettled(sessions.map((s) => s.release()));
    throw e;
  }
  const specs = new Map(req.inputSpecs.map((s) => [s.name, s]));
  stage = {
    runner: new StageRunner(sessions[0]!, req, specs, sessions[1]),
    trimLogits: req.trimLogits,
  };
  const name = (ep: ComputeBackend) =>
    ep === 'webgpu' ? 'webgpu' : `wasm (${applied.threads} thread${applied.threads === 1 ? '' : 's'})`;
  const backend =
    phases.prefill !== phases.decode
      ? `decode on ${name(phases.decode)}, prefill on ${name(phases.prefill)}`
      : name(phases.decode);
  return { backend, loadMs: performance.now() - t0, ...(adapter ? { adapter } : {}) };
}

async function step(
  requestId: string,
  n: number,
  tensors: NamedTensors,
): Promise<{ outputs: NamedTensors; ms: number }> {
  if (!stage) throw new Error('no stage is loaded in this worker (step before load, or after dispose)');
  const t0 = performance.now();
  const outputs = await stage.runner.step(requestId, n, tensors);
  sleepSync((slowdown - 1) * (performance.now() - t0));
  const ms = performance.now() - t0;
  if (stage.trimLogits) {
    const logits = outputs.logits;
    if (!logits) throw new Error('this is the last stage (trimLogits) but it produced no logits');
    // Only the last position's row goes back: the rest of [1, S, V] is of no use to the sampler.
    const row = lastLogitsRow(logits);
    outputs.logits = { dtype: 'float32', dims: [row.length], data: row };
  }
  return { outputs, ms };
}

async function handle(msg: ToWorker): Promise<FromWorker> {
  switch (msg.kind) {
    case 'load': {
      return { kind: 'loaded', id: msg.id, ...(await load(msg.req, msg.runtime)) };
    }
    case 'step': {
      const { outputs, ms } = await step(msg.requestId, msg.step, msg.tensors);
      return { kind: 'stepped', id: msg.id, outputs, ms };
    }
    case 'release':
      stage?.runner.release(msg.requestId);
      return { kind: 'done', id: msg.id };
    case 'dispose':
      if (stage) {
        const old = stage;
        stage = null;
        await old.runner.close();
      }
      return { kind: 'done', id: msg.id };
    default: {
      const unknown: never = msg;
      throw new Error(`unknown message kind ${String((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

function reply(msg: FromWorker): void {
  const transfer = msg.kind === 'stepped' ? transferablesOf(msg.outputs) : [];
  try {
    scope.postMessage(msg, transfer);
  } catch (e) {
    scope.postMessage({
      kind: 'failed',
      id: msg.id,
      message: `could not send the ${msg.kind} reply: ${describe(e)}`,
    });
  }
}

let queue: Promise<void> = Promise.resolve();

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  const id = typeof msg?.id === 'number' ? msg.id : -1;
  queue = queue.then(async () => {
    try {
      reply(await handle(msg));
    } catch (e) {
      reply({ kind: 'failed', id, message: describe(e) });
    }
  });
};
