/**
 * throughput: three phones, a realistic generated model (mini-30m), answers asked from all three at
 * once. Aggregate tokens/s with K answers in flight, K = 1, 2, 4, 8, each on the plan the room picks for
 * that load (solved for latency with one answer, for throughput with several: load-planning.ts), with
 * continuous batching and without (every phone switched between the two in the same room), side by
 * side in one run; the headline is 8 in flight ÷ 1, batched. And the time to first token of a new
 * question while 7 decode.
 *
 * The emulated phones share this machine's 2 cores, so three busy pages would be bounded by the cores,
 * not by the pipeline. Every phone is slowed 4× (its worker sleeps 3× each run's own time): a phone is
 * then busy computing at most a quarter of the time, and keeping all three busy at once costs the cores
 * at most 3 × 1/4 of their time. What the ratio measures is how full the pipeline is kept.
 */

import { DEFAULT_SAMPLING } from '../src/core/sampling';
import type { SimulatedRoom } from '../tools/room/simulator';
import { SimulatedRoom as Room } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const LEVELS = [1, 2, 4, 8] as const;
const TOKENS = 32;
const SLOWDOWN = 4;
const MODES = { batched: 8, alone: 1 } as const;
type Mode = keyof typeof MODES;

async function setMode(room: SimulatedRoom, mode: Mode): Promise<void> {
  await Promise.all(room.pages.map((p) => p.evaluate((k) => window.__chorus!.setMaxBatch(k), MODES[mode])));
}

const prompt = (i: number) => Array.from({ length: 8 }, (_, k) => 1 + ((i * 7 + k * 3) % 200));

/** Steps each phone's stage ran, and the session runs they took (steps ÷ runs = the mean batch). */
const stageRuns = (room: SimulatedRoom) =>
  Promise.all(
    room.pages.map((p) =>
      p.evaluate(async () => {
        const s = await window.__chorus!.stage();
        return { steps: s?.stepsRun ?? 0, runs: s?.stepRuns ?? 0, busyMs: s?.busyMs ?? 0 };
      }),
    ),
  );

/** Asks `k` answers at once, from the phones in turn; aggregate tokens/s from asking to the last end. */
async function aggregate(room: SimulatedRoom, k: number): Promise<number> {
  const t0 = performance.now();
  const answers = await room.askAll(
    Array.from({ length: k }, (_, i) => ({
      phone: i % 3,
      input: { ids: prompt(i) },
      params: { ...DEFAULT_SAMPLING, maxNewTokens: TOKENS },
    })),
  );
  const ms = performance.now() - t0;
  const bad = answers.find((a) => a.outcome !== 'done');
  if (bad) throw new Error(`an answer ${bad.outcome}: ${bad.message ?? ''}`);
  return answers.reduce((n, a) => n + a.generatedIds.length, 0) / (ms / 1000);
}

/**
 * Lets the room settle on its plan for `k` answers at once: one untimed burst (the load re-plans while
 * it runs), then its re-plans; back to one answer the room waits for the quiet that brings the latency
 * plan back. Returns the plan's stages as `phone index: blocks`.
 */
async function settle(room: SimulatedRoom, k: number): Promise<string> {
  await aggregate(room, k);
  const want = k >= 2 ? 'throughput' : 'latency';
  await room.leader.waitForFunction((o) => window.__chorus!.objective() === o, want, {
    timeout: 120_000,
    polling: 250,
  });
  await room.leader.evaluate(() => window.__chorus!.loadSettled());
  const plan = await room.leader.evaluate(() => window.__chorus!.plan());
  const ids = await Promise.all(room.pages.map((p) => p.evaluate(() => window.__chorus!.id())));
  return (plan?.stages ?? [])
    .map((s) => `${s.phoneId === 'leader' ? 0 : ids.indexOf(s.phoneId)}: ${s.firstBlock}–${s.lastBlock}`)
    .join(', ');
}

/** Time to first token of one more question while 7 long ones decode. */
async function ttftUnderLoad(room: SimulatedRoom): Promise<number> {
  const busy = room.askAll(
    Array.from({ length: 7 }, (_, i) => ({
      phone: i % 3,
      input: { ids: prompt(i) },
      params: { ...DEFAULT_SAMPLING, maxNewTokens: TOKENS * 3 },
    })),
  );
  // Let all seven get past their prefill first.
  await room.leader.waitForFunction(() => window.__chorus!.admission()?.inFlight === 7, undefined, {
    timeout: 120_000,
  });
  await new Promise((r) => setTimeout(r, 3000));
  const [fresh] = await room.askAll([
    { phone: 1, input: { ids: prompt(99) }, params: { ...DEFAULT_SAMPLING, maxNewTokens: 4 } },
  ]);
  await busy;
  return fresh!.timeToFirstTokenMs ?? Number.NaN;
}

