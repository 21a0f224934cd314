/** The generation loop's prefill in chunks, against a scripted pipeline that records what it was fed. */
import { describe, expect, it } from 'vitest';
import type { IOSpec } from '../graph/manifest';
import { DEFAULT_SAMPLING } from '../sampling';
import { generate, type RunStep } from './generation';

const SPECS: IOSpec[] = ['input_ids', 'attention_mask', 'position_ids'].map((name) => ({
  name,
  dtype: 'int64',
  elemType: 7,
  dims: [1, 'sequence'],
}));
const GREEDY = { ...DEFAULT_SAMPLING, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

/** A pipeline whose logits always pick token 7; it records each step's ids, positions and mask. */
function recording() {
  const fed: { step: number; ids: number[]; positions: number[]; mask: number }[] = [];
  const run: RunStep = async (_rid, step, inputs) => {
    const ints = (name: string) => Array.from(inputs[name]!.data as BigInt64Array, Number);
    fed.push({
      step,
      ids: ints('input_ids'),
      positions: ints('position_ids'),
      mask: ints('attention_mask').length,
    });
    const logits = new Float32Array(10);
    logits[7] = 1;
    return { logits, stageTimesMs: [1, 2], residentMs: [3, 4] };
  };
  return { fed, run };
}

const request = (prefillChunk?: number) => ({
  requestId: 'r',
  promptIds: [1, 2, 3, 4, 5],
  params: { ...GREEDY, maxNewTokens: 2 },
  stopIds: new Set<number>(),
  inputSpecs: SPECS,
  ...(prefillChunk === undefined ? {} : { prefillChunk }),
});

describe('generate: prefill in chunks', () => {
  it('feeds a long prompt in steps of the chunk, positions and mask running on', async () => {
    const { fed, run } = recording();
    const r = await generate(request(2), run);
    expect(r.generatedIds).toEqual([7, 7]);
    expect(fed).toEqual([
      { step: 0, ids: [1, 2], positions: [0, 1], mask: 2 },
      { step: 1, ids: [3, 4], positions: [2, 3], mask: 4 },
      { step: 2, ids: [5], positions: [4], mask: 5 },
      { step: 3, ids: [7], positions: [5], mask: 6 },
    ]);
    // The chunks count as one prefill: its times summed, then one entry per generated token.
    expect(r.stepMs).toHaveLength(2);
    expect(r.stageTimesMs).toEqual([
      [3, 6],
      [1, 2],
    ]);
    expect(r.residentMs[0]).toEqual([9, 12]);
  });

  it('without a chunk, or with one longer than the prompt, the prompt goes in one step', async () => {
    for (const chunk of [undefined, 5, 64]) {
      const { fed, run } = recording();
      await generate(request(chunk), run);
      expect(fed.map((f) => f.ids)).toEqual([[1, 2, 3, 4, 5], [7]]);
    }
  });

  it('refuses a chunk that is not a whole number ≥ 1', async () => {
    for (const chunk of [0, 1.5, -2])
      await expect(generate(request(chunk), recording().run)).rejects.toThrow(/chunk/);
  });
});
