/**
 * A phone measures itself: the calibration kernel (core/cost) timed through the same worker and runtime
 * path its stage will use — so an emulated slowdown shows here too — at 1 thread (decode's best) and,
 * for prefill, at all its cores; then on WebGPU when there is an adapter, so each phase can run on the
 * faster; plus its memory budget. Runs in throwaway workers so a loaded stage is untouched.
 */

import { AUTO, choosePhaseBackends, type PhasePreferences } from '../core/cost/backend-choice';
import {
  DISPATCH_CHAIN_OPS,
  dispatchChainModel,
  type LayerShape,
  layerKernelModel,
} from '../core/cost/calibration-model';
import type { StageBackend } from '../core/ports';
import type { ComputeBackend, DeviceProfile, WebGpuTiming } from '../core/protocol/messages';
import type { Tensor } from '../core/tensor';

const PREFILL_TOKENS = 32;

const filled = (dims: number[]): Tensor => ({
  dtype: 'float32',
  dims,
  data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.01),
});

/**
 * Median time of `runs` runs after one untimed one (a session's first run pays one-time costs). Stops
 * early once a run takes over `giveUpAboveMs`: a backend that slow has lost already.
 */
async function timeRuns(
  backend: StageBackend,
  input: string,
  x: Tensor,
  runs: number,
  giveUpAboveMs = Number.POSITIVE_INFINITY,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const r = await backend.step('calibration', 0, { [input]: x });
    if (i === 0) continue;
    times.push(r.ms);
    if (r.ms > giveUpAboveMs) break;
  }
  return middle(times);
}

