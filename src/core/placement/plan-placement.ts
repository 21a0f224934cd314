/**
 * The one entry point: which phones run which blocks, in which order, for the problem's objective — or,
 * when nothing fits, how much memory is missing and who could supply it.
 *
 * The exact chain DP (chain-dp.ts) is the default engine: it proves optimality for 8 phones × 48 blocks
 * in tens of ms. A MilpSolver (HiGHS) can be passed instead; it solves the same model as a MILP, which is
 * slower (0.2 s for latency, about 1 s for throughput at that size) but takes extra linear constraints
 * easily. Either way the DP's tables
 * explain why phones were left out.
 */
import { buildCostTables, type Chain, type CostTables, evaluateChain, stageMemory } from './cost-model';
import { type ExactSolution, solveExact } from './exact';
import { solveWithMilp } from './milp-plan';
import { analyseShortfall, formatBytes } from './shortfall';
import type { MilpSolver } from './solver-port';
import type {
  LeftOutDevice,
  Placement,
  PlacementObjective,
  PlacementProblem,
  PlacementResult,
} from './types';

export interface PlanOptions {
  /** Solve with this MILP solver instead of the exact DP. */
  readonly milp?: MilpSolver;
  /** Wall-clock limit for the MILP solver (default 10 s); the DP needs none. */
  readonly timeLimitSec?: number;
}

/** Three significant figures: sub-ms stages of tiny models must still read as different numbers. */
const ms = (x: number) => `${x >= 100 ? x.toFixed(0) : x.toPrecision(3)} ms`;

function explainLeftOut(
  t: CostTables,
  problem: PlacementProblem,
  chain: Chain,
  exact: ExactSolution,
): LeftOutDevice[] {
  const used = new Set(chain.map((s) => s.device));
  const smallest = Math.min(...Array.from({ length: t.blockCount }, (_, b) => stageMemory(t, b, b + 1)));
  return problem.devices.flatMap((device, d): LeftOutDevice[] => {
    if (used.has(d)) return [];
    const withIt = exact.bestWithDevice[d]!;
    const base = { deviceId: device.id };
    if (t.maxEnd[d]!.every((end, i) => end === i)) {
      const detail = `has ${formatBytes(device.memoryBudgetBytes)} free; the smallest block needs ${formatBytes(smallest)}`;
      return [{ ...base, reason: 'no-memory', detail, bestWithItMs: null }];
    }
    if (!Number.isFinite(withIt)) {
      const detail = 'no plan that includes it fits in the phones’ memory';
      return [{ ...base, reason: 'no-memory', detail, bestWithItMs: null }];
    }
    if (withIt <= exact.value * (1 + 1e-9)) {
      return [
        { ...base, reason: 'not-needed', detail: 'a plan using it would be no faster', bestWithItMs: withIt },
      ];
    }
    const detail =
      problem.objective === 'latency'
        ? `the best plan that uses it takes ${ms(withIt)} per token, ${ms(withIt - exact.value)} more`
        : `with it the slowest stage is at best ${ms(withIt)} instead of ${ms(exact.value)}`;
    return [{ ...base, reason: 'slower', detail, bestWithItMs: withIt }];
  });
}

function toPlacement(
  t: CostTables,
  problem: PlacementProblem,
  chain: Chain,
  exact: ExactSolution,
  extra: { proven: boolean; engine: 'dp' | 'milp'; solveMs: number },
): Placement {
  const cost = evaluateChain(t, chain);
  const objective: PlacementObjective = problem.objective;
  return {
    kind: 'placement',
    objective,
    stages: chain.map((s, i) => {
      const c = cost.stages[i]!;
      return {
        deviceId: problem.devices[s.device]!.id,
        firstBlock: s.first,
        lastBlock: s.end - 1,
        computeMs: c.computeMs,
        sendMs: c.sendMs,
        sendBytes: c.sendBytes,
        memoryBytes: c.memoryBytes,
        memoryBudgetBytes: problem.devices[s.device]!.memoryBudgetBytes,
      };
    }),
    inputMs: cost.inputMs,
    predictedTokenMs: cost.tokenMs,
    bottleneckMs: cost.bottleneckMs,
    predictedTokensPerSecond: 1000 / (objective === 'latency' ? cost.tokenMs : cost.bottleneckMs),
    leftOut: explainLeftOut(t, problem, chain, exact),
    ...extra,
  };
}

const now = () => performance.now();

/** The exact plan, synchronously (no solver needed). */
export function planPlacementSync(problem: PlacementProblem): PlacementResult {
  const started = now();
  const t = buildCostTables(problem);
  const exact = solveExact(t, problem.objective);
  if (!exact) return analyseShortfall(t, problem);
  return toPlacement(t, problem, exact.chain, exact, {
    proven: true,
    engine: 'dp',
    solveMs: now() - started,
  });
}

export async function planPlacement(
  problem: PlacementProblem,
  options: PlanOptions = {},
): Promise<PlacementResult> {
  if (!options.milp) return planPlacementSync(problem);
  const started = now();
  const t = buildCostTables(problem);
  const exact = solveExact(t, problem.objective);
  if (!exact) return analyseShortfall(t, problem);
  const hint = problem.objective === 'throughput' ? evaluateChain(t, exact.chain).bottleneckMs : undefined;
  const solved = await solveWithMilp(t, problem.objective, options.milp, options.timeLimitSec ?? 10, hint);
  // The DP just found a chain, so the MILP cannot be infeasible; fall back to it rather than fail.
  const chain = solved?.chain ?? exact.chain;
  const proven = solved?.proven ?? true;
  return toPlacement(t, problem, chain, exact, { proven, engine: 'milp', solveMs: now() - started });
}
