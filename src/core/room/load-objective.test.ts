import { describe, expect, it } from 'vitest';
import { flipsIn, LOAD_RULES, type LoadState, observeLoad, QUIET_ROOM } from './load-objective';

/** Feeds (ms, inFlight) observations in order; returns the objective after each. */
function run(points: readonly [number, number][], start: LoadState = QUIET_ROOM): string[] {
  let s = start;
  return points.map(([t, k]) => {
    s = observeLoad(s, k, t);
    return s.objective;
  });
}

describe('observeLoad', () => {
  it('plans for throughput once two or more answers stay in flight for busyForMs', () => {
    const t = LOAD_RULES.busyForMs;
    expect(
      run([
        [0, 2],
        [t - 1, 3],
        [t, 2],
      ]),
    ).toEqual(['latency', 'latency', 'throughput']);
  });

  it('a short overlap of two answers moves nothing: the count must hold without a break', () => {
    const t = LOAD_RULES.busyForMs;
    expect(
      run([
        [0, 2],
        [t / 2, 1],
        [t, 2],
        [t + t / 2, 2],
        [2 * t, 2],
      ]),
    ).toEqual(['latency', 'latency', 'latency', 'latency', 'throughput']);
  });

  it('goes back to latency only after quietForMs below busyAt; a new burst resets the wait', () => {
    const busy: LoadState = { objective: 'throughput', since: null };
    const q = LOAD_RULES.quietForMs;
    expect(
      run(
        [
          [0, 1],
          [q - 1, 0],
          [q, 3],
          [q + 1, 1],
          [2 * q, 1],
          [2 * q + 1, 1],
        ],
        busy,
      ),
    ).toEqual(['throughput', 'throughput', 'throughput', 'throughput', 'throughput', 'latency']);
  });

  it('a single answer never asks for throughput', () => {
    expect(
      run([
        [0, 1],
        [10_000, 1],
        [100_000, 0],
      ]),
    ).toEqual(['latency', 'latency', 'latency']);
  });

  it('says when the state would flip if nothing changed, for a timer', () => {
    expect(flipsIn(QUIET_ROOM, 0)).toBeNull();
    const waiting = observeLoad(QUIET_ROOM, 4, 1000);
    expect(flipsIn(waiting, 1200)).toBe(LOAD_RULES.busyForMs - 200);
    expect(flipsIn(waiting, 1000 + 10 * LOAD_RULES.busyForMs)).toBe(0);
  });

  it('keeps the same object while nothing changes (callers compare by identity)', () => {
    const s = observeLoad(QUIET_ROOM, 1, 5);
    expect(s).toBe(QUIET_ROOM);
    const w = observeLoad(QUIET_ROOM, 2, 5);
    expect(observeLoad(w, 3, 6)).toBe(w);
  });
});
