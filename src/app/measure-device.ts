/**
 * A phone measures itself: the calibration kernel (core/cost) timed through the same worker and runtime
 * path its stage will use — so an emulated slowdown shows here too — at 1 thread (decode's best) and,
 * for prefill, at all its cores; plus its memory budget. Runs in throwaway workers so a loaded stage
 * is untouched.
 */
import {
  DISPATCH_CHAIN_OPS,
  dispatchChainModel,
  type LayerShape,
  layerKernelModel,
} from '../core/cost/calibration-model';
import type { StageBackend } from '../core/ports';
import type { DeviceProfile } from '../core/protocol/messages';
import type { Tensor } from '../core/tensor';

const PREFILL_TOKENS = 32;

const filled = (dims: number[]): Tensor => ({
  dtype: 'float32',
  dims,
  data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.01),
});

async function timeRuns(backend: StageBackend, input: string, x: Tensor, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const r = await backend.step('calibration', 0, { [input]: x });
    if (i > 0) times.push(r.ms); // the first run of a session pays one-time costs
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

function load(
  backend: StageBackend,
  model: { graph: Uint8Array; weights: Record<string, Uint8Array> },
  input: string,
  output: string,
  threads: number,
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
  });
}

export interface MemoryBudget {
  bytes: number;
  source: string;
}

/**
 * What this phone may spend on weights and KV cache. Browsers expose little: `deviceMemory` (GB,
 * rounded, capped at 8) is the best signal; a tab can rarely use more than ~40% of it. A cap the user
 * sets wins.
 */
export function memoryBudget(userCapMB: number | null): MemoryBudget {
  if (userCapMB && userCapMB > 0) return { bytes: userCapMB * 2 ** 20, source: `user cap ${userCapMB} MB` };
  const gb = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  if (gb)
    return { bytes: Math.round(gb * 2 ** 30 * 0.4), source: `40% of navigator.deviceMemory (${gb} GB)` };
  return { bytes: 2 ** 30, source: 'default 1 GB (the browser reports no memory size)' };
}

export async function measureDevice(
  shape: LayerShape,
  opts: { newBackend: () => StageBackend; slowdown: number; memoryCapMB: number | null; webgpu: boolean },
): Promise<DeviceProfile> {
  const single = opts.newBackend();
  let decodeMs: number;
  let prefillMs: number;
  let perOpMs: number;
  let backendName: string;
  try {
    await load(single, { graph: dispatchChainModel(), weights: {} }, 'small', 'z', 1);
    perOpMs = (await timeRuns(single, 'small', filled([1, 1, 8]), 20)) / DISPATCH_CHAIN_OPS;
    const kernel = layerKernelModel(shape);
    backendName = (await load(single, kernel, 'x', 'y', 1)).backend;
    decodeMs = await timeRuns(single, 'x', filled([1, 1, shape.hidden]), 8);
    prefillMs = await timeRuns(single, 'x', filled([1, PREFILL_TOKENS, shape.hidden]), 2);
  } finally {
    await single.dispose();
  }
  const cores = navigator.hardwareConcurrency ?? 1;
  let multi: Pick<DeviceProfile, 'prefillMsAllThreads' | 'allThreads'> = {};
  if (cores > 1 && globalThis.crossOriginIsolated) {
    const many = opts.newBackend();
    try {
      await load(many, layerKernelModel(shape), 'x', 'y', cores);
      multi = {
        prefillMsAllThreads: await timeRuns(many, 'x', filled([1, PREFILL_TOKENS, shape.hidden]), 2),
        allThreads: cores,
      };
    } finally {
      await many.dispose();
    }
  }
  const budget = memoryBudget(opts.memoryCapMB);
  return {
    shape: { ...shape },
    decodeMs,
    prefillMs,
    prefillTokens: PREFILL_TOKENS,
    perOpMs,
    threads: 1,
    backend: backendName,
    ...multi,
    memoryBudgetBytes: budget.bytes,
    memorySource: budget.source,
    webgpu: opts.webgpu,
    slowdown: opts.slowdown,
  };
}
