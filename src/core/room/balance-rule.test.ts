import { describe, expect, it } from 'vitest';
import {
  BALANCE_START,
  type BalanceState,
  COOLDOWN_STEPS,
  decide,
  EVERY_STEPS,
  stepped,
  worthMoving,
} from './balance-rule';

/** Runs evaluations every EVERY_STEPS steps over (current, best) predictions; returns the moves' indices. */
function moves(predictions: [number, number][], from: BalanceState = { wins: 0, sinceMove: COOLDOWN_STEPS }) {
  let state = from;
  const out: number[] = [];
  predictions.forEach(([current, best], i) => {
    const d = decide(stepped(state, EVERY_STEPS), current, best);
    state = d.state;
    if (d.move) out.push(i);
  });
  return out;
}

describe('balance rule', () => {
  it('holds still under noise: gains that come and go, or stay below 25%', () => {
    const noisy: [number, number][] = Array.from({ length: 40 }, (_, i) => [
      10 * (1 + 0.3 * Math.sin(i * 1.7)),
      10 * (1 + 0.3 * Math.cos(i * 2.3)),
    ]);
    // A single clear window between unclear ones never confirms.
    const blips: [number, number][] = Array.from({ length: 40 }, (_, i) => (i % 2 ? [10, 5] : [10, 9.5]));
    const small: [number, number][] = Array.from({ length: 40 }, () => [10, 7.6]);
    expect(moves(noisy)).toEqual([]);
    expect(moves(blips)).toEqual([]);
    expect(moves(small)).toEqual([]);
  });

  it('moves once a sustained slowdown is confirmed, and not again on the same figures', () => {
    // A phone becomes 4× slower: the plan in use predicts 40 ms, the best 20; after the move, the new
    // plan is the best (equal predictions).
    const predictions: [number, number][] = [
      [10, 10],
      [10, 10],
      [40, 20],
      [40, 20],
      ...Array.from({ length: 20 }, (): [number, number] => [20, 20]),
    ];
    expect(moves(predictions)).toEqual([3]);
  });

  it('waits out the cooldown after a move, even for a clear gain', () => {
    const clear: [number, number][] = Array.from({ length: 8 }, () => [40, 20]);
    // From a fresh move: two confirmations arrive at once, but the move waits for 32 steps.
    expect(moves(clear, BALANCE_START)).toEqual([3, 7]);
  });

  it('an unpriced plan (a prediction missing) never moves', () => {
    expect(
      moves(
        [
          [Number.NaN, 1],
          [10, Number.NaN],
        ].map(([a, b]) => [a!, b!] as [number, number]),
      ),
    ).toEqual([]);
    let s = { wins: 5, sinceMove: 100 };
    const d = decide(s, null, 5);
    s = d.state;
    expect(d.move).toBe(false);
    expect(s.wins).toBe(0);
  });

  it('a move must pay for its pause before the answers end', () => {
    // 60 ms/token saved over 200 tokens is 12 s: worth a 10 s pause, not a 15 s one.
    expect(worthMoving(60, 200, 10_000)).toBe(true);
    expect(worthMoving(60, 200, 15_000)).toBe(false);
    // Near the end of an answer even a large gain is not worth a move.
    expect(worthMoving(500, 10, 8000)).toBe(false);
  });
});
