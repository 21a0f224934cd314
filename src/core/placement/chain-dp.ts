/**
 * Exact solver: dynamic programming over (set of phones used so far, last phone, blocks done).
 *
 * A chain is a sequence of distinct phones, each running the next contiguous range of blocks. Its cost is
 * built stage by stage: in-link ⊕ stage ⊕ hop ⊕ stage ⊕ … ⊕ out-link, where ⊕ is + (latency) or max
 * (throughput). Both are monotone, so the best completion of a partial chain depends only on which phones
 * it used (they may not be used again), its last phone (the next hop's cost depends on it) and how many
 * blocks it covered (where the next range starts). Keeping the best partial chain per such state is
 * therefore exact — this is Held–Karp for paths. Work: 2^n · n² · N² / 2 simple steps; 8 phones × 48
 * blocks is ~19 M steps, tens of ms in JavaScript.
 */
import type { Chain, Stage } from './cost-model';
import { PlacementError } from './types';

/** Beyond this the tables (2^n · n · (N+1) entries) and the time grow too large. */
export const MAX_DP_DEVICES = 12;

export interface DpSpec {
  readonly deviceCount: number;
  readonly blockCount: number;
  /** Stage cost of device d on blocks [i, k): fixed[d] + prefix[d][k] − prefix[d][i]. */
  readonly prefix: readonly Float64Array[];
  readonly fixed: readonly number[];
  /** maxEnd[d][i]: the stage of d starting at block i may end (exclusively) at most here. */
  readonly maxEnd: readonly Int32Array[];
  /** Cost of the hop d → e at cut k, at (d · n + e) · (N + 1) + k; Infinity forbids it. */
  readonly hop: Float64Array;
  readonly inCost: readonly number[];
  readonly outCost: readonly number[];
  readonly combine: 'sum' | 'max';
}

export interface DpResult {
  /** Optimal cost, Infinity when no chain exists. */
  readonly value: number;
  readonly chain: Chain | null;
  /** bestBySubset[S]: the best cost of a complete chain using exactly the phones in bit set S. */
  readonly bestBySubset: Float64Array;
}

export function solveChainDp(spec: DpSpec): DpResult {
  const { deviceCount: n, blockCount: N, prefix, fixed, maxEnd, hop, combine } = spec;
  if (n > MAX_DP_DEVICES)
    throw new PlacementError(`exact planning handles up to ${MAX_DP_DEVICES} phones, got ${n}`);
  const K = N + 1;
  const subsets = 1 << n;
  const value = new Float64Array(subsets * n * K).fill(Number.POSITIVE_INFINITY);
  const parent = new Int32Array(subsets * n * K).fill(-1);
  const bestBySubset = new Float64Array(subsets).fill(Number.POSITIVE_INFINITY);
  const sum = combine === 'sum';
  let best = Number.POSITIVE_INFINITY;
  let bestState = -1;

  for (let d = 0; d < n; d++) {
    const p = prefix[d]!;
    const row = ((1 << d) * n + d) * K;
    for (let k = 1; k <= maxEnd[d]![0]!; k++) {
      const stage = fixed[d]! + p[k]! - p[0]!;
      value[row + k] = sum ? spec.inCost[d]! + stage : Math.max(spec.inCost[d]!, stage);
    }
  }
  // Supersets have larger numbers than their subsets, so counting up visits every state after all its
  // predecessors.
  for (let s = 1; s < subsets; s++) {
    for (let d = 0; d < n; d++) {
      if (!((s >> d) & 1)) continue;
      const row = (s * n + d) * K;
      for (let b = 1; b < N; b++) {
        const v = value[row + b]!;
        if (v === Number.POSITIVE_INFINITY) continue;
        for (let e = 0; e < n; e++) {
          if ((s >> e) & 1) continue;
          const h = hop[(d * n + e) * K + b]!;
          const end = maxEnd[e]![b]!;
          if (h === Number.POSITIVE_INFINITY || end <= b) continue;
          const p = prefix[e]!;
          const next = ((s | (1 << e)) * n + e) * K;
          const base = sum ? v + h : Math.max(v, h);
          for (let k = b + 1; k <= end; k++) {
            const stage = fixed[e]! + p[k]! - p[b]!;
            const c = sum ? base + stage : Math.max(base, stage);
            if (c < value[next + k]!) {
              value[next + k] = c;
              parent[next + k] = row + b;
            }
          }
        }
      }
      const done = value[row + N]!;
      if (done === Number.POSITIVE_INFINITY) continue;
      const total = sum ? done + spec.outCost[d]! : Math.max(done, spec.outCost[d]!);
      if (total < bestBySubset[s]!) bestBySubset[s] = total;
      if (total < best) {
        best = total;
        bestState = row + N;
      }
    }
  }
  return { value: best, chain: bestState < 0 ? null : unwind(parent, bestState, n, K), bestBySubset };
}

function unwind(parent: Int32Array, state: number, n: number, K: number): Chain {
  const stages: Stage[] = [];
  for (let at = state; at >= 0; ) {
    const from = parent[at]!;
    stages.unshift({ device: Math.floor(at / K) % n, first: from < 0 ? 0 : from % K, end: at % K });
    at = from;
  }
  return stages;
}
