/**
 * Solving the placement through a MilpSolver (HiGHS): the same objectives and tie-break as exact.ts,
 * expressed as the interval MILP of interval-formulation.ts.
 *
 * Latency is one solve. Throughput is a bisection over the distinct stage/link occupancies (the
 * bottleneck is one of them): each step asks the solver for the least-latency chain whose every
 * occupancy is ≤ the probe. Infeasible: the bottleneck is above it. Feasible: the bottleneck is at most
 * the returned chain's own bottleneck, usually well below the probe. When no level is left between the
 * two, the last chain has the least bottleneck T*, and — being the least-latency chain under a cap
 * ≥ T* — also wins the latency tie-break among chains at T*. Every step is proven by the solver, so
 * the result is proven when every step finished.
 */
import { type Chain, type CostTables, chainIsValid, evaluateChain, stageMs } from './cost-model';
import { bottleneckLevels, buildIntervalMilp } from './interval-formulation';
import type { MilpSolver } from './solver-port';
import { PlacementError, type PlacementObjective } from './types';

export interface MilpChain {
  readonly chain: Chain;
  /** False when a time limit stopped the solver before it proved optimality. */
  readonly proven: boolean;
}

type Outcome = MilpChain | 'infeasible' | 'timeout';

async function solveCapped(
  t: CostTables,
  cap: number,
  solver: MilpSolver,
  seconds: number,
): Promise<Outcome> {
  const model = buildIntervalMilp(t, cap);
  if (!model) return 'infeasible';
  // Presolve off: it takes most of the time on this model (0.9 s of 1.4 s at 8 × 48) and gains nothing.
  const solution = await solver.solve(model.lp, { timeLimitSec: seconds, presolve: false });
  if (solution.status === 'infeasible') return 'infeasible';
  if (solution.status === 'error') throw new PlacementError(`the MILP solver failed: ${solution.detail}`);
  if (solution.objective === null) return 'timeout';
  const chain = model.decode(solution.values);
  if (!chainIsValid(t, chain)) throw new PlacementError('the MILP solution is not a valid chain');
  return { chain, proven: solution.status === 'optimal' };
}

/** No chain's bottleneck is below this: every block is in some stage, which takes at least the fixed
 *  step plus that block on the phone fastest at it; the input and the logits cross some link. */
function trivialLowerBound(t: CostTables): number {
  const phones = Array.from({ length: t.deviceCount }, (_, d) => d);
  const least = (f: (d: number) => number) => Math.min(...phones.map(f));
  let bound = Math.max(
    least((d) => t.inOccMs[d]!),
    least((d) => t.outOccMs[d]!),
  );
  for (let b = 0; b < t.blockCount; b++)
    bound = Math.max(
      bound,
      least((d) => stageMs(t, d, b, b + 1)),
    );
  return bound;
}

/** The optimal chain by MILP, or null when none fits in memory. */
export async function solveWithMilp(
  t: CostTables,
  objective: PlacementObjective,
  solver: MilpSolver,
  timeLimitSec: number,
  /**
   * Throughput only: a bottleneck some chain is known to reach (the exact DP's). The bisection then
   * starts there: one solve at that cap, one at the level just below it (infeasible when the hint is
   * the optimum), instead of 8–14 probes. Both answers are still HiGHS's own, so the result is proven
   * by the solver whatever the hint was; a wrong hint only costs probes.
   */
  bottleneckHint?: number,
): Promise<MilpChain | null> {
  const deadline = Date.now() + timeLimitSec * 1000;
  const remaining = () => Math.max(0.1, (deadline - Date.now()) / 1000);
  const timeout = () => new PlacementError(`the MILP solver found no plan within ${timeLimitSec} s`);
  if (objective === 'latency') {
    const only = await solveCapped(t, Number.POSITIVE_INFINITY, solver, remaining());
    if (only === 'timeout') throw timeout();
    return only === 'infeasible' ? null : only;
  }
  const levels = bottleneckLevels(t);
  if (levels.length === 0) return null;
  // Invariant: no chain has its bottleneck ≤ levels[lo]; `best` (if any) has it at levels[hi].
  let lo = levels.findIndex((v) => v >= trivialLowerBound(t)) - 1;
  if (lo < -1) return null;
  let hi = levels.length - 1;
  let best: MilpChain | null = null;
  let proven = true;
  const levelOf = (chain: Chain) => {
    const b = evaluateChain(t, chain).bottleneckMs;
    const at = levels.findIndex((v) => v >= b);
    return at < 0 ? levels.length - 1 : at;
  };
  const h = bottleneckHint === undefined ? -1 : levels.findIndex((v) => v >= bottleneckHint * (1 - 1e-12));
  for (const probe of h > lo ? [h, -1] : []) {
    // -1: the level just below the best found so far.
    const at = probe >= 0 ? probe : hi - 1;
    if (at <= lo || (probe < 0 && best === null)) break;
    const outcome = await solveCapped(t, levels[at]!, solver, remaining());
    if (outcome === 'timeout') break;
    if (outcome === 'infeasible') lo = at;
    else {
      best = outcome;
      proven &&= outcome.proven;
      hi = Math.min(at, levelOf(outcome.chain));
    }
  }
  while (best === null ? lo < hi : hi - lo > 1) {
    const probe = best === null ? (lo + hi + 1) >> 1 : (lo + hi) >> 1;
    // The levels are the very numbers the model compares with its cap, so no slack is needed.
    const outcome = await solveCapped(t, levels[probe]!, solver, remaining());
    if (outcome === 'infeasible') lo = probe;
    else if (outcome === 'timeout') {
      if (best) return { chain: best.chain, proven: false };
      throw timeout();
    } else {
      best = outcome;
      proven &&= outcome.proven;
      hi = Math.min(probe, levelOf(outcome.chain));
    }
    if (Date.now() > deadline && best) return { chain: best.chain, proven: false };
  }
  return best ? { chain: best.chain, proven } : null;
}
