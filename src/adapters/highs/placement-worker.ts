/**
 * The placement Web Worker: plans off the page's thread (HiGHS blocks the thread it runs on, and even
 * the DP takes a noticeable moment on a slow phone). HiGHS is loaded only when a MILP is asked for.
 */
import { planPlacement } from '../../core/placement/plan-placement';
import type { MilpSolver } from '../../core/placement/solver-port';
import { createHighsSolver } from './highs-solver';
import type { FromPlacementWorker, ToPlacementWorker } from './placement-protocol';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
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

const post = (msg: FromPlacementWorker) => scope.postMessage(msg);

async function handle(msg: ToPlacementWorker): Promise<void> {
  switch (msg.kind) {
    case 'plan': {
      try {
        const options =
          msg.engine === 'milp' ? { milp: solverFor(msg.highsWasmUrl), timeLimitSec: msg.timeLimitSec } : {};
        post({ kind: 'planned', id: msg.id, result: await planPlacement(msg.problem, options) });
      } catch (e) {
        post({ kind: 'failed', id: msg.id, message: e instanceof Error ? e.message : String(e) });
      }
      return;
    }
  }
}

// One plan at a time, in order: a MILP solve blocks the worker anyway.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (ev: MessageEvent<ToPlacementWorker>) => {
  queue = queue.then(() => handle(ev.data));
};
