/**
 * balance: one of three phones becomes 4× slower mid-answer (mini-30m, a realistic generated model).
 * Tokens/s over the stretch after the slowdown, with runtime balancing on and off, side by side, and
 * against a room planned from the start for the new speeds (the best it could do).
 */
import type { RoomChange } from '../tools/room/scenario';
import { SimulatedRoom } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const SLOW_AT = 16;
const TOKENS = 160;
const SLOW: RoomChange = { kind: 'slow', phone: 1, factor: 4, atToken: SLOW_AT };

/** Tokens per second over the decode steps from `from` on. */
const rateAfter = (stepMs: number[], from: number) => {
  const tail = stepMs.slice(from + 1);
  return tail.length / (tail.reduce((a, b) => a + b, 0) / 1000);
};

async function run(
  mount: { name: string; dir: string },
  opts: { balance: boolean; slowFromStart: boolean },
  log: (l: string) => void,
) {
  const room = await SimulatedRoom.open({
    devices: 3,
    models: [mount],
    log,
    ...(opts.slowFromStart ? { slowdowns: [1, 4, 1] } : {}),
    settings: [opts.balance ? {} : { balance: 'off' }],
  });
  try {
    await room.loadModel(mount.name, 600_000, opts.slowFromStart ? 'solved' : 'even');
    await room.waitForBackups();
    const promptIds = [1, 2, 3, 4, 5, 6, 7, 8];
    const r = await room.generateWith(
      { promptIds, maxNewTokens: TOKENS },
      opts.slowFromStart ? [] : [SLOW],
      900_000,
    );
    return { tokensPerSecond: rateAfter(r.stepMs, SLOW_AT), replans: r.replans, plan: r.plan.stages };
  } finally {
    await room.close();
  }
}

const benchmark: Benchmark = {
  name: 'balance',
  description:
    'tokens/s after one of three phones becomes 4× slower mid-answer: balancing on ÷ off, and ÷ a fresh optimal plan',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const on: number[] = [];
    const off: number[] = [];
    const fresh: number[] = [];
    const detail: Record<string, unknown>[] = [];
    for (let i = 0; i < ctx.repeats; i++) {
      // Interleaved, so each triple runs close in time on this machine's shared cores.
      const a = await run(mount, { balance: true, slowFromStart: false }, ctx.log);
      const b = await run(mount, { balance: false, slowFromStart: false }, ctx.log);
      const c = await run(mount, { balance: true, slowFromStart: true }, ctx.log);
      on.push(a.tokensPerSecond);
      off.push(b.tokensPerSecond);
      fresh.push(c.tokensPerSecond);
      detail.push({ on: a, off: b, fresh: c });
      ctx.log(
        `balance: on ${a.tokensPerSecond.toFixed(1)}, off ${b.tokensPerSecond.toFixed(1)}, fresh ${c.tokensPerSecond.toFixed(1)} tok/s`,
      );
    }
    const ratio = on.map((x, i) => x / off[i]!);
    const vsFresh = on.map((x, i) => x / fresh[i]!);
    const key = modelKey(MODEL);
    const rows: Row[] = [
      { label: `${key}: balancing on, tok/s after the slowdown`, value: spread(on), unit: 'tok/s' },
      { label: `${key}: balancing off, tok/s after the slowdown`, value: spread(off), unit: 'tok/s' },
      {
        label: `${key}: planned for the new speeds from the start, tok/s`,
        value: spread(fresh),
        unit: 'tok/s',
      },
      { label: 'on ÷ off', value: spread(ratio), unit: '×' },
      { label: 'on ÷ fresh optimal plan (goal ≥ 0.9)', value: spread(vsFresh), unit: '×' },
    ];
    return {
      name: 'balance',
      headline: {
        metric: 'tokens/s after a 4× slowdown, balancing on ÷ off',
        value: median(ratio),
        target: 1.3,
        better: 'higher',
      },
      emulation: `3 phones = pages of one headless Chromium sharing this machine's cores; at token ${SLOW_AT} phone 1's worker starts sleeping 3× each run's time (4× slower); even split first, ${TOKENS} tokens`,
      rows,
      chart: {
        title: 'tok/s after the slowdown',
        unit: 'tok/s',
        bars: [
          { label: 'balancing on', value: median(on) },
          { label: 'balancing off', value: median(off) },
          { label: 'fresh optimal plan', value: median(fresh) },
        ],
      },
      detail: { runs: detail },
    };
  },
};

export default benchmark;
