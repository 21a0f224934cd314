/**
 * Messages between the page (placement-client.ts) and the placement worker: one union each way, keyed by
 * `kind`, each carrying the `id` of the call it starts or answers.
 */
import type { PlacementProblem, PlacementResult } from '../../core/placement/types';

export type PlacementEngine = 'dp' | 'milp';

export type ToPlacementWorker = {
  readonly kind: 'plan';
  readonly id: number;
  readonly problem: PlacementProblem;
  readonly engine: PlacementEngine;
  readonly timeLimitSec: number;
  /** Absolute URL of highs.wasm when the bundler's default location is wrong. */
  readonly highsWasmUrl: string | null;
};

export type FromPlacementWorker =
  | { readonly kind: 'planned'; readonly id: number; readonly result: PlacementResult }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };
