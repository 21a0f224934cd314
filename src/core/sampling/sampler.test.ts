import { describe, expect, it } from 'vitest';
import type { SamplingParams } from '../protocol/messages';
import { createRng, type Rng } from './rng';
import { applyRepetitionPenalty, DEFAULT_SAMPLING, sampleToken, validateSamplingParams } from './sampler';

const params = (overrides: Partial<SamplingParams>): SamplingParams => ({
  ...DEFAULT_SAMPLING,
  ...overrides,
});
const noRng: Rng = () => {
  throw new Error('rng must not be used for a forced choice');
};
const logitsOf = (probs: number[]) => new Float32Array(probs.map(Math.log));

function countDraws(logits: Float32Array, p: SamplingParams, draws: number, seed: number): number[] {
  const rng = createRng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) {
    const id = sampleToken(logits, p, [], rng);
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return probs.reduce((sum, p, i) => {
    const expected = n * p;
    return expected === 0 ? sum : sum + ((counts[i] ?? 0) - expected) ** 2 / expected;
  }, 0);
}

describe('greedy (temperature ≤ 0)', () => {
  it('picks the argmax without touching the rng', () => {
    expect(sampleToken(new Float32Array([1, 5, 3, -2]), DEFAULT_SAMPLING, [], noRng)).toBe(1);
    expect(sampleToken(new Float32Array([1, 5, 30]), params({ temperature: -1 }), [], noRng)).toBe(2);
  });

  it('breaks ties towards the lowest index', () => {
    expect(sampleToken(new Float32Array([2, 7, 7, 1]), DEFAULT_SAMPLING, [], noRng)).toBe(1);
  });

  it('ignores NaN logits and rejects all -Infinity or empty logits', () => {
    expect(sampleToken(new Float32Array([Number.NaN, 1, 0]), DEFAULT_SAMPLING, [], noRng)).toBe(1);
    expect(() =>
      sampleToken(new Float32Array([Number.NEGATIVE_INFINITY]), DEFAULT_SAMPLING, [], noRng),
    ).toThrow(/-Infinity/);
    expect(() => sampleToken(new Float32Array(0), DEFAULT_SAMPLING, [], noRng)).toThrow(/empty/);
  });

  it('a +Infinity logit is chosen even when sampling', () => {
    const logits = new Float32Array([3, Number.POSITIVE_INFINITY, 2]);
    expect(sampleToken(logits, params({ temperature: 1 }), [], noRng)).toBe(1);
  });
});

describe('repetition penalty', () => {
  it('divides positive logits of seen ids', () => {
    const logits = new Float32Array([5, 4.5, 0]);
    expect(sampleToken(logits, DEFAULT_SAMPLING, [0], noRng)).toBe(0);
    expect(sampleToken(logits, params({ repetitionPenalty: 2 }), [0], noRng)).toBe(1);
  });

  it('multiplies negative logits of seen ids (dividing would raise them)', () => {
    const logits = new Float32Array([-1, -1.5, -3]);
    expect(sampleToken(logits, params({ repetitionPenalty: 2 }), [0], noRng)).toBe(1);
    expect(applyRepetitionPenalty(logits, [0, 2], 2)).toEqual(new Float32Array([-2, -1.5, -6]));
  });

  it('penalises an id once however often it was seen, and ignores ids outside the vocabulary', () => {
    const logits = new Float32Array([5, 2]);
    expect(sampleToken(logits, params({ repetitionPenalty: 2 }), [0, 0, 0, 7, -1], noRng)).toBe(0);
  });

  it('leaves the caller’s logits untouched', () => {
    const logits = new Float32Array([5, 4.5]);
    sampleToken(logits, params({ repetitionPenalty: 2, temperature: 1 }), [0], createRng(1));
    expect([...logits]).toEqual([5, 4.5]);
  });
});

