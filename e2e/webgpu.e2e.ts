/**
 * WebGPU, per phase. This machine's only adapter is Chromium's software one (SwiftShader): correct but
 * far slower than WASM, so these tests check the WebGPU path's correctness and the choice logic, never
 * its speed. Each phone times the kernel on both runtimes and runs each phase on the faster; a phone
 * told `?prefill=webgpu` prefills on WebGPU and decodes on WASM with its KV cache passed between the
 * two sessions, a phone told `?decode=webgpu&prefill=webgpu` runs its stage on WebGPU alone, and the
 * tokens are still the reference's (they were not before tools/vite/ort-webgpu-fix.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, prepareModel } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';

const reference = (
  JSON.parse(readFileSync(path.join(DEFAULT_MODEL, 'reference.json'), 'utf8')) as {
    prompts: { prompt: string; generated_ids: number[] }[];
  }
).prompts[0]!;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Each phone card on the leader's page: its state, detail line and measurements. */
function cards(leader: Page) {
  return leader.getByTestId('phone-card').evaluateAll((els) =>
    els.map((e) => {
      const root = e.shadowRoot;
      const details = [...(root?.querySelectorAll('.detail') ?? [])].map((d) => d.textContent ?? '');
      return {
        state: e.getAttribute('data-state') ?? '',
        details: details.join(' | '),
        measured: root?.querySelector('[data-testid=phone-measured]')?.textContent ?? '',
      };
    }),
  );
}

const msOf = (text: string, re: RegExp) => {
  const m = re.exec(text);
  if (!m) throw new Error(`${re} not in "${text}"`);
  return Number(m[1]);
};

describe('WebGPU per phase (software adapter)', () => {
  let room: SimulatedRoom | null = null;
  afterEach(async () => {
    await room?.close();
    room = null;
  });

  it('times WebGPU, picks the faster runtime per phase, and a WebGPU prefill gives the reference tokens', async () => {
    room = await SimulatedRoom.open({
      devices: 3,
      models: [await prepareModel(DEFAULT_MODEL)],
      log,
      webgpu: true,
      // Every phone must take part: none can hold the whole model (the second holds its weights twice).
      memoryMB: [5, 8, 5],
      settings: [undefined, { prefill: 'webgpu' }, { decode: 'webgpu', prefill: 'webgpu' }],
    });
    await room.loadModel('chorus-kjv', 300_000, 'solved');
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: reference.generated_ids.length });
    expect(r.generatedIds).toEqual(reference.generated_ids);
    expect(r.plan.stages).toHaveLength(3);

    const [leader, phone, gpuPhone] = await cards(room.leader);
    // The leader chose by measurement: each phase on whichever runtime timed faster.
    expect(leader!.measured).toMatch(/webgpu \(google swiftshader\): /);
    const wasmDecode = msOf(leader!.measured, /wasm: kernel ([\d.]+) ms\/token/);
    const gpuDecode = msOf(leader!.measured, /webgpu \([^)]*\): ([\d.]+) ms\/token/);
    const decodeOn = /decode on (\w+)/.exec(leader!.measured)![1];
    expect(decodeOn).toBe(gpuDecode < wasmDecode ? 'webgpu' : 'wasm');
    // The other phone was told to prefill on WebGPU: its stage holds two sessions.
    expect(phone!.measured).toMatch(/decode on wasm, prefill on webgpu/);
    expect(phone!.details).toMatch(/decode on wasm \(1 thread\), prefill on webgpu/);
    // The third runs its whole stage on WebGPU.
    expect(gpuPhone!.measured).toMatch(/decode on webgpu, prefill on webgpu/);
    expect(gpuPhone!.details).toMatch(/(^|\| )webgpu · /);
  });

  it('says so clearly when WebGPU is asked for and there is no adapter', async () => {
    room = await SimulatedRoom.open({
      devices: 2,
      models: [await prepareModel(DEFAULT_MODEL)],
      log,
      settings: [undefined, { decode: 'webgpu' }],
    });
    await expect(room.loadModel('chorus-kjv', 120_000, 'solved')).rejects.toThrow(
      /Phone 1: could not measure/,
    );
    const [, phone] = await cards(room.leader);
    expect(phone!.state).toBe('error');
    expect(phone!.details).toMatch(/could not measure this phone: .*no WebGPU adapter/);
  });
});
