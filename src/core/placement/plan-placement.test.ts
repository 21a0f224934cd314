import { describe, expect, it } from 'vitest';
import { buildCostTables, evaluateChain } from './cost-model';
import { planPlacementSync } from './plan-placement';
import { randomProblem } from './test-instances';
import type { DeviceProfile, PlacementProblem, PlacementResult } from './types';

const GB = 2 ** 30;

function placed(result: PlacementResult) {
  if (result.kind !== 'placement') throw new Error(`expected a placement: ${result.message}`);
  return result;
}

describe('cost model', () => {
  const problem: PlacementProblem = {
    blocks: Array.from({ length: 3 }, () => ({
      flopsPerToken: 1e9,
      attentionFlopsPerContextToken: 0,
      weightBytes: 100,
      kvBytesPerToken: 1,
    })),
    crossingBytes: [1000, 2000],
    inputBytes: 10,
    outputBytes: 4000,
    devices: [
      { id: 'A', name: 'A', msPerGflop: 2, fixedStepMs: 1, memoryBudgetBytes: 250 },
      { id: 'B', name: 'B', msPerGflop: 4, fixedStepMs: 0.5, memoryBudgetBytes: 1000 },
    ],
    links: [
      { from: 'A', to: 'B', latencyMs: 5, bytesPerMs: 100 },
      { from: 'L', to: 'A', latencyMs: 1, bytesPerMs: 10 },
    ],
    defaultLink: { latencyMs: 3, bytesPerMs: 1000 },
    leaderId: 'L',
    contextLength: 10,
    objective: 'latency',
  };

  it('adds stages and links for latency, takes the slowest stage or transfer for throughput', () => {
    const t = buildCostTables(problem);
    const cost = evaluateChain(t, [
      { device: 0, first: 0, end: 2 },
      { device: 1, first: 2, end: 3 },
    ]);
    // in 1 + 10/10; A 1 + 2·2; hop 5 + 2000/100; B 0.5 + 4; out (default) 3 + 4000/1000.
    expect(cost.tokenMs).toBeCloseTo(2 + 5 + 25 + 4.5 + 7, 12);
    expect(cost.bottleneckMs).toBeCloseTo(20, 12); // the hop's transfer, not its latency
    expect(cost.stages.map((s) => s.memoryBytes)).toEqual([220, 110]);
    expect(t.maxEnd[0]).toEqual(Int32Array.from([2, 3, 3])); // A holds two blocks, B all three
  });

  it('uses a listed link for the reverse direction and makes the leader’s own link free', () => {
    const t = buildCostTables({ ...problem, leaderId: 'B' });
    const cost = evaluateChain(t, [
      { device: 1, first: 0, end: 1 },
      { device: 0, first: 1, end: 3 },
    ]);
    // in 0 (B is the leader); B 0.5 + 4; hop B→A = A→B: 5 + 1000/100; A 1 + 4; out A→B 5 + 40.
    expect(cost.tokenMs).toBeCloseTo(4.5 + 15 + 5 + 45, 12);
  });
});