describe('filters', () => {
  it('top-k = 1 equals greedy at any temperature', () => {
    const rng = createRng(5);
    for (let trial = 0; trial < 50; trial++) {
      const logits = new Float32Array(500).map(() => rng() * 10);
      const greedy = sampleToken(logits, DEFAULT_SAMPLING, [], noRng);
      for (const temperature of [0.1, 1, 5, 1000]) {
        expect(sampleToken(logits, params({ temperature, topK: 1 }), [], rng)).toBe(greedy);
      }
    }
  });

  it('a tiny top-p keeps only the top token', () => {
    const logits = logitsOf([0.3, 0.35, 0.35 - 1e-3, 1e-3]);
    const counts = countDraws(logits, params({ temperature: 1, topP: 1e-9 }), 2000, 3);
    expect(counts).toEqual([0, 2000, 0, 0]);
  });

  it('top-k renormalises over the k best tokens', () => {
    const counts = countDraws(
      logitsOf([0.1, 0.2, 0.3, 0.4]),
      params({ temperature: 1, topK: 2 }),
      20_000,
      11,
    );
    expect(counts[0]! + counts[1]!).toBe(0);
    expect(chiSquare(counts, [0, 0, 3 / 7, 4 / 7])).toBeLessThan(15);
  });

  it('top-p keeps the smallest set reaching p, then top-k and top-p compose', () => {
    const logits = logitsOf([0.05, 0.5, 0.15, 0.3]);
    const nucleus = countDraws(logits, params({ temperature: 1, topP: 0.75 }), 20_000, 12);
    expect(nucleus[0]! + nucleus[2]!).toBe(0);
    expect(chiSquare(nucleus, [0, 5 / 8, 0, 3 / 8])).toBeLessThan(15);
    // Top-2 renormalises to 0.625/0.375, so p = 0.6 keeps one token; measured against the whole
    // vocabulary (0.5 < 0.6) it would wrongly keep two.
    const both = countDraws(logits, params({ temperature: 1, topK: 2, topP: 0.6 }), 5000, 13);
    expect(both).toEqual([0, 5000, 0, 0]);
  });

  it('finds a nucleus far larger than its first guess on a large vocabulary', () => {
    // 300 equally likely tokens scattered over 50k hold ~99% of the mass, so p = 0.9 needs 273 of
    // them: the lowest-index ones, since ties rank by index.
    const vocab = 50_000;
    const logits = new Float32Array(vocab);
    const group = Array.from({ length: 300 }, (_, i) => i * 150 + 7);
    for (const id of group) logits[id] = 10;
    const rng = createRng(21);
    const seen = new Set<number>();
    for (let i = 0; i < 600; i++)
      seen.add(sampleToken(logits, params({ temperature: 1, topP: 0.9 }), [], rng));
    const ranks = [...seen].map((id) => group.indexOf(id));
    expect(Math.min(...ranks)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ranks)).toBeGreaterThan(200);
    expect(Math.max(...ranks)).toBeLessThanOrEqual(272);
  });

  it('only ever samples inside the nucleus a full sort would keep', () => {
    const rng = createRng(8);
    for (let trial = 0; trial < 60; trial++) {
      const vocab = 50 + Math.floor(rng() * 400);
      const spread = [0.5, 3, 20][trial % 3]!; // flat to peaked, so nuclei span a few to hundreds
      const logits = new Float32Array(vocab).map(() => Math.round(rng() * spread * 4) / 4);
      const p = params({
        temperature: 0.3 + rng() * 2,
        topK: trial % 4 === 0 ? 0 : Math.floor(rng() * vocab),
        topP: trial % 5 === 0 ? 1 : 0.05 + rng() * 0.94,
      });
      const allowed = referenceKeptSet(logits, p);
      for (let draw = 0; draw < 200; draw++) {
        const id = sampleToken(logits, p, [], rng);
        expect(allowed.has(id), `trial ${trial}: ${id} outside the nucleus`).toBe(true);
      }
    }
  });

  it('samples a large nucleus in the right proportions', () => {
    // 100 tokens with probabilities ∝ 1..100 (the other 900 negligible) and p = 0.9: the nucleus is
    // the 69 most likely, since 100 + 99 + … + 32 = 4554 ≥ 0.9 × 5050 > 100 + … + 33.
    const logits = new Float32Array(1000).fill(-30);
    for (let i = 0; i < 100; i++) logits[i * 10] = Math.log(i + 1);
    const p = params({ temperature: 1, topP: 0.9 });
    const kept = referenceKeptSet(logits, p);
    expect(kept.size).toBe(69);
    const counts = countDraws(logits, p, 20_000, 31);
    const keptMass = [...kept].reduce((sum, id) => sum + Math.exp(logits[id]!), 0);
    const probs = Array.from(logits, (l, id) => (kept.has(id) ? Math.exp(l) / keptMass : 0));
    expect(counts.every((c, id) => c === 0 || kept.has(id))).toBe(true);
    // 68 degrees of freedom: mean 68, sd ≈ 11.7; 130 is beyond the 99.99th percentile.
    expect(chiSquare(counts, probs)).toBeLessThan(130);
  });
});

