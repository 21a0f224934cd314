/**
 * What the placement worker exposes over Comlink (placement-worker.ts implements it, placement-client.ts
 * calls it).
 */
import type { PlacementProblem, PlacementResult } from '../../core/placement/types';

export type PlacementEngine = 'dp' | 'milp';

export interface PlanOptions {
  readonly engine: PlacementEngine;
  readonly timeLimitSec: number;
  /** Absolute URL of highs.wasm when the bundler's default location is wrong. */
  readonly highsWasmUrl: string | null;
}

export interface PlacementWorkerApi {
  plan(problem: PlacementProblem, opts: PlanOptions): Promise<PlacementResult>;
}
