/**
 * When a room that is answering should move to another plan (runtime load balancing). Every
 * `EVERY_STEPS` decode steps the leader learns from the last `WINDOW_STEPS` steps, re-solves, and asks
 * this rule with the two predictions:
 *
 * - a move must promise at least `MIN_GAIN` (25%) less time per token — below that, moving blocks and
 *   replaying the answer costs more than it saves over a typical answer, and this machine's run-to-run
 *   spread is ±30% for single steps, though far less for a 16-step median;
 * - the gain must hold at `CONFIRMATIONS` (2) evaluations in a row, so one slow window (a phone's
 *   garbage collection, another tab) moves nothing;
 * - and at least `COOLDOWN_STEPS` (32) steps must pass after a move, so that its own pause and the
 *   one-time costs after it (first runs of a new session) are not read as a reason to move again.
 *
 * - and the move must pay for itself before the answers end: what it saves per token, times the tokens
 *   the longest answer in flight may still write, must beat the pause a move is expected to cost
 *   (`worthMoving`). A move near the end of an answer only adds its pause.
 *
 * After a move the new plan is the optimum for what was learnt, so the same figures cannot make it
 * move back: it moves again only when the phones change again. The rule is pure; tests show it holds
 * still under noise and moves once for a sustained slowdown.
 */
export const WINDOW_STEPS = 16;
export const EVERY_STEPS = 8;
export const MIN_GAIN = 0.25;
export const CONFIRMATIONS = 2;
export const COOLDOWN_STEPS = 32;

export interface BalanceState {
  /** Evaluations in a row that found a clear gain. */
  readonly wins: number;
  /** Decode steps since the last move (or since the answer began). */
  readonly sinceMove: number;
}

export const BALANCE_START: BalanceState = { wins: 0, sinceMove: 0 };

/** Advances the state by `steps` decode steps (call before `decide`). */
export function stepped(state: BalanceState, steps: number): BalanceState {
  return { ...state, sinceMove: state.sinceMove + steps };
}

/**
 * One evaluation: `currentMs` and `bestMs` are the predicted ms per token of the plan in use and of the
 * best plan found, with the same learnt figures.
 */
export function decide(
  state: BalanceState,
  currentMs: number | null,
  bestMs: number | null,
): { readonly move: boolean; readonly state: BalanceState } {
  const clear = currentMs !== null && bestMs !== null && bestMs <= currentMs * (1 - MIN_GAIN);
  const wins = clear ? state.wins + 1 : 0;
  if (wins >= CONFIRMATIONS && state.sinceMove >= COOLDOWN_STEPS)
    return { move: true, state: { wins: 0, sinceMove: 0 } };
  return { move: false, state: { ...state, wins } };
}

/** A move must save at least this many times its expected pause. */
export const PAYBACK = 1;

/** Whether saving `gainMsPerToken` over `tokensLeft` tokens is worth a pause of `pauseMs`. */
export function worthMoving(gainMsPerToken: number, tokensLeft: number, pauseMs: number): boolean {
  return gainMsPerToken * tokensLeft > PAYBACK * pauseMs;
}