/** Reference nucleus by full sort: top-k, then the smallest best-first set with mass ≥ topP. */
function referenceKeptSet(logits: Float32Array, p: SamplingParams): Set<number> {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = p.topK === 0 ? order.length : Math.min(p.topK, order.length);
  const top = order.slice(0, k);
  const max = logits[top[0]!]!;
  const weights = top.map((id) => Math.exp((logits[id]! - max) / p.temperature));
  const mass = weights.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  const kept = new Set<number>();
  for (const [j, id] of top.entries()) {
    kept.add(id);
    cumulative += weights[j]!;
    if (p.topP < 1 && cumulative >= p.topP * mass) break;
  }
  return kept;
}

describe('sampling distribution and determinism', () => {
  it('matches a known 3-token distribution over 20k draws (chi-square, 2 dof)', () => {
    const probs = [0.2, 0.5, 0.3];
    const counts = countDraws(logitsOf(probs), params({ temperature: 1 }), 20_000, 2024);
    // 99.9th percentile of chi-square with 2 dof is 13.8; the seed is fixed, so this cannot flake.
    expect(chiSquare(counts, probs)).toBeLessThan(13.8);
  });

  it('temperature sharpens: T = 0.5 squares the odds', () => {
    const counts = countDraws(logitsOf([0.25, 0.75]), params({ temperature: 0.5 }), 20_000, 77);
    expect(chiSquare(counts, [0.1, 0.9])).toBeLessThan(10.8);
  });

  it('same seed and inputs give the same tokens; another seed does not', () => {
    const logits = new Float32Array(1000).map((_, i) => Math.sin(i) * 3);
    const p = params({ temperature: 0.8, topK: 50, topP: 0.95, repetitionPenalty: 1.2 });
    const run = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 100 }, (_, i) => sampleToken(logits, p, [i, i * 7], rng));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(43)).not.toEqual(run(42));
  });

  it('draws exactly one rng value per sampled token', () => {
    let calls = 0;
    const base = createRng(1);
    const counting: Rng = () => {
      calls++;
      return base();
    };
    sampleToken(new Float32Array([1, 2, 3]), params({ temperature: 1 }), [], counting);
    sampleToken(new Float32Array([1, 2, 3]), params({ temperature: 1, topK: 2, topP: 0.5 }), [], counting);
    expect(calls).toBe(2);
  });
});

describe('validateSamplingParams', () => {
  it('accepts the defaults', () => {
    expect(() => validateSamplingParams(DEFAULT_SAMPLING)).not.toThrow();
  });

  it.each<[Partial<SamplingParams>, RegExp]>([
    [{ temperature: Number.NaN }, /temperature/],
    [{ temperature: Number.POSITIVE_INFINITY }, /temperature/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.01 }, /topP/],
    [{ topP: Number.NaN }, /topP/],
    [{ topK: -1 }, /topK/],
    [{ topK: 2.5 }, /topK/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    [{ repetitionPenalty: -1 }, /repetitionPenalty/],
    [{ repetitionPenalty: Number.NaN }, /repetitionPenalty/],
    [{ seed: Number.NaN }, /seed/],
    [{ maxNewTokens: -1 }, /maxNewTokens/],
  ])('rejects %o', (bad, field) => {
    expect(() => sampleToken(new Float32Array([1, 2]), params(bad), [], createRng(0))).toThrow(field);
  });
});
