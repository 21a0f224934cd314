/**
 * join: a room's cold join (empty caches) vs its warm join (the same phones coming back, IndexedDB
 * caches kept), side by side: time to ready and block bytes moved over the network.
 */
import type { Request } from 'playwright-core';
import { SimulatedRoom } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const DEVICES = 3;
/** A phone's share of a busy home Wi-Fi. */
const WIFI_MBPS = 100;

const benchmark: Benchmark = {
  name: 'join',
  description: 'cold vs warm join: time to ready and block bytes moved',
  async run(ctx) {
    const mount = await benchModel(MODEL, ctx.log);
    const cold: number[] = [];
    const warm: number[] = [];
    const coldBytes: number[] = [];
    const warmBytes: number[] = [];
    const warmRequests: number[] = [];
    for (let r = 0; r < ctx.repeats; r++) {
      const room = await SimulatedRoom.open({
        devices: DEVICES,
        models: [mount],
        log: ctx.log,
        downloadMbps: WIFI_MBPS,
      });
      let requests = 0;
      const count = (q: Request) => {
        if (/\/models\/[^/]+\/block-/.test(q.url())) requests++;
      };
      for (const c of room.contexts) c.on('request', count);
      try {
        let t0 = performance.now();
        await room.loadModel(mount.name, 600_000);
        cold.push(performance.now() - t0);
        coldBytes.push((await room.loadStats()).reduce((s, x) => s + x.bytesFromNetwork, 0));
        // Idle, the room measures its phones and they cache their backups: a second visit then
        // downloads nothing at all.
        await room.waitForMeasured();
        await room.waitForBackups();
        await room.reform();
        requests = 0;
        t0 = performance.now();
        await room.loadModel(mount.name, 600_000);
        warm.push(performance.now() - t0);
        warmBytes.push((await room.loadStats()).reduce((s, x) => s + x.bytesFromNetwork, 0));
        warmRequests.push(requests);
      } finally {
        await room.close();
      }
      ctx.log(`join ${r + 1}: cold ${cold.at(-1)!.toFixed(0)} ms, warm ${warm.at(-1)!.toFixed(0)} ms`);
    }
    const rows: Row[] = [
      { label: `${modelKey(MODEL)}, ${DEVICES} phones: cold time to ready`, value: spread(cold), unit: 'ms' },
      { label: `${modelKey(MODEL)}, ${DEVICES} phones: warm time to ready`, value: spread(warm), unit: 'ms' },
      { label: 'warm / cold time to ready', value: spread(warm.map((w, i) => w / cold[i]!)), unit: '×' },
      {
        label: 'block bytes moved, cold join (all phones)',
        value: spread(coldBytes.map((b) => b / 1e6)),
        unit: 'MB',
      },
      { label: 'block bytes moved, warm join (all phones)', value: spread(warmBytes), unit: 'bytes' },
      { label: 'block HTTP requests, warm join', value: spread(warmRequests), unit: '' },
    ];
    return {
      name: 'join',
      headline: {
        metric: 'block bytes moved on a warm join',
        value: median(warmBytes),
        target: 0,
        better: 'lower',
      },
      emulation: `${DEVICES} phones = browser contexts of one headless Chromium, each page's downloads limited to ${WIFI_MBPS} Mbit/s (CDP network emulation); a warm join closes their pages and opens new ones in the same contexts (IndexedDB kept); even split by blocks`,
      rows,
      chart: {
        title: `Time to ready, ${modelKey(MODEL)} on ${DEVICES} phones (median ms)`,
        unit: 'ms',
        bars: [
          { label: 'cold join', value: median(cold) },
          { label: 'warm join (cache)', value: median(warm) },
        ],
      },
      detail: { cold, warm, coldBytes, warmBytes, warmRequests },
    };
  },
};

export default benchmark;
