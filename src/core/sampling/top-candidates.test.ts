import { describe, expect, it } from 'vitest';
import { createRng } from './rng';
import { argmax, selectNucleus, topIndices } from './top-candidates';

/** Reference: sort every index (score desc, NaN as -Infinity, index asc on ties). */
function fullSortTop(scores: Float32Array, k: number): number[] {
  const rank = (i: number) => (Number.isNaN(scores[i]!) ? Number.NEGATIVE_INFINITY : scores[i]!);
  const all = Array.from(scores.keys());
  all.sort((a, b) => (rank(a) > rank(b) ? -1 : rank(a) < rank(b) ? 1 : a - b));
  return all.slice(0, k);
}

describe('argmax', () => {
  it('returns the lowest index among equal maxima', () => {
    expect(argmax(new Float32Array([1, 9, 3, 9]))).toBe(1);
  });
  it('skips NaN and returns -1 when nothing beats -Infinity', () => {
    expect(argmax(new Float32Array([Number.NaN, 2, Number.NaN]))).toBe(1);
    expect(argmax(new Float32Array([Number.NEGATIVE_INFINITY, Number.NaN]))).toBe(-1);
  });
});

describe('topIndices', () => {
  it('agrees with a full sort on random scores with ties, NaN and infinities', () => {
    const rng = createRng(99);
    for (let trial = 0; trial < 200; trial++) {
      const vocab = 1 + Math.floor(rng() * 300);
      const scores = new Float32Array(vocab);
      for (let i = 0; i < vocab; i++) {
        const r = rng();
        // Few distinct values, so ties are common; a sprinkle of special values.
        scores[i] =
          r < 0.05
            ? Number.NaN
            : r < 0.08
              ? Number.NEGATIVE_INFINITY
              : r < 0.09
                ? Number.POSITIVE_INFINITY
                : Math.floor(rng() * 10);
      }
      const k = 1 + Math.floor(rng() * (vocab + 5));
      expect([...topIndices(scores, k)], `trial ${trial}`).toEqual(fullSortTop(scores, k));
    }
  });

  it('returns nothing for k = 0', () => {
    expect(topIndices(new Float32Array([1, 2]), 0).length).toBe(0);
  });
});

describe('selectNucleus', () => {
  it('puts exactly the smallest best-first set reaching the target in front', () => {
    const rng = createRng(17);
    for (let trial = 0; trial < 300; trial++) {
      const vocab = 1 + Math.floor(rng() * 400);
      // Few distinct values so ties (broken by index) matter.
      const scores = new Float32Array(vocab).map(() => Math.floor(rng() * 8));
      const weights = Float64Array.from(scores, (s) => Math.exp(s));
      const order = Int32Array.from(scores.keys());
      const total = weights.reduce((a, b) => a + b, 0);
      const target = total * (0.01 + rng() * 0.98);

      const sorted = fullSortTop(scores, vocab);
      let expectedSize = 0;
      for (let cumulative = 0; cumulative < target; expectedSize++)
        cumulative += weights[sorted[expectedSize]!]!;

      const size = selectNucleus(scores, weights, order, vocab, target);
      expect(size, `trial ${trial}`).toBe(expectedSize);
      expect(new Set(order.subarray(0, size))).toEqual(new Set(sorted.slice(0, expectedSize)));
      expect([...order].sort((a, b) => a - b)).toEqual([...scores.keys()]); // still a permutation
    }
  });
});
