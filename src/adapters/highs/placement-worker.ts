/**
 * The placement Web Worker: plans off the page's thread (HiGHS blocks the thread it runs on, and even
 * the DP takes a noticeable moment on a slow phone). HiGHS is loaded only when a MILP is asked for.
 */
import * as Comlink from 'comlink';
import { planPlacement } from '../../core/placement/plan-placement';
import type { MilpSolver } from '../../core/placement/solver-port';
import { asError } from '../../worker/worker-rpc';
import { createHighsSolver } from './highs-solver';
import type { PlacementWorkerApi } from './placement-protocol';

const solvers = new Map<string, MilpSolver>();

function solverFor(wasmUrl: string | null): MilpSolver {
  const key = wasmUrl ?? '';
  let solver = solvers.get(key);
  if (!solver) {
    solver = createHighsSolver(wasmUrl ? { locateFile: () => wasmUrl } : {});
    solvers.set(key, solver);
  }
  return solver;
}

// One plan at a time, in order (Comlink starts each call as its message arrives): a MILP solve blocks
// the worker anyway, and HiGHS's wasm must finish loading once before a second plan uses it.
let queue: Promise<unknown> = Promise.resolve();

const api: PlacementWorkerApi = {
  plan(problem, opts) {
    const planned = queue.then(() =>
      asError(() =>
        planPlacement(
          problem,
          opts.engine === 'milp'
            ? { milp: solverFor(opts.highsWasmUrl), timeLimitSec: opts.timeLimitSec }
            : {},
        ),
      ),
    );
    queue = planned.catch(() => undefined);
    return planned;
  },
};

Comlink.expose(api);
