/**
 * The page's side of the placement worker: `plan(problem)` has the same contract as the in-process
 * planPlacement, but never blocks the page.
 */
import type { PlacementProblem, PlacementResult } from '../../core/placement/types';
import type { FromPlacementWorker, PlacementEngine, ToPlacementWorker } from './placement-protocol';

export interface PlacementClientOptions {
  /** 'dp' (default): the exact DP. 'milp': HiGHS, slower, for cross-checks and extra constraints. */
  readonly engine?: PlacementEngine;
  readonly timeLimitSec?: number;
  readonly highsWasmUrl?: string;
}

interface Pending {
  resolve(result: PlacementResult): void;
  reject(error: Error): void;
}

export class PlacementClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor(private readonly opts: PlacementClientOptions = {}) {
    // Written out literally so that vite recognises it and bundles the worker as its own chunk.
    this.worker = new Worker(new URL('./placement-worker.ts', import.meta.url), {
      type: 'module',
      name: 'chorus-placement',
    });
    this.worker.onmessage = (ev: MessageEvent<FromPlacementWorker>) => this.settle(ev.data);
    // Every error inside the worker is answered with `failed`; an error event means it could not start.
    this.worker.onerror = (ev: ErrorEvent) => this.fail(new Error(`placement worker failed: ${ev.message}`));
  }

  plan(problem: PlacementProblem): Promise<PlacementResult> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const msg: ToPlacementWorker = {
      kind: 'plan',
      id,
      problem,
      engine: this.opts.engine ?? 'dp',
      timeLimitSec: this.opts.timeLimitSec ?? 10,
      highsWasmUrl: this.opts.highsWasmUrl ?? null,
    };
    return new Promise<PlacementResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(msg);
    });
  }

  dispose(): void {
    this.worker.terminate();
    this.fail(new Error('placement client disposed'));
  }

  private settle(msg: FromPlacementWorker): void {
    const pending = this.pending.get(msg.id);
    if (!pending) return;
    this.pending.delete(msg.id);
    switch (msg.kind) {
      case 'planned':
        pending.resolve(msg.result);
        return;
      case 'failed':
        pending.reject(new Error(msg.message));
        return;
    }
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
