import { describe, expect, it } from 'vitest';
import { stepInputs } from './model-inputs';
import { idsOf, rebuildChunks } from './rebuild';

describe('rebuildChunks', () => {
  it('one chunk for a short answer', () => {
    // A prompt of 3, then 4 one-token steps: 7 ids, steps 0 … 4.
    const fed = [[1, 2, 3], [4], [5], [6], [7]];
    expect(rebuildChunks(fed, 64, 4)).toEqual([{ step: 0, ids: [1, 2, 3, 4, 5, 6, 7] }]);
  });

  it('chunks of at most `chunk` ids, numbered from 0, fewer than the steps they replace', () => {
    // A 5-id prompt fed in chunks of 2 (steps 0–2), then 3 one-token steps (3–5): 8 ids.
    const fed = [[1, 2], [3, 4], [5], [6], [7], [8]];
    const chunks = rebuildChunks(fed, 2, 5);
    expect(chunks).toEqual([
      { step: 0, ids: [1, 2] },
      { step: 1, ids: [3, 4] },
      { step: 2, ids: [5, 6] },
      { step: 3, ids: [7, 8] },
    ]);
  });

  it('only the steps up to `through` are rebuilt', () => {
    expect(rebuildChunks([[1, 2], [3]], 8, 0)).toEqual([{ step: 0, ids: [1, 2] }]);
  });
});

describe('idsOf', () => {
  it('reads the ids back from a step of int64 or int32 inputs', () => {
    const specs = [
      { name: 'input_ids', dtype: 'int64' as const, elemType: 7, dims: [1, 'seq'] },
      { name: 'attention_mask', dtype: 'int64' as const, elemType: 7, dims: [1, 'total'] },
    ];
    expect(idsOf(stepInputs(specs, [5, 6, 7], 2))).toEqual([5, 6, 7]);
    const int32 = [{ name: 'input_ids', dtype: 'int32' as const, elemType: 6, dims: [1, 'seq'] }];
    expect(idsOf(stepInputs(int32, [9], 0))).toEqual([9]);
  });
});
