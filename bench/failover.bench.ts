/**
 * failover: a phone's page closes mid-answer (mini-30m, 3 phones, even split). The time from the page
 * closing to the next token, against the part of it no design can avoid: the phone that takes the moved
 * blocks loading them (from its cache) and the answer so far replayed into the moved stages.
 */
import { SimulatedRoom } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const LEAVE_AT = 24;

const benchmark: Benchmark = {
  name: 'failover',
  description:
    'ms from a phone’s page closing mid-answer to the next token, ÷ the unavoidable part (loading moved blocks from cache + replay)',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const resumed: number[] = [];
    const detected: number[] = [];
    const unavoidable: number[] = [];
    const parts = { read: [] as number[], sessions: [] as number[], rebuild: [] as number[] };
    const runs: unknown[] = [];
    for (let i = 0; i < ctx.repeats; i++) {
      const room = await SimulatedRoom.open({ devices: 3, models: [mount], log: ctx.log });
      try {
        await room.loadModel(mount.name, 600_000, 'even');
        await room.waitForBackups();
        const r = await room.generateWith(
          { promptIds: [1, 2, 3, 4, 5, 6, 7, 8], maxNewTokens: 64 },
          [{ kind: 'leave', phone: 2, atToken: LEAVE_AT }],
          600_000,
        );
        const fault = r.faults[0];
        const replan = r.replans.find((x) => x.reason === 'fault');
        if (!fault || fault.resumedMs === null || fault.detectedMs === null || !replan)
          throw new Error('no fault was recorded');
        resumed.push(fault.resumedMs);
        detected.push(fault.detectedMs);
        // The moved blocks read ahead (the answers were already held: it was a fault), the sessions
        // built, and the answer's caches rebuilt.
        unavoidable.push(replan.readAheadMs + replan.loadMs + replan.replayMs);
        parts.read.push(replan.readAheadMs);
        parts.sessions.push(replan.loadMs);
        parts.rebuild.push(replan.replayMs);
        runs.push({ fault, replan });
        ctx.log(
          `failover: detected ${fault.detectedMs} ms, next token ${fault.resumedMs} ms, blocks read ${replan.readAheadMs.toFixed(0)} + sessions ${replan.loadMs.toFixed(0)} + rebuild ${replan.replayMs.toFixed(0)} ms`,
        );
      } finally {
        await room.close();
      }
    }
    const ratio = resumed.map((x, i) => x / unavoidable[i]!);
    const rows: Row[] = [
      { label: `${modelKey(MODEL)}: page closed → fault detected`, value: spread(detected), unit: 'ms' },
      { label: 'page closed → next token (goal ≤ 3000)', value: spread(resumed), unit: 'ms' },
      {
        label: 'unavoidable: moved blocks loaded (from cache) + replay',
        value: spread(unavoidable),
        unit: 'ms',
      },
      { label: 'of it: blocks read from the cache', value: spread(parts.read), unit: 'ms' },
      { label: 'of it: sessions built', value: spread(parts.sessions), unit: 'ms' },
      { label: 'of it: caches rebuilt (one prefill)', value: spread(parts.rebuild), unit: 'ms' },
      { label: 'next token ÷ unavoidable', value: spread(ratio), unit: '×' },
    ];
    return {
      name: 'failover',
      headline: {
        metric: 'page closed → next token ÷ (moved blocks loaded + replay)',
        value: median(ratio),
        target: 1.5,
        better: 'lower',
      },
      emulation: `3 phones = pages of one headless Chromium sharing this machine's cores; phone 2's page closes at token ${LEAVE_AT}`,
      rows,
      detail: { runs },
    };
  },
};

export default benchmark;
