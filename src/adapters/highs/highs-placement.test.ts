import { describe, expect, it } from 'vitest';
import { bruteForce } from '../../core/placement/brute-force';
import { buildCostTables, chainIsValid, evaluateChain } from '../../core/placement/cost-model';
import { solveExact } from '../../core/placement/exact';
import { solveWithMilp } from '../../core/placement/milp-plan';
import { planPlacement } from '../../core/placement/plan-placement';
import { randomProblem } from '../../core/placement/test-instances';
import { createHighsSolver } from './highs-solver';

const solver = createHighsSolver();
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

describe('HiGHS solver adapter', () => {
  it('maps optimal and infeasible statuses', async () => {
    const ok = await solver.solve(
      'Minimize\n obj: x + y\nSubject To\n c: x + y >= 2\nBinaries\n x y\nEnd\n',
      {
        timeLimitSec: 5,
      },
    );
    expect(ok.status).toBe('optimal');
    expect(ok.objective).toBe(2);
    expect(ok.values).toEqual({ x: 1, y: 1 });
    const bad = await solver.solve('Minimize\n obj: x\nSubject To\n c: x >= 2\nBinaries\n x\nEnd\n', {
      timeLimitSec: 5,
    });
    expect(bad.status).toBe('infeasible');
  });
});

describe('placement MILP against brute force', () => {
  for (const objective of ['latency', 'throughput'] as const) {
    it(`matches the optimum of 330 random small instances (${objective})`, async () => {
      const times: number[] = [];
      let feasible = 0;
      for (let seed = 1; seed <= 330; seed++) {
        const problem = randomProblem(7000 + seed, {
          devices: 1 + (seed % 4),
          blocks: 1 + ((seed * 5) % 8),
          objective,
          memory: seed % 3 ? [0.3, 1.5] : [0.15, 0.5],
          measured: seed % 3 === 0,
        });
        const t = buildCostTables(problem);
        const brute = bruteForce(t, objective);
        const started = performance.now();
        const milp = await solveWithMilp(t, objective, solver, 30);
        times.push(performance.now() - started);
        expect(milp === null, `seed ${seed}: feasibility`).toBe(brute === null);
        if (!milp || !brute) continue;
        feasible++;
        expect(milp.proven).toBe(true);
        expect(chainIsValid(t, milp.chain)).toBe(true);
        const cost = evaluateChain(t, milp.chain);
        if (objective === 'latency') expect(close(cost.tokenMs, brute.tokenMs), `seed ${seed}`).toBe(true);
        else {
          expect(close(cost.bottleneckMs, brute.bottleneckMs), `seed ${seed}`).toBe(true);
          expect(close(cost.tokenMs, brute.tokenMs), `seed ${seed}: tie-break`).toBe(true);
        }
      }
      expect(feasible).toBeGreaterThan(200);
      console.log(`MILP small instances (${objective}): ${summary(times)}`);
    }, 120_000);
  }
});

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(0);
  return `median ${pick(0.5)} ms, p90 ${pick(0.9)} ms, max ${pick(1)} ms`;
}

describe('placement MILP at 8 phones × 48 blocks', () => {
  for (const objective of ['latency', 'throughput'] as const) {
    it(`proves the exact DP's optimum on 20 random instances (${objective}) — times logged`, async () => {
      const times: number[] = [];
      for (let seed = 1; seed <= 20; seed++) {
        const problem = randomProblem(1000 + seed, {
          devices: 8,
          blocks: 48,
          objective,
          memory: seed % 2 ? [0.2, 1.2] : [0.15, 0.5],
          measured: seed % 3 === 0,
        });
        const t = buildCostTables(problem);
        const exact = solveExact(t, objective)!;
        const started = performance.now();
        const milp = await solveWithMilp(t, objective, solver, 60);
        times.push(performance.now() - started);
        expect(milp, `seed ${seed}`).not.toBeNull();
        if (!milp) continue;
        expect(milp.proven, `seed ${seed}: proven`).toBe(true);
        expect(chainIsValid(t, milp.chain)).toBe(true);
        const cost = evaluateChain(t, milp.chain);
        const exactCost = evaluateChain(t, exact.chain);
        const value = objective === 'latency' ? cost.tokenMs : cost.bottleneckMs;
        expect(close(value, exact.value), `seed ${seed}: ${value} vs ${exact.value}`).toBe(true);
        expect(close(cost.tokenMs, exactCost.tokenMs), `seed ${seed}: tie-break`).toBe(true);
      }
      console.log(`HiGHS interval MILP, 8 × 48 (${objective}): ${summary(times)}`);
    }, 600_000);
  }

  it('throughput with the DP bottleneck as the first probe: the same proven optimum — times logged', async () => {
    const times: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const problem = randomProblem(1000 + seed, {
        devices: 8,
        blocks: 48,
        objective: 'throughput',
        memory: seed % 2 ? [0.2, 1.2] : [0.15, 0.5],
        measured: seed % 3 === 0,
      });
      const t = buildCostTables(problem);
      const exact = solveExact(t, 'throughput')!;
      const hint = evaluateChain(t, exact.chain).bottleneckMs;
      const started = performance.now();
      const milp = await solveWithMilp(t, 'throughput', solver, 60, hint);
      times.push(performance.now() - started);
      expect(milp?.proven, `seed ${seed}: proven`).toBe(true);
      const cost = evaluateChain(t, milp!.chain);
      expect(close(cost.bottleneckMs, exact.value), `seed ${seed}`).toBe(true);
      expect(close(cost.tokenMs, evaluateChain(t, exact.chain).tokenMs), `seed ${seed}: tie-break`).toBe(
        true,
      );
    }
    console.log(`HiGHS interval MILP, 8 × 48 (throughput, DP bottleneck first): ${summary(times)}`);
  }, 600_000);

  it('a wrong hint only costs probes: a hint far below the optimum still ends at the proven optimum', async () => {
    const problem = randomProblem(1003, { devices: 8, blocks: 48, objective: 'throughput' });
    const t = buildCostTables(problem);
    const exact = solveExact(t, 'throughput')!;
    const milp = await solveWithMilp(t, 'throughput', solver, 60, exact.value / 10);
    expect(milp?.proven).toBe(true);
    expect(close(evaluateChain(t, milp!.chain).bottleneckMs, exact.value)).toBe(true);
  }, 120_000);

  it('plans through planPlacement with the MILP engine', async () => {
    const problem = randomProblem(1001, { devices: 8, blocks: 48, objective: 'latency' });
    const exact = solveExact(buildCostTables(problem), 'latency')!;
    const result = await planPlacement(problem, { milp: solver, timeLimitSec: 60 });
    expect(result.kind).toBe('placement');
    if (result.kind !== 'placement') return;
    expect(result.engine).toBe('milp');
    expect(result.proven).toBe(true);
    expect(close(result.predictedTokenMs, exact.value)).toBe(true);
  }, 60_000);
});
