import { describe, expect, it } from 'vitest';
import type { Tensor } from '../tensor';
import { LengthAxes, rowOf, stackRows } from './batch-tensors';

const f32 = (dims: number[], values: number[]): Tensor => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
});
const i64 = (dims: number[], values: number[]): Tensor => ({
  dtype: 'int64',
  dims,
  data: BigInt64Array.from(values.map(BigInt)),
});
const LOWEST = -3.4028234663852886e38;

describe('stackRows', () => {
  it('left-pads a cache along its past axis with zeros', () => {
    // [1, heads 1, past, dim 2]: past 1 and past 2
    const a = f32([1, 1, 1, 2], [1, 2]);
    const b = f32([1, 1, 2, 2], [3, 4, 5, 6]);
    const t = stackRows('past', [a, b], [1, 2], true) as Tensor;
    expect(t.dims).toEqual([2, 1, 2, 2]);
    expect([...t.data]).toEqual([0, 0, 1, 2, 3, 4, 5, 6]);
  });

  it('left-pads an int attention mask with 0 and an additive mask with the lowest float', () => {
    const mask = stackRows(
      'attention_mask',
      [i64([1, 2], [1, 1]), i64([1, 4], [1, 1, 1, 1])],
      [1, 3],
      false,
    ) as Tensor;
    expect(mask.dims).toEqual([2, 4]);
    expect([...mask.data].map(Number)).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    const additive = stackRows(
      'm',
      [f32([1, 1, 1, 1], [0]), f32([1, 1, 1, 2], [0, 0])],
      [0, 1],
      false,
    ) as Tensor;
    expect([...additive.data]).toEqual([LOWEST, 0, 0, 0]);
  });

  it('stacks rows of equal shape as they are', () => {
    const t = stackRows('h', [f32([1, 1, 2], [1, 2]), f32([1, 1, 2], [3, 4])], [5, 9], false) as Tensor;
    expect(t.dims).toEqual([2, 1, 2]);
    expect([...t.data]).toEqual([1, 2, 3, 4]);
  });

  it('refuses what padding would change', () => {
    // A float tensor spanning the sequence that is neither cache nor mask (values 0.5).
    expect(stackRows('x', [f32([1, 1], [0.5]), f32([1, 2], [0.5, 0.5])], [0, 1], false)).toMatch(
      /neither a cache nor a mask/,
    );
    // Rows differ along an axis that doesn't follow their lengths.
    expect(stackRows('x', [i64([1, 3], [1, 1, 1]), i64([1, 2], [1, 1])], [0, 1], false)).toMatch(
      /not their length/,
    );
    expect(stackRows('x', [i64([2, 1], [1, 1]), i64([2, 1], [1, 1])], [0, 0], false)).toMatch(
      /already a batch/,
    );
  });
});

describe('rowOf', () => {
  it('takes a row back out, with the padding cut from its length axes', () => {
    const batched = f32([2, 1, 3, 1], [0, 7, 8, 4, 5, 6]); // row 0 was padded by one
    expect(rowOf(batched, 0, 2, [{ axis: 2, offset: 0 }])).toEqual(f32([1, 1, 2, 1], [7, 8]));
    expect(rowOf(batched, 1, 3, [{ axis: 2, offset: 0 }])).toEqual(f32([1, 1, 3, 1], [4, 5, 6]));
    expect(rowOf(f32([2, 2], [1, 2, 3, 4]), 1, 0, [])).toEqual(f32([1, 2], [3, 4]));
  });
});

describe('LengthAxes', () => {
  it('learns which axes follow the past length, not a fixed dim that once equalled it', () => {
    const l = new LengthAxes();
    l.observe('present', [1, 4, 33, 32], 32); // past 32, head dim 32: ambiguous alone
    expect(l.axesOf('present')).toBeUndefined();
    l.observe('present', [1, 4, 34, 32], 33);
    expect(l.axesOf('present')).toEqual([{ axis: 2, offset: 1 }]);
    l.observe('hidden', [1, 1, 64], 5);
    l.observe('hidden', [1, 1, 64], 9);
    expect(l.axesOf('hidden')).toEqual([]);
  });

  it('gives up on an output that breaks its pattern', () => {
    const l = new LengthAxes();
    l.observe('x', [1, 5], 4);
    l.observe('x', [1, 6], 5);
    l.observe('x', [1, 9], 6);
    expect(l.axesOf('x')).toBeUndefined();
  });
});
