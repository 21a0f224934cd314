import { describe, expect, it } from 'vitest';
import {
  computeFactorOf,
  learnFrom,
  NOTHING_LEARNT,
  type RunObservation,
  stepBreakdown,
} from './learned-costs';

const run = (over: Partial<RunObservation> = {}): RunObservation => ({
  stages: [
    { phoneId: 'a', kernelPredictedMs: 10, computeMs: 12, handlingMs: 0.4 },
    { phoneId: 'b', kernelPredictedMs: 5, computeMs: 10, handlingMs: 0.8 },
  ],
  outsideMs: 7,
  remoteHops: 3,
  predictedLinkMs: 1,
  ...over,
});

describe('stepBreakdown', () => {
  it('takes medians over the decode steps only, and splits residence into run and handling', () => {
    const b = stepBreakdown({
      stepMs: [100, 20, 22, 21],
      stageTimesMs: [
        [90, 9],
        [8, 6],
        [9, 6],
        [8, 7],
      ],
      residentMs: [
        [91, 10],
        [9, 7],
        [10, 7.5],
        [9, 8],
      ],
    })!;
    expect(b.computeMs).toEqual([8, 6]);
    expect(b.handlingMs).toEqual([1, 1]);
    // wall − Σ residence per step: 20 − 16, 22 − 17.5, 21 − 17 → median 4.
    expect(b.outsideMs).toBe(4);
    expect(b.stepMs).toBe(21);
  });

  it('gives nothing for a prefill alone', () => {
    expect(stepBreakdown({ stepMs: [5], stageTimesMs: [[4]], residentMs: [[4.5]] })).toBeNull();
  });

  it('leaves the links unknown when phones did not report residence', () => {
    const b = stepBreakdown({ stepMs: [9, 5, 5], stageTimesMs: [[4], [3], [3]], residentMs: [[], [], []] })!;
    expect(b.outsideMs).toBeNaN();
  });
});

describe('learnFrom', () => {
  it('learns each phone’s factor and handling, and the extra cost of a hop', () => {
    const l = learnFrom(NOTHING_LEARNT, run());
    expect(l.computeFactor.get('a')).toBeCloseTo(1.2);
    expect(l.computeFactor.get('b')).toBeCloseTo(2);
    expect(l.handlingMs.get('b')).toBeCloseTo(0.8);
    expect(l.hopExtraMs).toBeCloseTo((7 - 1) / 3);
  });

  it('blends a new run into what was known', () => {
    const first = learnFrom(NOTHING_LEARNT, run());
    const second = learnFrom(first, run({ outsideMs: 1 + 3 * 4 }), 0.5);
    expect(second.hopExtraMs).toBeCloseTo((2 + 4) / 2);
    expect(second.computeFactor.get('a')).toBeCloseTo(1.2);
  });

  it('learns no hop cost from a run without hops, and never a negative one', () => {
    expect(learnFrom(NOTHING_LEARNT, run({ remoteHops: 0 })).hopExtraMs).toBeNull();
    expect(learnFrom(NOTHING_LEARNT, run({ outsideMs: 0.2 })).hopExtraMs).toBe(0);
  });

  it('clamps a wild run and skips phones that were not measured', () => {
    const l = learnFrom(
      NOTHING_LEARNT,
      run({
        stages: [
          { phoneId: 'a', kernelPredictedMs: 1, computeMs: 500, handlingMs: 0.5 },
          { phoneId: 'b', kernelPredictedMs: null, computeMs: 3, handlingMs: 0.5 },
        ],
      }),
    );
    expect(l.computeFactor.get('a')).toBe(10);
    expect(l.computeFactor.has('b')).toBe(false);
  });
});

describe('computeFactorOf', () => {
  it("is a phone's own factor once it ran, and before that the median of the others'", () => {
    const l = learnFrom(NOTHING_LEARNT, run()); // a: 1.2, b: 2
    expect(computeFactorOf(l, 'a')).toBeCloseTo(1.2);
    expect(computeFactorOf(l, 'b')).toBeCloseTo(2);
    expect(computeFactorOf(l, 'c')).toBeCloseTo(1.6);
  });

  it('is 1 while no phone has run', () => {
    expect(computeFactorOf(NOTHING_LEARNT, 'c')).toBe(1);
  });
});
