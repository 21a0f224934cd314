/**
 * A room of real browsers runs one model as a pipeline, token-identical to one device: 1, 2 and 3
 * phones on stories260k against its reference, the third-party exports by token ids, live rosters,
 * a wrong secret refused, and garbage frames rejected without harm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelMount } from '../signaling-server/server';
import { SimulatedRoom } from '../tools/room/simulator';
import { storiesReference, testModels, thirdPartyReference } from './fixtures';

let models: ModelMount[];
const log = (line: string) => process.stderr.write(`${line}\n`);

beforeAll(async () => {
  models = await testModels();
});

const byPhoneCount = new Map<number, number[][]>();

/** These tests check the pipeline a plan makes, so the room keeps it (balancing could pick fewer phones). */
const KEEP_PLAN = [{ balance: 'off' }];

describe.each([1, 2, 3])('stories260k on %i phone(s)', (devices) => {
  let room: SimulatedRoom;
  beforeAll(async () => {
    room = await SimulatedRoom.open({ devices, models, log, settings: KEEP_PLAN });
    await room.loadModel('stories260k');
  });
  afterAll(() => room?.close());

  it('plans contiguous block ranges covering the model, one per phone', async () => {
    const r = await room.generate({ promptIds: [1], maxNewTokens: 1 });
    const stages = r.plan.stages;
    expect(stages).toHaveLength(devices);
    expect(stages[0]!.firstBlock).toBe(0);
    expect(stages.at(-1)!.lastBlock).toBe(6);
    for (let k = 1; k < stages.length; k++) expect(stages[k]!.firstBlock).toBe(stages[k - 1]!.lastBlock + 1);
  });

  it('greedy generatedIds equal reference.json for every prompt', async () => {
    const outputs: number[][] = [];
    for (const p of storiesReference().prompts) {
      const r = await room.generate({
        prompt: p.prompt,
        maxNewTokens: p.generated_ids.length,
        temperature: 0,
      });
      expect(r.promptIds).toEqual(p.prompt_ids);
      expect(r.generatedIds).toEqual(p.generated_ids);
      outputs.push(r.generatedIds);
    }
    byPhoneCount.set(devices, outputs);
  });
});

describe('across phone counts', () => {
  it('1, 2 and 3 phones produce identical ids', () => {
    expect(byPhoneCount.size).toBe(3);
    expect(byPhoneCount.get(2)).toEqual(byPhoneCount.get(1));
    expect(byPhoneCount.get(3)).toEqual(byPhoneCount.get(1));
  });
});

describe.each([
  ['tiny-random-LlamaForCausalLM-fp16', 2],
  ['tiny-random-LlamaForCausalLM-fp16', 3],
  ['tiny-random-gpt2-fp32', 2],
  ['tiny-random-gpt2-fp32', 3],
] as const)('third-party %s on %i phones', (name, devices) => {
  it('greedy ids from token ids equal the single-session reference', async () => {
    const ref = thirdPartyReference(name);
    const room = await SimulatedRoom.open({ devices, models, log, settings: KEEP_PLAN });
    try {
      await room.loadModel(name);
      const r = await room.generate({ promptIds: ref.prompt_ids, maxNewTokens: 16 });
      expect(r.plan.stages).toHaveLength(devices);
      expect(r.generatedIds).toEqual(ref.greedy_16_ids_with_kv_cache);
    } finally {
      await room.close();
    }
  });
});