/** The median of some run times (the upper middle for an even count). */
function middle(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function load(
  backend: StageBackend,
  model: { graph: Uint8Array; weights: Record<string, Uint8Array> },
  input: string,
  output: string,
  threads: number,
  on: ComputeBackend = 'wasm',
) {
  return backend.load({
    graph: model.graph,
    weights: model.weights,
    inputs: [input],
    outputs: [output],
    cacheInputs: [],
    cacheOutputs: [],
    inputSpecs: [],
    trimLogits: false,
    threads,
    phases: { decode: on, prefill: on },
  });
}

/** Past this, a WebGPU prefill is not timed: its decode showed it would take seconds, and lose. */
const GPU_PREFILL_BUDGET_MS = 4000;

/**
 * The kernel on WebGPU, or why not. A software adapter (SwiftShader) can be 50× slower than WASM, so
 * the timing gives up early rather than keep a joining phone busy for a minute.
 */
async function timeWebGpu(
  backend: StageBackend,
  shape: LayerShape,
  wasmDecodeMs: number,
): Promise<WebGpuTiming | { error: string }> {
  // Any failure here (no adapter, a GPU out of memory, a lost device) only means: no WebGPU timing.
  try {
    const chain = await load(
      backend,
      { graph: dispatchChainModel(), weights: {} },
      'small',
      'z',
      1,
      'webgpu',
    );
    const adapter = chain.adapter ?? 'unnamed adapter';
    const perOpMs = (await timeRuns(backend, 'small', filled([1, 1, 8]), 5)) / DISPATCH_CHAIN_OPS;
    await load(backend, layerKernelModel(shape), 'x', 'y', 1, 'webgpu');
    const decodeMs = await timeRuns(backend, 'x', filled([1, 1, shape.hidden]), 4, wasmDecodeMs * 4);
    if (decodeMs * PREFILL_TOKENS > GPU_PREFILL_BUDGET_MS) {
      const note = `prefill not timed: ${decodeMs.toFixed(0)} ms per decode token (wasm ${wasmDecodeMs.toFixed(1)})`;
      return { adapter, decodeMs, prefillMs: null, perOpMs, note };
    }
    const prefillMs = await timeRuns(backend, 'x', filled([1, PREFILL_TOKENS, shape.hidden]), 2);
    return { adapter, decodeMs, prefillMs, perOpMs };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export interface MemoryBudget {
  bytes: number;
  source: string;
}

/**
 * What the tab already uses, where the browser can say (`performance.measureUserAgentSpecificMemory`,
 * Chromium, cross-origin isolated pages only). It resolves at the next garbage collection, which can
 * take a while: past `timeoutMs` it is left out rather than hold up the phone's join.
 */
async function tabMemoryInUse(timeoutMs = 3000): Promise<number | null> {
  const perf = performance as Performance & {
    measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }>;
  };
  if (!perf.measureUserAgentSpecificMemory || !globalThis.crossOriginIsolated) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await Promise.race([
      perf.measureUserAgentSpecificMemory(),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      }),
    ]);
    return r && Number.isFinite(r.bytes) ? r.bytes : null;
  } catch {
    return null; // e.g. a SecurityError where the page is not isolated after all
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What this phone may spend on weights and KV cache. Browsers expose little: `deviceMemory` (GB,
 * rounded, capped at 8) is the best signal; a tab can rarely use more than ~40% of it, less what the
 * tab already holds. A cap the user sets wins.
 */
export async function memoryBudget(userCapMB: number | null): Promise<MemoryBudget> {
  if (userCapMB && userCapMB > 0) return { bytes: userCapMB * 2 ** 20, source: `user cap ${userCapMB} MB` };
  const gb = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  const used = await tabMemoryInUse();
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
  const usedNote = used !== null ? `, less ${mb(used)} the tab already uses` : '';
  const base = gb ? Math.round(gb * 2 ** 30 * 0.4) : 2 ** 30;
  const bytes = Math.max(base - (used ?? 0), 0);
  return gb
    ? { bytes, source: `40% of navigator.deviceMemory (${gb} GB)${usedNote}` }
    : { bytes, source: `default 1 GB (the browser reports no memory size)${usedNote}` };
}

export interface MeasureOptions {
  readonly newBackend: () => StageBackend;
  /**
   * The phone's own stage worker, whose runtime is started already, so the single-thread timings run
   * there instead of paying a fresh runtime's seconds: loaded into it when it holds no stage (and
   * unloaded after), or timed beside the stage it serves (`calibrate`). A serving phone skips the
   * all-threads timing: a second runtime would cost it seconds between answers.
   */
  readonly own?: { readonly backend: StageBackend; readonly serving: boolean };
  readonly slowdown: number;
  readonly memoryCapMB: number | null;
  /** The browser gives a WebGPU adapter (so timing WebGPU can tell something). */
  readonly webgpu: boolean;
  /** The user's choice of runtime per phase (`?decode=` / `?prefill=`); 'auto': the faster measured. */
  readonly wanted?: PhasePreferences;
}

export async function measureDevice(shape: LayerShape, opts: MeasureOptions): Promise<DeviceProfile> {
  const wanted = opts.wanted ?? AUTO;
  // Asked first: the tab's memory in use resolves only at a garbage collection, seconds away at times.
  const budgetSoon = memoryBudget(opts.memoryCapMB);
  const cores = navigator.hardwareConcurrency ?? 1;
  const serving = opts.own?.serving ? opts.own.backend : null;
  const allThreads = cores > 1 && globalThis.crossOriginIsolated && !serving;
  // The all-threads runtime starts (seconds of wasm start-up) while the single thread is timed: on a
  // phone with spare cores it costs those timings little, and it saves the phone's join its wait.
  const many = allThreads ? opts.newBackend() : null;
  const manyLoaded = many ? load(many, layerKernelModel(shape), 'x', 'y', cores) : null;
  manyLoaded?.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
  const own = opts.own && !opts.own.serving ? opts.own.backend : null;
  let decodeMs: number;
  let prefillMs: number;
  let perOpMs: number;
  let backendName: string;
  if (serving) {
    const [chain] = await serving.calibrate({
      graph: dispatchChainModel(),
      weights: {},
      input: 'small',
      output: 'z',
      runs: [{ x: filled([1, 1, 8]), times: 20 }],
    });
    perOpMs = middle(chain!) / DISPATCH_CHAIN_OPS;
    const [decode, prefill] = await serving.calibrate({
      ...layerKernelModel(shape),
      input: 'x',
      output: 'y',
      runs: [
        { x: filled([1, 1, shape.hidden]), times: 8 },
        { x: filled([1, PREFILL_TOKENS, shape.hidden]), times: 2 },
      ],
    });
    decodeMs = middle(decode!);
    prefillMs = middle(prefill!);
    backendName = 'wasm (1 thread)';
  } else {
    const single = own ?? opts.newBackend();
    try {
      await load(single, { graph: dispatchChainModel(), weights: {} }, 'small', 'z', 1);
      perOpMs = (await timeRuns(single, 'small', filled([1, 1, 8]), 20)) / DISPATCH_CHAIN_OPS;
      const kernel = layerKernelModel(shape);
      backendName = (await load(single, kernel, 'x', 'y', 1)).backend;
      decodeMs = await timeRuns(single, 'x', filled([1, 1, shape.hidden]), 8);
      prefillMs = await timeRuns(single, 'x', filled([1, PREFILL_TOKENS, shape.hidden]), 2);
    } finally {
      if (own) await own.unload();
      else await single.dispose();
    }
  }
  let multi: Pick<DeviceProfile, 'prefillMsAllThreads' | 'allThreads'> = {};
  if (many && manyLoaded) {
    try {
      await manyLoaded;
      multi = {
        prefillMsAllThreads: await timeRuns(many, 'x', filled([1, PREFILL_TOKENS, shape.hidden]), 2),
        allThreads: cores,
      };
    } finally {
      await many.dispose();
    }
  }
  let webgpuTiming: WebGpuTiming | undefined;
  if (opts.webgpu) {
    const gpu = opts.newBackend();
    try {
      const t = await timeWebGpu(gpu, shape, decodeMs);
      if ('error' in t) {
        if (wanted.decode === 'webgpu' || wanted.prefill === 'webgpu') throw new Error(t.error);
      } else webgpuTiming = t;
    } finally {
      await gpu.dispose();
    }
  } else if (wanted.decode === 'webgpu' || wanted.prefill === 'webgpu') {
    throw new Error('WebGPU was asked for, but this browser gives no WebGPU adapter');
  }
  const budget = await budgetSoon;
  const phases = choosePhaseBackends({ decodeMs, prefillMs }, webgpuTiming, wanted);
  return {
    shape: { ...shape },
    decodeMs,
    prefillMs,
    prefillTokens: PREFILL_TOKENS,
    perOpMs,
    threads: 1,
    backend: backendName,
    ...multi,
    ...(webgpuTiming ? { webgpuTiming } : {}),
    decodeOn: phases.decode,
    prefillOn: phases.prefill,
    memoryBudgetBytes: budget.bytes,
    memorySource: budget.source,
    webgpu: opts.webgpu,
    slowdown: opts.slowdown,
  };
}
