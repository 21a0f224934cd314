/**
 * Measured rooms, shared by the benchmarks of one `npm run bench` run: a room of N simulated phones
 * (pages of one headless Chromium, one browser context each, inference in each page's Web Worker on
 * one thread, all on this machine's cores), loaded with a generated model, warmed up, then timed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { prepareModel, REPO } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';

export interface BenchModel {
  readonly preset: string;
  readonly dtype: 'fp32' | 'q4';
}

export const modelKey = (m: BenchModel) => `${m.preset}-${m.dtype}`;

/** Generates (once; the generator skips existing models) and shards a benchmark model. */
export async function benchModel(m: BenchModel, log: (l: string) => void) {
  const dir = path.join(REPO, '.models', m.preset);
  const file = path.join(dir, 'onnx', m.dtype === 'fp32' ? 'model.onnx' : 'model_q4.onnx');
  if (!existsSync(file)) {
    log(`generating ${m.preset} (${m.dtype})…`);
    execFileSync(
      'npx',
      ['tsx', 'tools/gen-model/main.ts', '--preset', m.preset, '--dtype', m.dtype, '--out', dir],
      {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return prepareModel(dir, log, m.dtype === 'fp32' ? undefined : m.dtype);
}

export interface RoomMeasurement {
  readonly model: string;
  readonly devices: number;
  /** Median decode step per repeat (ms per token). */
  readonly tokenMs: number[];
  /** Every decode step: wall time, and the stages' own run times. */
  readonly steps: { wallMs: number; stageMs: number[] }[];
  readonly rttMs: number[];
  readonly readyMs: number;
  readonly plan: unknown;
}

const cache = new Map<string, Promise<RoomMeasurement>>();

export function measureRoom(
  m: BenchModel,
  devices: number,
  opts: { repeats: number; tokens: number; log: (l: string) => void },
) {
  const key = `${modelKey(m)}@${devices}`;
  let p = cache.get(key);
  if (!p) {
    p = runRoom(m, devices, opts);
    cache.set(key, p);
  }
  return p;
}

async function runRoom(
  m: BenchModel,
  devices: number,
  opts: { repeats: number; tokens: number; log: (l: string) => void },
): Promise<RoomMeasurement> {
  const mount = await benchModel(m, opts.log);
  const room = await SimulatedRoom.open({ devices, models: [mount], log: opts.log });
  try {
    const t0 = performance.now();
    await room.loadModel(mount.name, 600_000);
    const readyMs = performance.now() - t0;
    const promptIds = [1, 2, 3, 4, 5, 6, 7, 8];
    await room.generate({ promptIds, maxNewTokens: 4 }); // warm-up: first-run costs of runtime and links
    const tokenMs: number[] = [];
    const steps: RoomMeasurement['steps'] = [];
    let plan: unknown = null;
    for (let r = 0; r < opts.repeats; r++) {
      const res = await room.generate({ promptIds, maxNewTokens: opts.tokens }, 600_000);
      plan = res.plan;
      const decode = res.stepMs
        .slice(1)
        .map((wallMs, i) => ({ wallMs, stageMs: res.stageTimesMs[i + 1] ?? [] }));
      steps.push(...decode);
      const sorted = decode.map((d) => d.wallMs).sort((a, b) => a - b);
      tokenMs.push(sorted[sorted.length >> 1] ?? Number.NaN);
    }
    const rttMs = devices > 1 ? await room.rtts(30) : [];
    opts.log(
      `${modelKey(m)} on ${devices} phone(s): ${tokenMs.map((t) => t.toFixed(1)).join(', ')} ms/token`,
    );
    return { model: modelKey(m), devices, tokenMs, steps, rttMs, readyMs, plan };
  } finally {
    await room.close();
  }
}
