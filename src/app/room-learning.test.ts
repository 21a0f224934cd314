import { describe, expect, it } from 'vitest';
import { RoomLearning } from './room-learning';
import type { RoomPlan } from './room-planner';

/** One remote phone running every block; the leader feeds it and samples. */
const plan: RoomPlan = {
  plan: { id: 'p', stages: [{ phoneId: 'phone', firstBlock: 0, lastBlock: 3 }] },
  stages: [
    { phoneId: 'phone', firstBlock: 0, lastBlock: 3, predictedMs: 5, kernelPredictedMs: 5, handlingMs: 0.5 },
  ],
  planner: 'test',
  predictedTokenMs: 6,
  predictedTokensPerSecond: 1000 / 6,
  predictedBottleneckMs: 5.5,
  predictedLinkMs: 0.5,
  surveyLinkMs: 0.5,
  remoteHops: 2,
  leftOut: [],
  solveMs: null,
};

/** `steps` decode steps (after a prefill) where the stage runs `run` ms and the step takes `wall`. */
const timings = (steps: number, run: number, wall: number) => ({
  stepMs: [50, ...Array(steps).fill(wall)],
  stageTimesMs: [[40], ...Array(steps).fill([run])],
  residentMs: [[41], ...Array(steps).fill([run + 1])],
});

describe('RoomLearning', () => {
  it('learns a warm-up only from its later steps', () => {
    const l = new RoomLearning();
    const r = timings(23, 10, 14);
    // One-time costs land on the first steps.
    for (let i = 1; i < 8; i++) {
      r.stageTimesMs[i] = [100];
      r.residentMs[i] = [101];
    }
    expect(l.observe(plan, r, 'leader', { warmUp: true, priced: true })).toBe(true);
    expect(l.learned.computeFactor.get('phone')).toBeCloseTo(2);
    expect(l.learned.handlingMs.get('phone')).toBeCloseTo(1);
    // 14 − 11 ms outside the phone, 0.5 predicted, over 2 hops.
    expect(l.learned.hopExtraMs).toBeCloseTo(1.25);
  });

  it('lets the first real answer replace what warm-ups taught, then averages', () => {
    const l = new RoomLearning();
    l.observe(plan, timings(23, 10, 14), 'leader', { warmUp: true, priced: true });
    l.observe(plan, timings(10, 5, 8), 'leader', { warmUp: false, priced: true });
    expect(l.learned.computeFactor.get('phone')).toBeCloseTo(1);
    l.observe(plan, timings(10, 10, 13), 'leader', { warmUp: false, priced: true });
    expect(l.learned.computeFactor.get('phone')).toBeCloseTo(1.5);
  });

  it('learns nothing from an unpriced plan or a prefill alone, and forgets on reset', () => {
    const l = new RoomLearning();
    expect(l.observe(plan, timings(10, 5, 8), 'leader', { warmUp: false, priced: false })).toBe(false);
    expect(l.observe(plan, timings(0, 5, 8), 'leader', { warmUp: false, priced: true })).toBe(false);
    l.observe(plan, timings(10, 5, 8), 'leader', { warmUp: false, priced: true });
    l.reset();
    expect(l.learned.computeFactor.size).toBe(0);
  });
});
