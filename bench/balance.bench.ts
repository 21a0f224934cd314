/**
 * balance: one of three phones becomes 4× slower mid-answer (mini-30m, a realistic generated model).
 * Tokens/s over the stretch after the slowdown, with runtime balancing on and off, side by side, and
 * against a room planned from the start for the new speeds (the best it could do).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../tools/room/prepare-models';
import type { RoomChange } from '../tools/room/scenario';
import { SimulatedRoom } from '../tools/room/simulator';
import { type Benchmark, median, type Row, spread } from './harness';
import { type BenchModel, benchModel, modelKey } from './rooms';

const MODEL: BenchModel = { preset: 'mini-30m', dtype: 'fp32' };
const SLOW_AT = 16;
/** The generated model's own folder (its config.json; the shards beside the server have none). */
const MODEL_DIR = path.join(REPO, '.models', MODEL.preset);
const TOKENS = 480;
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
    await room.waitForMeasured();
    await room.waitForBackups();
    const promptIds = [1, 2, 3, 4, 5, 6, 7, 8];
    const before = await room.leader.evaluate(() => window.__chorus!.plan()!.stages);
    const r = await room.generateWith(
      { promptIds, maxNewTokens: TOKENS },
      opts.slowFromStart ? [] : [SLOW],
      900_000,
    );
    const move = r.replans.find((x) => x.reason === 'slow');
    const transfer = move ? await transferCost(room, MODEL_DIR, before, move, promptIds.length) : null;
    return {
      tokensPerSecond: rateAfter(r.stepMs, SLOW_AT),
      replans: r.replans,
      plan: r.plan.stages,
      ...(move && transfer ? { replayMs: move.replayMs, transfer } : {}),
    };
  } finally {
    await room.close();
  }
}

/**
 * What moving the moved layers' KV caches over the data channel would have cost instead of the replay:
 * their bytes at the move (2 × kv heads × head dim × 4 bytes per layer and token), sent for real from
 * the leader to the phone that took the most of them, on the room's own link, timed to its answer.
 */
async function transferCost(
  room: SimulatedRoom,
  dir: string,
  before: readonly { phoneId: string; firstBlock: number; lastBlock: number }[],
  move: { atToken: number; stages: { phone: number | string; firstBlock: number; lastBlock: number }[] },
  promptTokens: number,
) {
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const layers = config.num_hidden_layers!;
  const headDim = config.head_dim ?? config.hidden_size! / config.num_attention_heads!;
  const perLayerToken = 2 * (config.num_key_value_heads ?? config.num_attention_heads!) * headDim * 4;
  const owner = (stages: readonly { firstBlock: number; lastBlock: number }[], b: number) =>
    stages.findIndex((s) => b >= s.firstBlock && b <= s.lastBlock);
  const oldPhone = (b: number) => room.indexOf(before[owner(before, b)]?.phoneId ?? '') ?? -1;
  const newPhone = (b: number) => move.stages[owner(move.stages, b)]?.phone ?? -1;
  // Blocks 1 … layers are the decoder layers (block 0 embeds, the last one is the head). A cache moves
  // from its old phone to its new one; the probe runs between the leader and the other end of the
  // busiest such pair (a cache moving to the leader comes from a phone, and the link is the same).
  const ends = new Map<number | string, number>();
  let movedLayers = 0;
  for (let b = 1; b <= layers; b++) {
    const from = oldPhone(b);
    const to = newPhone(b);
    if (from === to) continue;
    movedLayers++;
    const phone = to !== 0 ? to : from;
    ends.set(phone, (ends.get(phone) ?? 0) + 1);
  }
  const bytes = movedLayers * perLayerToken * (promptTokens + move.atToken);
  const to = [...ends].sort((a, b) => b[1] - a[1]).find(([p]) => p !== 0)?.[0];
  const id = typeof to === 'number' ? await room.pages[to]!.evaluate(() => window.__chorus!.id()!) : null;
  const ms: number[] = [];
  if (id && bytes > 0)
    for (let i = 0; i < 3; i++)
      ms.push(await room.leader.evaluate(([p, n]) => window.__chorus!.probe(p, n), [id, bytes] as const));
  return { movedLayers, bytes, ms: ms.length ? median(ms) : 0 };
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
    const replay: number[] = [];
    const transfer: number[] = [];
    const detail: Record<string, unknown>[] = [];
    for (let i = 0; i < ctx.repeats; i++) {
      // Interleaved, so each triple runs close in time on this machine's shared cores.
      const a = await run(mount, { balance: true, slowFromStart: false }, ctx.log);
      const b = await run(mount, { balance: false, slowFromStart: false }, ctx.log);
      const c = await run(mount, { balance: true, slowFromStart: true }, ctx.log);
      on.push(a.tokensPerSecond);
      off.push(b.tokensPerSecond);
      fresh.push(c.tokensPerSecond);
      if (a.transfer) {
        replay.push(a.replayMs!);
        transfer.push(a.transfer.ms);
      }
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
      ...(replay.length
        ? [
            { label: 'the move: caches rebuilt by replay', value: spread(replay), unit: 'ms' },
            {
              label: 'the move: the same caches sent over the data channel instead',
              value: spread(transfer),
              unit: 'ms',
            },
          ]
        : []),
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
