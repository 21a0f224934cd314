/**
 * Solving the placement through a MilpSolver (HiGHS): the same objectives and tie-break as exact.ts,
 * expressed as the MILP of formulation.ts.
 */
import { type Chain, type CostTables, chainIsValid, evaluateChain } from './cost-model';
import { throughputCap } from './exact';
import { buildPlacementMilp, type MilpMode } from './formulation';
import type { MilpSolver } from './solver-port';
import { PlacementError, type PlacementObjective } from './types';

export interface MilpChain {
  readonly chain: Chain;
  /** False when a time limit stopped the solver before it proved optimality. */
  readonly proven: boolean;
}

async function solveOnce(
  t: CostTables,
  mode: MilpMode,
  solver: MilpSolver,
  timeLimitSec: number,
): Promise<MilpChain | null | 'timeout'> {
  const model = buildPlacementMilp(t, mode);
  if (!model) return null;
  const solution = await solver.solve(model.lp, { timeLimitSec });
  if (solution.status === 'infeasible') return null;
  if (solution.status === 'error') throw new PlacementError(`the MILP solver failed: ${solution.detail}`);
  if (solution.objective === null) return 'timeout';
  const chain = model.decode(solution.values);
  if (!chainIsValid(t, chain)) throw new PlacementError('the MILP solution is not a valid chain');
  return { chain, proven: solution.status === 'optimal' };
}

/** The optimal chain by MILP, or null when none fits in memory. */
export async function solveWithMilp(
  t: CostTables,
  objective: PlacementObjective,
  solver: MilpSolver,
  timeLimitSec: number,
): Promise<MilpChain | null> {
  const started = Date.now();
  const timeout = () => new PlacementError(`the MILP solver found no plan within ${timeLimitSec} s`);
  if (objective === 'latency') {
    const only = await solveOnce(t, { kind: 'latency' }, solver, timeLimitSec);
    if (only === 'timeout') throw timeout();
    return only;
  }
  const first = await solveOnce(t, { kind: 'throughput' }, solver, timeLimitSec);
  if (first === 'timeout') throw timeout();
  if (!first) return null;
  const remaining = Math.max(1, timeLimitSec - (Date.now() - started) / 1000);
  const cap = throughputCap(evaluateChain(t, first.chain).bottleneckMs);
  const second = await solveOnce(t, { kind: 'latency', cap }, solver, remaining);
  // The first chain is within the cap, so the tie-break can only fail by running out of time.
  if (second === null || second === 'timeout') return first;
  return { chain: second.chain, proven: first.proven && second.proven };
}
