/**
 * Which objective the room plans for, from how many answers it keeps in flight. One stream wants the
 * fastest token (latency: often one phone, no hops); several at once want the most tokens per second
 * (throughput: the slowest stage as short as possible, usually every phone). Moving blocks costs a
 * pause, so the load must hold before the room changes its mind: a second answer that overlaps the
 * first for a moment moves nothing, and a room that falls quiet for a breath keeps its busy plan.
 */
import type { PlacementObjective } from '../placement/types';

export interface LoadState {
  readonly objective: PlacementObjective;
  /** Since when the load has called for the other objective, without a break (null: it does not). */
  readonly since: number | null;
}

export interface LoadRules {
  /** Answers in flight from which the room counts as busy. */
  readonly busyAt: number;
  /** How long the room must stay busy before it plans for throughput. */
  readonly busyForMs: number;
  /** How long it must stay below `busyAt` before it plans for latency again. */
  readonly quietForMs: number;
}

export const LOAD_RULES: LoadRules = { busyAt: 2, busyForMs: 1500, quietForMs: 15_000 };

export const QUIET_ROOM: LoadState = { objective: 'latency', since: null };

/** The state after seeing `inFlight` answers at `now` (ms, any monotonic clock). */
export function observeLoad(
  state: LoadState,
  inFlight: number,
  now: number,
  rules: LoadRules = LOAD_RULES,
): LoadState {
  const busy = inFlight >= rules.busyAt;
  const callsForOther = state.objective === 'latency' ? busy : !busy;
  if (!callsForOther) return state.since === null ? state : { ...state, since: null };
  const since = state.since ?? now;
  const holdMs = state.objective === 'latency' ? rules.busyForMs : rules.quietForMs;
  if (now - since < holdMs) return state.since === since ? state : { ...state, since };
  return { objective: state.objective === 'latency' ? 'throughput' : 'latency', since: null };
}

/** Ms from `now` until the state flips if the load stays as it is (null: it will not flip). */
export function flipsIn(state: LoadState, now: number, rules: LoadRules = LOAD_RULES): number | null {
  if (state.since === null) return null;
  const holdMs = state.objective === 'latency' ? rules.busyForMs : rules.quietForMs;
  return Math.max(0, state.since + holdMs - now);
}
