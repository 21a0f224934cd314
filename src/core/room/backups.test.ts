import { describe, expect, it } from 'vitest';
import { backupBlocks } from './backups';
import type { StagePlan } from './plan';

const stages: StagePlan[] = [
  { phoneId: 'a', firstBlock: 0, lastBlock: 4 },
  { phoneId: 'b', firstBlock: 5, lastBlock: 9 },
  { phoneId: 'c', firstBlock: 10, lastBlock: 13 },
];

describe('backupBlocks', () => {
  it('gives the middle stage both neighbours, nearest blocks first', () => {
    expect(backupBlocks(stages, 1)).toEqual([4, 10, 3, 11, 2, 12, 1, 13, 0]);
  });

  it('gives an end stage its one neighbour', () => {
    expect(backupBlocks(stages, 0)).toEqual([5, 6, 7, 8, 9]);
    expect(backupBlocks(stages, 2)).toEqual([9, 8, 7, 6, 5]);
  });

  it('covers what each phone takes when any one phone leaves an even 3-way split', () => {
    // Leaving c: a takes 0–6, b takes 7–13; leaving b: a takes 0–6, c takes 7–13.
    const covered = (k: number, first: number, last: number) => {
      const have = new Set([...backupBlocks(stages, k)]);
      for (let b = stages[k]!.firstBlock; b <= stages[k]!.lastBlock; b++) have.add(b);
      for (let b = first; b <= last; b++) if (!have.has(b)) return false;
      return true;
    };
    expect(covered(0, 0, 6)).toBe(true);
    expect(covered(1, 7, 13)).toBe(true);
    expect(covered(2, 7, 13)).toBe(true);
  });

  it('with what the phone can hold: the neighbours first, then the rest nearest first, up to its budget', () => {
    const blockBytes = new Array(14).fill(10);
    expect(backupBlocks(stages, 0, { budgetBytes: 1000, blockBytes })).toEqual([
      5, 6, 7, 8, 9, 10, 11, 12, 13,
    ]);
    // 5 own blocks + 3 more fit in 80 bytes.
    expect(backupBlocks(stages, 0, { budgetBytes: 80, blockBytes })).toEqual([5, 6, 7]);
    expect(backupBlocks(stages, 2, { budgetBytes: 140, blockBytes })).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('is empty for a lone stage or an unknown index', () => {
    expect(backupBlocks([stages[0]!], 0)).toEqual([]);
    expect(backupBlocks(stages, 5)).toEqual([]);
  });
});
