/**
 * allocation: tokens/s with the solved plan (phones measured, placement solved in the leader's worker)
 * vs an even split by blocks' parameters, side by side on the same emulated phones (slowdowns 1, 2, 4),
 * with and without memory caps that force every phone to take part; the predicted vs measured stage
 * times of the solved plans; and the time to solve 8 phones × 48 blocks in the browser.
 */
import { randomProblem } from '../src/core/placement/test-instances';
import type { PlacementProblem } from '../src/core/placement/types';
import { stepBreakdown } from '../src/core/room/learned-costs';
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
  /** (predicted − measured) / measured per stage, predictions as they stood before each answer; and
   *  the same from the calibration kernel alone. */
  stageErrors: number[];
  kernelErrors: number[];
  /** The same for the whole token: stages, handling and links. */
  tokenErrors: number[];
  /** Per answer: ms per token outside every phone (the links and the leader's sampling) per hop. */
  hopMs: number[];
  plans: unknown[];
}

const emptyRun = (): Run => ({
  tokensPerSecond: [],
  stageErrors: [],
  kernelErrors: [],
  tokenErrors: [],
  hopMs: [],
  plans: [],
});

/** Loads the model with `planner` (blocks come from cache after the first load) and times one answer. */
async function runOnce(room: SimulatedRoom, planner: 'solved' | 'even', name: string, into: Run) {
  await room.loadModel(name, 600_000, planner);
  // One answer first: predictions are judged after a run has taught the room its costs.
  await room.generate({ promptIds: [1, 2, 3, 4, 5, 6, 7, 8], maxNewTokens: 24 });
  const res = await room.generate({ promptIds: [1, 2, 3, 4, 5, 6, 7, 8], maxNewTokens: 48 }, 600_000);
  into.tokensPerSecond.push(res.tokensPerSecond);
  into.plans.push(res.plan);
  // The same medians over the decode steps that the leader learns from.
  const b = stepBreakdown(res);
  if (!b) throw new Error('the answer had no decode steps');
  res.plan.stages.forEach((s, k) => {
    const measured = b.computeMs[k]!;
    if (s.predictedMs !== null && measured > 0) into.stageErrors.push((s.predictedMs - measured) / measured);
    if (s.kernelPredictedMs && measured > 0)
      into.kernelErrors.push((s.kernelPredictedMs - measured) / measured);
  });
  if (res.plan.predictedTokenMs !== null)
    into.tokenErrors.push((res.plan.predictedTokenMs - b.stepMs) / b.stepMs);
  if (res.plan.remoteHops > 0) into.hopMs.push(b.outsideMs / res.plan.remoteHops);
}

/**
 * Even split and solved plan, alternately on the same phones: this machine's speed drifts over minutes,
 * and alternating keeps each pair of answers close in time.
 */
async function measurePair(room: SimulatedRoom, name: string, repeats: number) {
  const even = emptyRun();
  const solved = emptyRun();
  for (let r = 0; r < repeats; r++) {
    await runOnce(room, 'even', name, even);
    await runOnce(room, 'solved', name, solved);
  }
  return { even, solved };
}

async function browserSolveTimes(
  room: SimulatedRoom,
  problems: PlacementProblem[],
): Promise<{ ms: number; proven: boolean; engine: string }[]> {
  return room.leader.evaluate(async (ps) => {
    const out: { ms: number; proven: boolean; engine: string }[] = [];
    for (const p of ps) {
      const t0 = performance.now();
      const r = await window.__chorus!.solve(p);
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
        const { even, solved } = await measurePair(room, mount.name, ctx.repeats);
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
        rows.push({
          label: `${setting.name}: time per token, |predicted − measured| / measured`,
          value: spread(solved.tokenErrors.map(Math.abs)),
          unit: '',
        });
        rows.push({
          label: `${setting.name}: measured cost of a hop between phones`,
          value: spread([...even.hopMs, ...solved.hopMs]),
          unit: 'ms',
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
