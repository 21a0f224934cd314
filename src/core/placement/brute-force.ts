/**
 * Reference solver for tests: tries every ordered choice of distinct phones and every split of the
 * blocks into that many non-empty contiguous ranges. Exponential; meant for ≤ 4 phones × ≤ 8 blocks.
 */
import { type Chain, type CostTables, chainIsValid, evaluateChain, type Stage } from './cost-model';
import type { PlacementObjective } from './types';

export interface BruteForceResult {
  readonly chain: Chain;
  readonly tokenMs: number;
  readonly bottleneckMs: number;
}

export function* allChains(t: CostTables): Generator<Chain> {
  const n = t.deviceCount;
  const N = t.blockCount;
  const order: number[] = [];
  function* splits(at: number, stages: Stage[]): Generator<Chain> {
    if (stages.length === order.length) {
      if (at === N) yield [...stages];
      return;
    }
    const last = stages.length === order.length - 1;
    for (let end = last ? N : at + 1; end <= N; end++) {
      stages.push({ device: order[stages.length]!, first: at, end });
      yield* splits(end, stages);
      stages.pop();
    }
  }
  function* orders(): Generator<Chain> {
    if (order.length > 0 && order.length <= N) yield* splits(0, []);
    for (let d = 0; d < n; d++) {
      if (order.includes(d)) continue;
      order.push(d);
      yield* orders();
      order.pop();
    }
  }
  yield* orders();
}

/** Same tie-break as the real solvers: throughput first minimises the bottleneck, then the latency. */
export function bruteForce(t: CostTables, objective: PlacementObjective): BruteForceResult | null {
  const valid = [...allChains(t)].filter((c) => chainIsValid(t, c));
  if (valid.length === 0) return null;
  const scored = valid.map((chain) => ({ chain, ...evaluateChain(t, chain) }));
  let pool = scored;
  if (objective === 'throughput') {
    const least = Math.min(...scored.map((s) => s.bottleneckMs));
    pool = scored.filter((s) => s.bottleneckMs <= least * (1 + 1e-9));
  }
  const best = pool.reduce((a, b) => (b.tokenMs < a.tokenMs ? b : a));
  return { chain: best.chain, tokenMs: best.tokenMs, bottleneckMs: best.bottleneckMs };
}
