import { describe, expect, it } from 'vitest';
import type { BlockEntry, Manifest, TensorRoute } from '../graph/manifest';
import { assignments, evenSplitByBlocks, forwardSet, leaderInputs } from './plan';

const block = (index: number, params: number): BlockEntry =>
  ({ index, params, kind: index === 0 ? 'prologue' : 'layer', layer: index - 1 }) as unknown as BlockEntry;
const route = (name: string, producer: number, consumers: number[]): TensorRoute =>
  ({ name, producer, consumers, elemType: 1, dtype: 'float32' }) as TensorRoute;

function manifest(params: number[], tensors: TensorRoute[] = []): Manifest {
  return { blocks: params.map((p, i) => block(i, p)), tensors } as unknown as Manifest;
}

describe('even splits', () => {
  it('by blocks: as many blocks per phone as can be, in order, contiguous', () => {
    const plan = evenSplitByBlocks(manifest([9, 1, 1, 1, 1, 1, 1, 9]), ['a', 'b', 'c'], 'p');
    expect(plan.stages.map((s) => s.phoneId)).toEqual(['a', 'b', 'c']);
    expect(plan.stages[0]!.firstBlock).toBe(0);
    expect(plan.stages.at(-1)!.lastBlock).toBe(7);
    for (let k = 1; k < 3; k++) expect(plan.stages[k]!.firstBlock).toBe(plan.stages[k - 1]!.lastBlock + 1);
    expect(plan.stages.map((s) => s.lastBlock - s.firstBlock + 1).sort()).toEqual([2, 3, 3]);
  });

  it('never gives a phone an empty stage: with more phones than blocks, phones are left out', () => {
    const plan = evenSplitByBlocks(manifest([1, 1]), ['a', 'b', 'c'], 'p');
    expect(plan.stages.map((s) => s.phoneId)).toEqual(['a', 'b']);
  });

  it('needs at least one phone', () => {
    expect(() => evenSplitByBlocks(manifest([1]), [], 'p')).toThrow(/no phones/);
  });
});

describe('forward sets: the data-transmission map along the chain', () => {
  // mask: made by block 0, read by every layer; h1: block 1 → 2; ids: a graph input read by 0 and 3.
  const m = manifest(
    [1, 1, 1, 1],
    [route('mask', 0, [1, 2, 3]), route('h1', 1, [2]), route('ids', -1, [0, 3]), route('h2', 2, [3])],
  );
  const plan = evenSplitByBlocks(m, ['a', 'b'], 'p'); // a: 0–1, b: 2–3

  it('a stage sends what later stages read: its own outputs and what it relays', () => {
    expect(forwardSet(m, plan, 0).sort()).toEqual(['h1', 'ids', 'mask']);
  });

  it('the last stage sends the logits to the leader; the leader feeds the graph inputs', () => {
    const jobs = assignments(m, plan, 'http://x/');
    expect(jobs[1]!.forward).toEqual(['logits']);
    expect(jobs[0]!.nextPeer).toBe('b');
    expect(jobs[1]!.nextPeer).toBeNull();
    expect(leaderInputs(m)).toEqual(['ids']);
  });
});
