/**
 * The port through which the core hands a mixed-integer program (CPLEX LP text) to a solver and reads the
 * answer. The only implementation is src/adapters/highs; the core never imports a solver.
 */

export type MilpStatus = 'optimal' | 'infeasible' | 'time-limit' | 'error';

export interface MilpSolution {
  readonly status: MilpStatus;
  /** The objective of the returned values; null when there are none. */
  readonly objective: number | null;
  /** Column values by name: the optimum, or after a time limit the best solution found (maybe none). */
  readonly values: Readonly<Record<string, number>>;
  /** The solver's own status text, for messages. */
  readonly detail: string;
}

export interface MilpSolveOptions {
  readonly timeLimitSec: number;
  /** Run the solver's presolve (default true); some models solve much faster without it. */
  readonly presolve?: boolean;
}

export interface MilpSolver {
  solve(lp: string, options: MilpSolveOptions): Promise<MilpSolution>;
}