describe('planPlacement', () => {
  const device = (id: string, msPerGflop: number, memoryBudgetBytes = 8 * GB): DeviceProfile => ({
    id,
    name: id,
    msPerGflop,
    fixedStepMs: 1,
    memoryBudgetBytes,
  });
  const layers = (n: number) =>
    Array.from({ length: n }, () => ({
      flopsPerToken: 2e9,
      attentionFlopsPerContextToken: 0,
      weightBytes: 0.25 * GB,
      kvBytesPerToken: 1024,
    }));
  const base = (devices: DeviceProfile[], objective: 'latency' | 'throughput'): PlacementProblem => ({
    blocks: layers(12),
    crossingBytes: new Array(11).fill(8192),
    inputBytes: 24,
    outputBytes: 128_000,
    devices,
    links: [],
    defaultLink: { latencyMs: 3, bytesPerMs: 5000 },
    leaderId: 'fast',
    contextLength: 1024,
    objective,
  });

  it('beats an even split on phones of speeds 1, 2 and 4', () => {
    for (const objective of ['latency', 'throughput'] as const) {
      const problem = base(
        [device('slow', 4, 1.5 * GB), device('mid', 2, 1.5 * GB), device('fast', 1, 1.5 * GB)],
        objective,
      );
      const plan = placed(planPlacementSync(problem));
      const t = buildCostTables(problem);
      const even = evaluateChain(t, [
        { device: 0, first: 0, end: 4 },
        { device: 1, first: 4, end: 8 },
        { device: 2, first: 8, end: 12 },
      ]);
      if (objective === 'latency') expect(plan.predictedTokenMs).toBeLessThan(even.tokenMs);
      else expect(plan.bottleneckMs).toBeLessThan(even.bottleneckMs * 0.8);
      // Faster phones take more blocks.
      const count = (id: string) =>
        plan.stages.filter((s) => s.deviceId === id).map((s) => s.lastBlock - s.firstBlock + 1)[0] ?? 0;
      expect(count('fast')).toBeGreaterThanOrEqual(count('mid'));
      expect(count('mid')).toBeGreaterThanOrEqual(count('slow'));
    }
  });

  it('leaves out a phone that would slow the pipeline, and one with no room, saying why', () => {
    const problem = base(
      [
        device('fast', 1, 2 * GB),
        device('fast2', 1.2, 2 * GB),
        device('snail', 300),
        device('tiny', 1, 0.1 * GB),
      ],
      'throughput',
    );
    const plan = placed(planPlacementSync(problem));
    expect(plan.stages.map((s) => s.deviceId).sort()).toEqual(['fast', 'fast2']);
    const why = new Map(plan.leftOut.map((l) => [l.deviceId, l]));
    expect(why.get('snail')?.reason).toBe('slower');
    expect(why.get('snail')?.bestWithItMs).toBeGreaterThan(plan.bottleneckMs);
    expect(why.get('tiny')?.reason).toBe('no-memory');
    expect(why.get('tiny')?.detail).toMatch(/smallest block needs/);
  });

  it('puts everything on one phone for latency when it fits (every hop costs time)', () => {
    const plan = placed(planPlacementSync(base([device('fast', 1), device('other', 1)], 'latency')));
    expect(plan.stages).toHaveLength(1);
    expect(plan.stages[0]?.deviceId).toBe('fast'); // the leader: no input link at all
    expect(plan.leftOut[0]?.reason).toBe('slower');
    expect(plan.predictedTokensPerSecond).toBeCloseTo(1000 / plan.predictedTokenMs, 9);
  });
});

describe('when nothing fits', () => {
  it('says how much memory is missing, exactly, and who could supply it', () => {
    let checked = 0;
    for (let seed = 1; checked < 40; seed++) {
      const problem = randomProblem(seed, {
        devices: 1 + (seed % 4),
        blocks: 2 + (seed % 7),
        objective: 'latency',
        memory: [0.1, 0.4],
      });
      const result = planPlacementSync(problem);
      if (result.kind !== 'infeasible') continue;
      checked++;
      expect(result.missingBytes).toBeGreaterThanOrEqual(result.requiredBytes - result.availableBytes);
      expect(result.message).toMatch(/no split fits/);
      const newcomer = (bytes: number): PlacementProblem => ({
        ...problem,
        devices: [
          ...problem.devices,
          { id: 'new', name: 'new', msPerGflop: 1, fixedStepMs: 0, memoryBudgetBytes: bytes },
        ],
      });
      expect(planPlacementSync(newcomer(result.missingBytes)).kind, `seed ${seed}`).toBe('placement');
      expect(planPlacementSync(newcomer(result.missingBytes - 1)).kind, `seed ${seed}`).toBe('infeasible');
      for (const helper of result.helpers) {
        const grown = (extra: number): PlacementProblem => ({
          ...problem,
          devices: problem.devices.map((d) =>
            d.id === helper.deviceId ? { ...d, memoryBudgetBytes: d.memoryBudgetBytes + extra } : d,
          ),
        });
        expect(planPlacementSync(grown(helper.extraBytes)).kind).toBe('placement');
        expect(planPlacementSync(grown(helper.extraBytes - 1)).kind).toBe('infeasible');
      }
    }
  });
});
