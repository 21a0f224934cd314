/**
 * allocation: tokens/s with the solved plan (phones measured, placement solved in the leader's worker)
 * vs an even split by blocks' parameters, side by side on the same emulated phones (slowdowns 1, 2, 4),
 * with and without memory caps that force every phone to take part; the predicted vs measured stage
 * times of the solved plans; and the time to solve 8 phones × 48 blocks in the browser.
 */
import { randomProblem } from '../src/core/placement/test-instances';
import type { PlacementProblem, PlacementResult } from '../src/core/placement/types';
import { SimulatedRoom } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const SLOWDOWNS = [1, 2, 4];
const SETTINGS = [
  { name: 'slowdowns 1,2,4', memoryMB: undefined },
  // 175 MB of weights, 100 MB per phone: nobody holds the model alone, everyone must take part.
  { name: 'slowdowns 1,2,4, 100 MB per phone', memoryMB: [100, 100, 100] },
];

interface Run {
  tokensPerSecond: number[];
  /** (predicted − measured) / measured per stage: with the warm-up's measurements folded in, and from the kernel alone. */
  stageErrors: number[];
  kernelErrors: number[];
  plan: unknown;
}

async function measure(
  room: SimulatedRoom,
  planner: 'solved' | 'even',
  name: string,
  repeats: number,
): Promise<Run> {
  await room.loadModel(name, 600_000, planner);
  await room.generate({ promptIds: [1, 2, 3, 4, 5, 6, 7, 8], maxNewTokens: 4 });
  const tokensPerSecond: number[] = [];
  const stageErrors: number[] = [];
  const kernelErrors: number[] = [];
  let plan: unknown = null;
  for (let r = 0; r < repeats; r++) {
    const res = await room.generate({ promptIds: [1, 2, 3, 4, 5, 6, 7, 8], maxNewTokens: 24 }, 600_000);
    tokensPerSecond.push(res.tokensPerSecond);
    plan = res.plan;
    const decode = res.stageTimesMs.slice(1);
    res.plan.stages.forEach((s, k) => {
      const measured = median(decode.map((d) => d[k] ?? Number.NaN).filter(Number.isFinite));
      if (s.predictedMs !== null && measured > 0) stageErrors.push((s.predictedMs - measured) / measured);
      const kernel = (s as { kernelPredictedMs?: number | null }).kernelPredictedMs;
      if (kernel && measured > 0) kernelErrors.push((kernel - measured) / measured);
    });
  }
  return { tokensPerSecond, stageErrors, kernelErrors, plan };
}

async function browserSolveTimes(
  room: SimulatedRoom,
  problems: PlacementProblem[],
): Promise<{ ms: number; proven: boolean; engine: string }[]> {
  return room.leader.evaluate(async (ps) => {
    const app = document.querySelector('chorus-app') as unknown as {
      room: { placement(): { plan(p: unknown): Promise<PlacementResult> } };
    };
    const out: { ms: number; proven: boolean; engine: string }[] = [];
    for (const p of ps) {
      const t0 = performance.now();
      const r = await app.room.placement().plan(p);
      out.push({
        ms: performance.now() - t0,
        proven: r.kind === 'placement' && r.proven,
        engine: r.kind === 'placement' ? r.engine : 'infeasible',
      });
    }
    return out;
  }, problems);
}

const benchmark: Benchmark = {
  name: 'allocation',
  description: 'tokens/s of the solved plan vs an even split on phones of speed 1, 2, 4',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const rows: Row[] = [];
    const detail: Record<string, unknown> = {};
    const bars: { label: string; value: number }[] = [];
    let headline = Number.NaN;
    const allErrors: number[] = [];
    for (const setting of ctx.quick ? SETTINGS.slice(0, 1) : SETTINGS) {
      const room = await SimulatedRoom.open({
        devices: SLOWDOWNS.length,
        models: [mount],
        log: ctx.log,
        slowdowns: SLOWDOWNS,
        ...(setting.memoryMB ? { memoryMB: setting.memoryMB } : {}),
      });
      try {
        const even = await measure(room, 'even', mount.name, ctx.repeats);
        const solved = await measure(room, 'solved', mount.name, ctx.repeats);
        const speedups = solved.tokensPerSecond.map((t, i) => t / even.tokensPerSecond[i]!);
        rows.push({
          label: `${setting.name}: even split, tokens/s`,
          value: spread(even.tokensPerSecond),
          unit: 'tok/s',
        });
        rows.push({
          label: `${setting.name}: solved plan, tokens/s`,
          value: spread(solved.tokensPerSecond),
          unit: 'tok/s',
        });
        rows.push({ label: `${setting.name}: solved / even`, value: spread(speedups), unit: '×' });
        rows.push({
          label: `${setting.name}: stage time, |predicted − measured| / measured`,
          value: spread(solved.stageErrors.map(Math.abs)),
          unit: '',
        });
        rows.push({
          label: `${setting.name}: the same from the calibration kernel alone`,
          value: spread(solved.kernelErrors.map(Math.abs)),
          unit: '',
        });
        bars.push({ label: `${setting.name} · even`, value: median(even.tokensPerSecond) });
        bars.push({ label: `${setting.name} · solved`, value: median(solved.tokensPerSecond) });
        allErrors.push(...solved.stageErrors);
        if (Number.isNaN(headline)) headline = median(speedups);
        detail[setting.name] = { even, solved };
      } finally {
        await room.close();
      }
    }
    const solveRoom = await SimulatedRoom.open({ devices: 1, models: [mount], log: ctx.log });
    try {
      const problems = [0, 1, 2, 3, 4].flatMap((seed) =>
        (['latency', 'throughput'] as const).map((objective) =>
          randomProblem(1000 + seed, { devices: 8, blocks: 48, objective }),
        ),
      );
      const solves = await browserSolveTimes(solveRoom, problems);
      for (const [i, objective] of (['latency', 'throughput'] as const).entries()) {
        const mine = solves.filter((_, k) => k % 2 === i);
        const proven = mine.filter((x) => x.proven).length;
        rows.push({
          label: `8 phones × 48 blocks in the browser, ${objective} (${mine[0]?.engine}; ${proven}/${mine.length} proven optimal)`,
          value: spread(mine.map((x) => x.ms)),
          unit: 'ms',
        });
      }
      detail.solve8x48 = solves;
    } finally {
      await solveRoom.close();
    }
    return {
      name: 'allocation',
      headline: {
        metric: `solved plan / even split tokens/s (${modelKey(MODEL)}, slowdowns 1,2,4)`,
        value: headline,
        target: 1.4,
        better: 'higher',
      },
      emulation:
        'three phones = pages of one headless Chromium; phone i’s inference worker sleeps (k−1)× each run’s time after it (k = 1, 2, 4), which slows its stage and its calibration alike',
      rows,
      chart: { title: `Tokens/s, ${modelKey(MODEL)}: even split vs solved plan`, unit: 'tok/s', bars },
      detail: { ...detail, stageErrors: allErrors },
    };
  },
};

export default benchmark;
