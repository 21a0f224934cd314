/**
 * throughput: three phones, a realistic generated model (mini-30m) split evenly, answers asked from all
 * three at once. Aggregate tokens/s with K answers in flight, K = 1, 2, 4, 8, side by side in one run;
 * the headline is 8 in flight ÷ 1. And the time to first token of a new question while 7 others decode.
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

const prompt = (i: number) => Array.from({ length: 8 }, (_, k) => 1 + ((i * 7 + k * 3) % 200));

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
  description: 'aggregate tokens/s with 1, 2, 4 and 8 answers in flight from three phones; 8 ÷ 1',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const room = await Room.open({
      devices: 3,
      models: [mount],
      log: ctx.log,
      slowdowns: [SLOWDOWN, SLOWDOWN, SLOWDOWN],
      // The even plan stays: this measures how full one plan's pipeline is kept, not a re-plan.
      settings: [{ balance: 'off' }],
    });
    try {
      await room.loadModel(mount.name, 600_000, 'even');
      await room.waitForMeasured();
      const cap = await room.leader.evaluate(() => window.__chorus!.admission());
      ctx.log(`throughput: at most ${cap?.maxInFlight} answers at once`);
      const byLevel = new Map<number, number[]>(LEVELS.map((k) => [k, []]));
      const ttft: number[] = [];
      for (let r = 0; r < ctx.repeats; r++) {
        // Interleaved: each level runs close in time to the others on these shared cores.
        for (const k of LEVELS) {
          const tps = await aggregate(room, k);
          byLevel.get(k)!.push(tps);
          ctx.log(`throughput: ${k} in flight → ${tps.toFixed(2)} tokens/s`);
        }
        ttft.push(await ttftUnderLoad(room));
      }
      const one = byLevel.get(1)!;
      const ratio = byLevel.get(8)!.map((x, i) => x / one[i]!);
      const key = modelKey(MODEL);
      const rows: Row[] = [
        ...LEVELS.map((k) => ({
          label: `${key}: ${k} in flight, aggregate tok/s (no batching)`,
          value: spread(byLevel.get(k)!),
          unit: 'tok/s',
        })),
        ...LEVELS.slice(1).map((k) => ({
          label: `${k} in flight ÷ 1`,
          value: spread(byLevel.get(k)!.map((x, i) => x / one[i]!)),
          unit: '×',
        })),
        { label: 'time to first token, a new question while 7 decode', value: spread(ttft), unit: 'ms' },
      ];
      return {
        name: 'throughput',
        headline: {
          metric: 'aggregate tokens/s, 8 answers in flight ÷ 1',
          value: median(ratio),
          target: 2.4,
          better: 'higher',
        },
        emulation: `3 phones = pages of one headless Chromium sharing this machine's cores, each slowed ${SLOWDOWN}× (its worker sleeps ${SLOWDOWN - 1}× each run's time), so no phone's own compute is the shared bottleneck; even split, ${TOKENS} tokens per answer, greedy, answers asked from the three phones in turn; one answer per onnxruntime call (no batching)`,
        rows,
        chart: {
          title: 'aggregate tok/s by answers in flight',
          unit: 'tok/s',
          bars: LEVELS.map((k) => ({ label: `${k} in flight`, value: median(byLevel.get(k)!) })),
        },
        detail: { cap, byLevel: Object.fromEntries(byLevel), ttft },
      };
    } finally {
      await room.close();
    }
  },
};

export default benchmark;
