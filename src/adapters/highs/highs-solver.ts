/**
 * MilpSolver on HiGHS (npm `highs`, WebAssembly): the only module that imports it. Works in Node (the
 * loader finds highs.wasm beside itself) and in a browser Worker (vite bundles the wasm; `locateFile`
 * overrides where it is fetched from). Solving blocks the thread it runs on, so in the browser call it
 * from placement-worker.ts, never from the page.
 */
import highsLoader, { type Highs, type InitOptions } from 'highs';
import type { MilpSolution, MilpSolveOptions, MilpSolver } from '../../core/placement/solver-port';

export interface HighsSolverOptions {
  /** Where to fetch highs.wasm from, when the default location is wrong. */
  readonly locateFile?: (file: string) => string;
  /** Replaces the loader altogether (tests, or a runtime shared with other code). */
  readonly load?: () => Promise<Highs>;
}

export function createHighsSolver(opts: HighsSolverOptions = {}): MilpSolver {
  let instance: Promise<Highs> | null = null;
  const load = (): Promise<Highs> => {
    if (!instance) {
      const init: InitOptions = opts.locateFile ? { locateFile: opts.locateFile } : {};
      instance = opts.load ? opts.load() : highsLoader(init);
      // A failed load must not be remembered: the next call tries again.
      instance.catch(() => {
        instance = null;
      });
    }
    return instance;
  };
  return {
    async solve(lp: string, { timeLimitSec, presolve = true }: MilpSolveOptions): Promise<MilpSolution> {
      const highs = await load();
      // mip_rel_gap 0: "optimal" must mean optimal, not within HiGHS's default 0.01 %.
      const result = highs.solve(lp, {
        time_limit: timeLimitSec,
        mip_rel_gap: 0,
        output_flag: false,
        presolve: presolve ? 'choose' : 'off',
      });
      const values: Record<string, number> = {};
      for (const [name, column] of Object.entries(result.Columns)) {
        if ('Primal' in column) values[name] = column.Primal;
      }
      const hasValues = Object.keys(values).length > 0;
      const objective = hasValues && Number.isFinite(result.ObjectiveValue) ? result.ObjectiveValue : null;
      switch (result.Status) {
        case 'Optimal':
          return { status: 'optimal', objective, values, detail: result.Status };
        case 'Infeasible':
          return { status: 'infeasible', objective: null, values: {}, detail: result.Status };
        case 'Time limit reached':
          return { status: 'time-limit', objective, values, detail: result.Status };
        default:
          return { status: 'error', objective: null, values: {}, detail: result.Status };
      }
    },
  };
}
