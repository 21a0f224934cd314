/**
 * When no plan fits in memory: how much is missing, and who could supply it. Exact, by the same chain DP
 * with memory as the cost: give one phone unlimited memory, keep everyone else's budget, and minimise the
 * memory that phone's range needs. Its excess over its budget is exactly what it would have to free;
 * for an extra, imaginary phone it is the free memory a newcomer would need.
 */
import { type DpSpec, MAX_DP_DEVICES, solveChainDp } from './chain-dp';
import type { CostTables } from './cost-model';
import type { MemoryHelper, PlacementInfeasible, PlacementProblem } from './types';

/** The least memory `target`'s range needs when `target` has no limit (target = deviceCount: a new phone). */
function leastMemoryOn(t: CostTables, target: number): number {
  const n = Math.max(t.deviceCount, target + 1);
  const K = t.blockCount + 1;
  const zeros = new Float64Array(K);
  const unlimited = new Int32Array(t.blockCount).fill(t.blockCount);
  const spec: DpSpec = {
    deviceCount: n,
    blockCount: t.blockCount,
    prefix: Array.from({ length: n }, (_, d) => (d === target ? t.memPrefix : zeros)),
    fixed: new Array<number>(n).fill(0),
    maxEnd: Array.from({ length: n }, (_, d) => (d === target ? unlimited : t.maxEnd[d]!)),
    hop: new Float64Array(n * n * K),
    inCost: new Array<number>(n).fill(0),
    outCost: new Array<number>(n).fill(0),
    combine: 'sum',
  };
  return solveChainDp(spec).value;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.ceil(bytes)} B`;
}

export function analyseShortfall(t: CostTables, problem: PlacementProblem): PlacementInfeasible {
  const { contextLength } = problem;
  const requiredBytes = t.memPrefix[t.blockCount]!;
  const availableBytes = t.budget.reduce((a, b) => a + b, 0);
  let largestBlock = { index: 0, bytes: 0 };
  for (let b = 0; b < t.blockCount; b++) {
    const bytes = t.memPrefix[b + 1]! - t.memPrefix[b]!;
    if (bytes > largestBlock.bytes) largestBlock = { index: b, bytes };
  }
  const biggestBudget = Math.max(...t.budget);
  // A new phone makes the DP one phone wider; past the DP's limit fall back to the plain lower bound.
  const missingBytes =
    t.deviceCount < MAX_DP_DEVICES
      ? leastMemoryOn(t, t.deviceCount)
      : Math.max(requiredBytes - availableBytes, largestBlock.bytes - biggestBudget, 0);
  const helpers: MemoryHelper[] = problem.devices
    .map(({ id: deviceId }, d) => ({ deviceId, extraBytes: Math.max(0, leastMemoryOn(t, d) - t.budget[d]!) }))
    .sort((a, b) => a.extraBytes - b.extraBytes);
  const options = [
    `one more phone with ${formatBytes(missingBytes)} free`,
    ...helpers.slice(0, 3).map((h) => {
      const name = problem.devices.find((d) => d.id === h.deviceId)?.name ?? h.deviceId;
      return `${name} freeing ${formatBytes(h.extraBytes)} more`;
    }),
  ];
  const tooBig =
    largestBlock.bytes > biggestBudget
      ? ` Block ${largestBlock.index} alone needs ${formatBytes(largestBlock.bytes)}, more than any phone has.`
      : '';
  const message =
    `The model needs ${formatBytes(requiredBytes)} (weights + KV cache for ${contextLength} tokens) and the ` +
    `phones offer ${formatBytes(availableBytes)}; no split fits.${tooBig} Any one of these would make it ` +
    `fit: ${options.join('; ')}. A shorter context also shrinks the KV cache.`;
  return { kind: 'infeasible', requiredBytes, availableBytes, missingBytes, largestBlock, helpers, message };
}
