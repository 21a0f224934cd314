/**
 * The inference Web Worker: holds one stage so that model runs never block the page. The stage logic is
 * core/pipeline/local-stage.ts; this file only gives it onnxruntime-web and exposes it over Comlink.
 * LocalStageBackend runs calls strictly one after another, in arrival order, so a step never overtakes
 * the load before it even though Comlink starts each call as its message arrives.
 *
 * A failing call rejects (Comlink carries the error back) and the worker stays up for the next call.
 */
import * as Comlink from 'comlink';
import { configureOrt, createWebSession, ortConfig, webGpuAdapter } from '../adapters/ort/web';
import { dispatchChainModel } from '../core/cost/calibration-model';
import { LocalStageBackend, type SessionFactory } from '../core/pipeline/local-stage';
import type { InferenceWorkerApi } from './worker-protocol';
import { transferablesOf } from './worker-protocol';
import { asError } from './worker-rpc';

/**
 * Blocks this worker for `ms` without burning a core (Atomics.wait on a private SharedArrayBuffer, which
 * a cross-origin isolated worker may do): an emulated slow phone is busy, yet leaves the CPU to others.
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

const webSessions: SessionFactory = (graph, weights, executionProvider) =>
  createWebSession(graph, weights, { executionProviders: [executionProvider] });

const backend = new LocalStageBackend(webSessions, {
  sleep: sleepSync,
  webGpuAdapter,
  // The threads in force, not the ones asked for: onnxruntime keeps the first load's setting.
  describeRuntime: (ep) => {
    const threads = ortConfig()?.threads ?? 1;
    return ep === 'webgpu' ? 'webgpu' : `wasm (${threads} thread${threads === 1 ? '' : 's'})`;
  },
});

const api: InferenceWorkerApi = {
  warm: (runtime) =>
    asError(async () => {
      // The threads a stage load asks for (1: decode's best); onnxruntime keeps the first setting.
      configureOrt({ wasmPaths: runtime.wasmPaths, threads: 1 });
      await backend.warm(dispatchChainModel());
    }),
  load: (req, runtime) =>
    asError(() => {
      // Only the first call has an effect; it must come before the first session is created.
      configureOrt({ wasmPaths: runtime.wasmPaths, threads: req.threads ?? 1 });
      return backend.load(req);
    }),
  step: (requestId, step, tensors, tokens) =>
    asError(async () => {
      const result = await backend.step(requestId, step, tensors, tokens);
      // Hand the outputs' buffers to the page instead of copying them; this worker drops them anyway.
      return Comlink.transfer(result, transferablesOf(result.outputs));
    }),
  calibrate: (req) => asError(() => backend.calibrate(req)),
  release: (requestId) => asError(() => backend.release(requestId)),
  unload: () => asError(() => backend.unload()),
  stats: () => asError(() => backend.stats()),
  setSlowdown: (k) => asError(() => backend.setSlowdown(k)),
  setMaxBatch: (k) => asError(() => backend.setMaxBatch(k)),
  dispose: () => asError(() => backend.dispose()),
};

Comlink.expose(api);
