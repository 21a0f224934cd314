import { describe, expect, it } from 'vitest';
import { allChains, bruteForce } from './brute-force';
import { buildCostTables, chainIsValid, evaluateChain } from './cost-model';
import { solveExact } from './exact';
import { planPlacementSync } from './plan-placement';
import { randomProblem } from './test-instances';
import type { PlacementObjective, PlacementProblem } from './types';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function shapeFor(seed: number, objective: PlacementObjective) {
  const memory: readonly [number, number][] = [
    [0.2, 1.2],
    [0.15, 0.5],
    [0.5, 2],
  ];
  return {
    devices: 1 + (seed % 4),
    blocks: 1 + ((seed * 7) % 8),
    objective,
    memory: memory[seed % 3]!,
    measured: seed % 5 === 0,
  };
}

describe('exact chain DP against brute force', () => {
  for (const objective of ['latency', 'throughput'] as const) {
    it(`finds the optimum of 250 random small instances (${objective})`, () => {
      let feasible = 0;
      for (let seed = 1; seed <= 250; seed++) {
        const t = buildCostTables(randomProblem(seed, shapeFor(seed, objective)));
        const brute = bruteForce(t, objective);
        const exact = solveExact(t, objective);
        expect(exact === null, `seed ${seed}: feasibility`).toBe(brute === null);
        if (!exact || !brute) continue;
        feasible++;
        expect(chainIsValid(t, exact.chain), `seed ${seed}: valid chain`).toBe(true);
        const cost = evaluateChain(t, exact.chain);
        const target = objective === 'latency' ? brute.tokenMs : brute.bottleneckMs;
        expect(close(exact.value, target), `seed ${seed}: ${exact.value} vs ${target}`).toBe(true);
        expect(close(objective === 'latency' ? cost.tokenMs : cost.bottleneckMs, target)).toBe(true);
        // Throughput ties are broken by latency, the same way in both.
        expect(close(cost.tokenMs, brute.tokenMs), `seed ${seed}: tie-break`).toBe(true);
      }
      expect(feasible).toBeGreaterThan(150);
    });
  }

  it('reports, for each phone, the best plan that uses it', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const objective = seed % 2 ? 'latency' : 'throughput';
      const t = buildCostTables(randomProblem(seed, shapeFor(seed, objective)));
      const exact = solveExact(t, objective);
      if (!exact) continue;
      for (let d = 0; d < t.deviceCount; d++) {
        const scored = [...allChains(t)].filter((c) => chainIsValid(t, c) && c.some((s) => s.device === d));
        const best = Math.min(
          ...scored.map((c) =>
            objective === 'latency' ? evaluateChain(t, c).tokenMs : evaluateChain(t, c).bottleneckMs,
          ),
        );
        expect(close(exact.bestWithDevice[d]!, best) || best === exact.bestWithDevice[d]).toBe(true);
      }
    }
  });

  it('never returns a placement over a phone’s memory budget', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const problem = randomProblem(seed, {
        ...shapeFor(seed, 'latency'),
        devices: 1 + (seed % 6),
        blocks: 12,
      });
      const result = planPlacementSync(problem);
      if (result.kind !== 'placement') continue;
      for (const s of result.stages) expect(s.memoryBytes).toBeLessThanOrEqual(s.memoryBudgetBytes);
    }
  });
});

describe('8 phones × 48 blocks', () => {
  it('solves to optimality (exact DP) — times logged', () => {
    const times: string[] = [];
    for (const objective of ['latency', 'throughput'] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        const problem: PlacementProblem = randomProblem(1000 + seed, { devices: 8, blocks: 48, objective });
        const result = planPlacementSync(problem);
        expect(result.kind).toBe('placement');
        if (result.kind !== 'placement') continue;
        expect(result.proven).toBe(true);
        times.push(`${objective} #${seed}: ${result.solveMs.toFixed(1)} ms, ${result.stages.length} stages`);
      }
    }
    console.log(`exact DP, 8 × 48:\n  ${times.join('\n  ')}`);
  });
});