const benchmark: Benchmark = {
  name: 'throughput',
  description:
    'aggregate tokens/s with 1, 2, 4 and 8 answers in flight from three phones, batched and not; 8 ÷ 1',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const room = await Room.open({
      devices: 3,
      models: [mount],
      log: ctx.log,
      slowdowns: [SLOWDOWN, SLOWDOWN, SLOWDOWN],
      // No balancing: every phone is as fast as it measured; only the load moves the room.
      settings: [{ balance: 'off' }],
    });
    try {
      await room.loadModel(mount.name, 600_000, 'solved');
      await room.waitForMeasured();
      const cap = await room.leader.evaluate(() => window.__chorus!.admission());
      ctx.log(`throughput: at most ${cap?.maxInFlight} answers at once`);
      const runs = { batched: new Map<number, number[]>(), alone: new Map<number, number[]>() };
      const ttft = { batched: [] as number[], alone: [] as number[] };
      const batches: number[] = [];
      /** At 8 in flight, batched: per phone, the mean batch and the share of the time its stage ran. */
      const fill: { meanBatch: number; busy: number }[][] = [];
      const plans = new Map<number, string>();
      for (let r = 0; r < ctx.repeats; r++) {
        // Interleaved: each level and mode runs close in time to the others on these shared cores.
        for (const k of LEVELS) {
          plans.set(k, await settle(room, k));
          ctx.log(`throughput: ${k} in flight on plan ${plans.get(k)}`);
          for (const mode of ['alone', 'batched'] as const) {
            await setMode(room, mode);
            const before = await stageRuns(room);
            const t0 = performance.now();
            const tps = await aggregate(room, k);
            if (k === 8 && mode === 'batched') {
              const ms = performance.now() - t0;
              const after = await stageRuns(room);
              fill.push(
                after.map((a, i) => ({
                  meanBatch: (a.steps - before[i]!.steps) / Math.max(1, a.runs - before[i]!.runs),
                  busy: (a.busyMs - before[i]!.busyMs) / ms,
                })),
              );
            }
            runs[mode].set(k, [...(runs[mode].get(k) ?? []), tps]);
            ctx.log(`throughput: ${k} in flight, ${mode} → ${tps.toFixed(2)} tokens/s`);
          }
        }
        for (const mode of ['alone', 'batched'] as const) {
          await setMode(room, mode);
          ttft[mode].push(await ttftUnderLoad(room));
        }
      }
      for (const p of room.pages)
        batches.push((await p.evaluate(() => window.__chorus!.stage()))?.largestBatch ?? 0);
      const level = (mode: Mode, k: number) => runs[mode].get(k)!;
      const ratio = (mode: Mode, k: number) => level(mode, k).map((x, i) => x / level(mode, 1)[i]!);
      const key = modelKey(MODEL);
      const rows: Row[] = [
        ...(['batched', 'alone'] as const).flatMap((mode) => [
          ...LEVELS.map((k) => ({
            label: `${key}: ${k} in flight, aggregate tok/s (${mode === 'batched' ? 'batching' : 'no batching'})`,
            value: spread(level(mode, k)),
            unit: 'tok/s',
          })),
          ...LEVELS.slice(1).map((k) => ({
            label: `${k} in flight ÷ 1 (${mode === 'batched' ? 'batching' : 'no batching'})`,
            value: spread(ratio(mode, k)),
            unit: '×',
          })),
        ]),
        {
          label: '8 in flight, batching ÷ no batching',
          value: spread(level('batched', 8).map((x, i) => x / level('alone', 8)[i]!)),
          unit: '×',
        },
        {
          label: 'time to first token, a new question while 7 decode (batching)',
          value: spread(ttft.batched),
          unit: 'ms',
        },
        {
          label: 'time to first token, a new question while 7 decode (no batching)',
          value: spread(ttft.alone),
          unit: 'ms',
        },
      ];
      return {
        name: 'throughput',
        headline: {
          metric: 'aggregate tokens/s, 8 answers in flight ÷ 1',
          value: median(ratio('batched', 8)),
          target: 2.4,
          better: 'higher',
        },
        emulation: `3 phones = pages of one headless Chromium sharing this machine's cores, each slowed ${SLOWDOWN}× (its worker sleeps ${SLOWDOWN - 1}× each run's time), so no phone's own compute is the shared bottleneck; each level on the plan the room picks for it (solved for latency with one answer, for throughput with several; balancing off), settled by one untimed burst first; ${TOKENS} tokens per answer, greedy, answers asked from the three phones in turn; batching on and off switched on every phone in the same room (on: the one-token steps that meet at a phone run in one onnxruntime call, up to 8)`,
        rows,
        chart: {
          title: 'aggregate tok/s by answers in flight',
          unit: 'tok/s',
          bars: LEVELS.flatMap((k) => [
            { label: `${k} in flight, batching`, value: median(level('batched', k)) },
            { label: `${k} in flight, no batching`, value: median(level('alone', k)) },
          ]),
        },
        detail: {
          plans: Object.fromEntries(plans),
          cap,
          batched: Object.fromEntries(runs.batched),
          alone: Object.fromEntries(runs.alone),
          ttft,
          largestBatchPerPhone: batches,
          // Per repeat, per phone: the mean batch its stage ran at 8 in flight, and how busy it was.
          eightInFlightBatched: fill,
        },
      };
    } finally {
      await room.close();
    }
  },
};

export default benchmark;
