/**
 * The page's side of the placement worker: `plan(problem)` has the same contract as the in-process
 * planPlacement, but never blocks the page.
 */
import type { PlacementProblem, PlacementResult } from '../../core/placement/types';
import { WorkerConnection } from '../../worker/worker-rpc';
import type { PlacementEngine, PlacementWorkerApi } from './placement-protocol';

export interface PlacementClientOptions {
  /** 'dp' (default): the exact DP. 'milp': HiGHS, slower, for cross-checks and extra constraints. */
  readonly engine?: PlacementEngine;
  readonly timeLimitSec?: number;
  readonly highsWasmUrl?: string;
}

export class PlacementClient {
  private readonly rpc: WorkerConnection<PlacementWorkerApi>;

  constructor(private readonly opts: PlacementClientOptions = {}) {
    // Written out literally so that vite recognises it and bundles the worker as its own chunk.
    const worker = new Worker(new URL('./placement-worker.ts', import.meta.url), {
      type: 'module',
      name: 'chorus-placement',
    });
    this.rpc = new WorkerConnection(worker, 'placement worker');
  }

  plan(problem: PlacementProblem): Promise<PlacementResult> {
    const opts = {
      engine: this.opts.engine ?? 'dp',
      timeLimitSec: this.opts.timeLimitSec ?? 10,
      highsWasmUrl: this.opts.highsWasmUrl ?? null,
    };
    return this.rpc.call('plan', (w) => w.plan(problem, opts));
  }

  dispose(): void {
    this.rpc.kill(new Error('placement client disposed'));
  }
}
