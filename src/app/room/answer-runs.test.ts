/** Which answers the room learns from: alone in the pipeline, on one plan, not learnt mid-answer. */
import { describe, expect, it } from 'vitest';
import type { GenerationOutput } from '../pipeline-driver';
import type { RoomPlan } from '../room-planner';
import { type AnswerDriver, AnswerRuns } from './answer-runs';

const planOf = (id: string) => ({ plan: { id, stages: [] } }) as unknown as RoomPlan;
const output = { stepMs: [5, 1, 1], stageTimesMs: [[4], [1], [1]], residentMs: [[4], [1], [1]] };

/** A driver whose answers end when the test says; it counts what is in flight. */
function setup() {
  const ends: (() => void)[] = [];
  const driver: AnswerDriver = {
    inFlight: 0,
    generate() {
      (this as { inFlight: number }).inFlight++;
      return new Promise<GenerationOutput>((resolve) =>
        ends.push(() => {
          (this as { inFlight: number }).inFlight--;
          resolve(output as unknown as GenerationOutput);
        }),
      );
    },
  };
  let plan = planOf('a');
  const learnt: boolean[] = [];
  let loadChanges = 0;
  let balancing = true;
  const runs = new AnswerRuns({
    driver: () => driver,
    current: () => plan,
    measured: async () => {},
    loadChanged: () => loadChanges++,
    setBalancing: (on) => {
      const was = balancing;
      balancing = on;
      return was;
    },
    learn: (_r, warmUp) => learnt.push(warmUp) > 0,
    log: () => {},
  });
  const ask = () => runs.generate({ ids: [1] }, {} as never, () => {});
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return {
    runs,
    ask,
    flush,
    ends,
    learnt,
    loads: () => loadChanges,
    balancing: () => balancing,
    move: (id: string) => {
      plan = planOf(id);
    },
  };
}

describe('AnswerRuns', () => {
  it('learns from an answer that ran alone, and tells the load planner at its start and end', async () => {
    const t = setup();
    const a = t.ask();
    await t.flush();
    t.ends[0]!();
    await a;
    expect(t.learnt).toEqual([false]);
    expect(t.loads()).toBe(2);
    expect(t.runs.lastRunPlan?.plan.id).toBe('a');
  });

  it('learns from neither of two answers that overlapped', async () => {
    const t = setup();
    const a = t.ask();
    await t.flush();
    const b = t.ask();
    await t.flush();
    t.ends[0]!();
    t.ends[1]!();
    await Promise.all([a, b]);
    expect(t.learnt).toEqual([]);
  });

  it('learns nothing from an answer that spanned a plan change or that the balancer learnt from', async () => {
    const t = setup();
    const a = t.ask();
    await t.flush();
    t.move('b');
    t.ends[0]!();
    await a;
    const b = t.ask();
    await t.flush();
    t.runs.learntMidway();
    t.ends[1]!();
    await b;
    expect(t.learnt).toEqual([]);
  });

  it('warms up with balancing off, learns by the warm-up rule, then restores balancing', async () => {
    const t = setup();
    const w = t.runs.warmUp();
    await t.flush();
    expect(t.runs.warmingUp).toBe(true);
    expect(t.balancing()).toBe(false);
    t.ends[0]!();
    expect(await w).toBeNull();
    expect(t.runs.warmingUp).toBe(false);
    expect(t.balancing()).toBe(true);
    expect(t.learnt).toEqual([true]);
    expect(t.runs.lastRunPlan).toBeNull();
  });
});
