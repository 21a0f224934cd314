import { describe, expect, it } from 'vitest';
import type { DeviceProfile } from '../protocol/messages';
import { calibrationOf, choosePhaseBackends, describeProfile } from './backend-choice';

const wasm = { decodeMs: 10, prefillMs: 200 };

describe('choosePhaseBackends', () => {
  it('keeps wasm when there is no WebGPU', () => {
    expect(choosePhaseBackends(wasm, undefined)).toEqual({ decode: 'wasm', prefill: 'wasm' });
  });

  it('picks the faster runtime for each phase on its own', () => {
    expect(choosePhaseBackends(wasm, { decodeMs: 14, prefillMs: 50 })).toEqual({
      decode: 'wasm',
      prefill: 'webgpu',
    });
    expect(choosePhaseBackends(wasm, { decodeMs: 6, prefillMs: 300 })).toEqual({
      decode: 'webgpu',
      prefill: 'wasm',
    });
  });

  it('never picks an untimed WebGPU prefill, and the user’s choice wins over timings', () => {
    expect(choosePhaseBackends(wasm, { decodeMs: 1, prefillMs: null }).prefill).toBe('wasm');
    expect(
      choosePhaseBackends(wasm, { decodeMs: 900, prefillMs: null }, { decode: 'webgpu', prefill: 'auto' }),
    ).toEqual({ decode: 'webgpu', prefill: 'wasm' });
  });
});

const profile: DeviceProfile = {
  shape: { hidden: 64, kvDim: 32, intermediate: 128 },
  decodeMs: 10,
  prefillMs: 200,
  prefillTokens: 32,
  perOpMs: 0.01,
  threads: 1,
  backend: 'wasm (1 thread)',
  webgpuTiming: { adapter: 'google swiftshader', decodeMs: 4, prefillMs: null, perOpMs: 0.1 },
  decodeOn: 'webgpu',
  prefillOn: 'wasm',
  memoryBudgetBytes: 2 ** 30,
  memorySource: 'test',
  webgpu: true,
  slowdown: 2,
};

describe('calibrationOf', () => {
  it('uses the timings of the runtime decode runs on', () => {
    const c = calibrationOf(profile);
    expect(c.backend).toBe('webgpu');
    expect(c.decodeMs).toBe(4);
    expect(c.perOpMs).toBe(0.1);
    expect(c.prefillMs).toBe(4 * 32);
    expect(calibrationOf({ ...profile, decodeOn: 'wasm' }).decodeMs).toBe(10);
  });

  it('describes both runtimes and the choice on one line', () => {
    const line = describeProfile(profile);
    expect(line).toMatch(/wasm: kernel 10 ms\/token/);
    expect(line).toMatch(/webgpu \(google swiftshader\): 4\.00 ms\/token, prefill not timed/);
    expect(line).toMatch(
      /decode on webgpu, prefill on wasm · 1024 MB for the model \(test\) · emulated 2× slower/,
    );
  });
});
