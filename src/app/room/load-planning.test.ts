import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PlacementObjective } from '../../core/placement/types';
import { LOAD_RULES } from '../../core/room/load-objective';
import { LoadPlanning } from './load-planning';

describe('LoadPlanning', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A LoadPlanning on fake timers; `fail` makes the re-plan for that objective throw. */
  function setup(fail?: PlacementObjective) {
    let inFlight = 0;
    const replans: PlacementObjective[] = [];
    const lines: string[] = [];
    const load = new LoadPlanning({
      inFlight: () => inFlight,
      replan: async (o) => {
        replans.push(o);
        if (o === fail) throw new Error('a phone left');
      },
      log: (l) => lines.push(l),
      now: () => Date.now(),
    });
    load.enabled = true;
    const set = (k: number) => {
      inFlight = k;
      load.observe();
    };
    return { load, replans, set, lines };
  }

  it('re-plans for throughput when answers stay side by side, and for latency once the room is quiet', async () => {
    const { load, replans, set } = setup();
    set(1);
    set(2);
    set(3);
    expect(replans).toEqual([]);
    // No answer starts or ends meanwhile: the timer looks again when the load has held long enough.
    await vi.advanceTimersByTimeAsync(LOAD_RULES.busyForMs + 5);
    expect(load.objective).toBe('throughput');
    expect(replans).toEqual(['throughput']);
    set(1);
    set(0);
    await vi.advanceTimersByTimeAsync(LOAD_RULES.quietForMs - 100);
    expect(replans).toEqual(['throughput']);
    await vi.advanceTimersByTimeAsync(200);
    await load.settled();
    expect(replans).toEqual(['throughput', 'latency']);
  });

  it('a brief overlap re-plans nothing', async () => {
    const { replans, set } = setup();
    set(1);
    set(2);
    await vi.advanceTimersByTimeAsync(LOAD_RULES.busyForMs / 2);
    set(1);
    await vi.advanceTimersByTimeAsync(10 * LOAD_RULES.busyForMs);
    expect(replans).toEqual([]);
  });

  it('does nothing while disabled (an even room), and reset forgets the load', async () => {
    const { load, replans, set } = setup();
    load.enabled = false;
    set(4);
    await vi.advanceTimersByTimeAsync(10 * LOAD_RULES.busyForMs);
    expect(replans).toEqual([]);
    load.enabled = true;
    set(4);
    load.reset();
    await vi.advanceTimersByTimeAsync(10 * LOAD_RULES.busyForMs);
    expect(replans).toEqual([]);
    expect(load.objective).toBe('latency');
  });

  it('a failed re-plan is logged and the next one still runs', async () => {
    const { load, replans, set, lines } = setup('throughput');
    set(3);
    await vi.advanceTimersByTimeAsync(LOAD_RULES.busyForMs + 5);
    set(0);
    await vi.advanceTimersByTimeAsync(LOAD_RULES.quietForMs + 5);
    await load.settled();
    expect(replans).toEqual(['throughput', 'latency']);
    expect(lines.some((l) => /for throughput failed .*a phone left/.test(l))).toBe(true);
  });
});
