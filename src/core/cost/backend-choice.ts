/**
 * Which runtime a phone runs each phase on. A phone GPU wins the big matrix products of a prefill but
 * pays a dispatch cost per op that can lose one-token decode to WASM, so each phase takes whichever ran
 * the calibration kernel faster on this phone. A choice the user made (`?decode=` / `?prefill=`) wins.
 */
import type { ComputeBackend, DeviceProfile, PhaseBackends, WebGpuTiming } from '../protocol/messages';
import type { Calibration } from './cost-model';

export type { PhaseBackends };

export type BackendPreference = ComputeBackend | 'auto';

export interface PhasePreferences {
  readonly decode: BackendPreference;
  readonly prefill: BackendPreference;
}

export const AUTO: PhasePreferences = { decode: 'auto', prefill: 'auto' };

export function choosePhaseBackends(
  wasm: { readonly decodeMs: number; readonly prefillMs: number },
  webgpu: Pick<WebGpuTiming, 'decodeMs' | 'prefillMs'> | undefined,
  wanted: PhasePreferences = AUTO,
): PhaseBackends {
  const decode =
    wanted.decode !== 'auto' ? wanted.decode : webgpu && webgpu.decodeMs < wasm.decodeMs ? 'webgpu' : 'wasm';
  const gpuPrefill = webgpu?.prefillMs;
  const prefill =
    wanted.prefill !== 'auto'
      ? wanted.prefill
      : gpuPrefill !== null && gpuPrefill !== undefined && gpuPrefill < wasm.prefillMs
        ? 'webgpu'
        : 'wasm';
  return { decode, prefill };
}

/**
 * The calibration the cost model should use for this phone's decode steps: that of the runtime its
 * decode runs on. (Prefill is not part of the placement objective: it happens once per prompt.)
 */
export function calibrationOf(p: DeviceProfile): Calibration {
  const gpu = p.webgpuTiming;
  if (p.decodeOn === 'webgpu' && gpu) {
    return {
      shape: p.shape,
      threads: 1,
      backend: 'webgpu',
      decodeMs: gpu.decodeMs,
      // Untimed prefill: bound it by decoding the tokens one by one (attention cost is then overstated).
      prefillMs: gpu.prefillMs ?? gpu.decodeMs * p.prefillTokens,
      prefillTokens: p.prefillTokens,
      perOpMs: gpu.perOpMs,
    };
  }
  return {
    shape: p.shape,
    threads: p.threads,
    backend: p.backend,
    decodeMs: p.decodeMs,
    prefillMs: p.prefillMs,
    prefillTokens: p.prefillTokens,
    perOpMs: p.perOpMs,
  };
}

const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;

/** One line for the phone's card: what it measured and what it will run each phase on. */
export function describeProfile(p: DeviceProfile): string {
  const parts = [`wasm: kernel ${ms(p.decodeMs)}/token, prefill ${ms(p.prefillMs)}`];
  const gpu = p.webgpuTiming;
  if (gpu) {
    const prefill = gpu.prefillMs === null ? 'prefill not timed' : `prefill ${ms(gpu.prefillMs)}`;
    parts.push(`webgpu (${gpu.adapter}): ${ms(gpu.decodeMs)}/token, ${prefill}`);
  } else {
    parts.push(p.webgpu ? 'webgpu: no adapter' : 'no webgpu');
  }
  parts.push(`decode on ${p.decodeOn}, prefill on ${p.prefillOn}`);
  parts.push(`${(p.memoryBudgetBytes / 2 ** 20).toFixed(0)} MB for the model (${p.memorySource})`);
  if (p.slowdown > 1) parts.push(`emulated ${p.slowdown}× slower`);
  return parts.join(' · ');
}
