/**
 * The placement objectives as chain DPs (see chain-dp.ts for why the DP is exact).
 *
 * Throughput is solved lexicographically: first the least bottleneck T*, then, among all chains whose
 * every stage and link stays within T*, the one with the least token latency — a plain min-max leaves
 * many ties, and the one with fewer, cheaper hops is the one to run.
 */
import { type DpSpec, solveChainDp } from './chain-dp';
import { type Chain, type CostTables, evaluateChain, stageMs } from './cost-model';
import type { PlacementObjective } from './types';

export interface ExactSolution {
  readonly chain: Chain;
  /** The objective value: token ms (latency) or bottleneck ms (throughput). */
  readonly value: number;
  /** Per device: the best objective value of any chain that uses it (Infinity when none fits). */
  readonly bestWithDevice: readonly number[];
}

/** Relative slack on T* when filtering by it: the filter recomputes the same sums, this only absorbs
 *  the last bit of rounding. */
const CAP_SLACK = 1e-12;

function latencySpec(t: CostTables, cap = Number.POSITIVE_INFINITY): DpSpec {
  const within = (occupancy: number, cost: number) => (occupancy <= cap ? cost : Number.POSITIVE_INFINITY);
  const hop = cap === Number.POSITIVE_INFINITY ? t.hopMs : t.hopMs.map((ms, i) => within(t.hopOccMs[i]!, ms));
  const maxEnd =
    cap === Number.POSITIVE_INFINITY
      ? t.maxEnd
      : t.maxEnd.map((ends, d) =>
          ends.map((end, i) => {
            let k = i;
            while (k < end && stageMs(t, d, i, k + 1) <= cap) k++;
            return k;
          }),
        );
  return {
    deviceCount: t.deviceCount,
    blockCount: t.blockCount,
    prefix: t.timePrefix,
    fixed: t.fixedMs,
    maxEnd,
    hop,
    inCost: t.inMs.map((ms, d) => within(t.inOccMs[d]!, ms)),
    outCost: t.outMs.map((ms, d) => within(t.outOccMs[d]!, ms)),
    combine: 'sum',
  };
}

function throughputSpec(t: CostTables): DpSpec {
  return {
    deviceCount: t.deviceCount,
    blockCount: t.blockCount,
    prefix: t.timePrefix,
    fixed: t.fixedMs,
    maxEnd: t.maxEnd,
    hop: t.hopOccMs,
    inCost: t.inOccMs,
    outCost: t.outOccMs,
    combine: 'max',
  };
}

export function bestWithEachDevice(bestBySubset: Float64Array, deviceCount: number): number[] {
  const best = new Array<number>(deviceCount).fill(Number.POSITIVE_INFINITY);
  bestBySubset.forEach((v, s) => {
    for (let d = 0; d < deviceCount; d++) if ((s >> d) & 1 && v < best[d]!) best[d] = v;
  });
  return best;
}

/** The optimal chain, or null when no chain fits in memory. */
export function solveExact(t: CostTables, objective: PlacementObjective): ExactSolution | null {
  if (objective === 'latency') {
    const r = solveChainDp(latencySpec(t));
    if (!r.chain) return null;
    return {
      chain: r.chain,
      value: r.value,
      bestWithDevice: bestWithEachDevice(r.bestBySubset, t.deviceCount),
    };
  }
  const first = solveChainDp(throughputSpec(t));
  if (!first.chain) return null;
  const cap = evaluateChain(t, first.chain).bottleneckMs * (1 + CAP_SLACK);
  // The first chain satisfies the cap, so the second pass always finds one.
  const second = solveChainDp(latencySpec(t, cap));
  return {
    chain: second.chain ?? first.chain,
    value: first.value,
    bestWithDevice: bestWithEachDevice(first.bestBySubset, t.deviceCount),
  };
}
