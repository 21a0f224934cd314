/**
 * Plan for the load: a solved room plans one answer for latency; when several answers stay in flight it
 * re-plans for throughput mid-answer (through the live room's transitions), and back once the room is
 * quiet. Every answer that spanned the move is token-identical to the same prompt asked alone.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchModel } from '../bench/rooms';
import type { RoomEvent } from '../src/app/room/room-plans';
import { DEFAULT_SAMPLING } from '../src/core/sampling';
import { SimulatedRoom } from '../tools/room/simulator';

const log = (line: string) => process.stderr.write(`${line}\n`);
const TOKENS = 40;
const params = { ...DEFAULT_SAMPLING, maxNewTokens: TOKENS };
const prompts = [0, 1, 2].map((i) => Array.from({ length: 8 }, (_, k) => 1 + ((i * 7 + k * 3) % 200)));

const history = (room: SimulatedRoom) => room.leader.evaluate(() => window.__chorus!.history());
const replans = (events: readonly RoomEvent[], reason: string) =>
  events.filter((e) => e.kind === 'replan' && e.reason === reason);

describe('a solved room plans for the load', () => {
  let room: SimulatedRoom;
  beforeAll(async () => {
    // A realistic shape (the throughput bench's, 30M parameters, 32k vocabulary): its LM head weighs
    // like several layers, so one answer and many want different plans. A tiny model's plans coincide.
    const mount = await benchModel({ preset: 'mini-30m', dtype: 'fp32' }, log);
    room = await SimulatedRoom.open({
      devices: 3,
      models: [mount],
      log,
      // Phones whose own compute counts (not the shared cores), as in the throughput bench.
      slowdowns: [4, 4, 4],
      settings: [{ balance: 'off' }],
    });
    await room.loadModel(mount.name, 600_000, 'solved');
  });
  afterAll(() => room?.close());

  it('re-plans for throughput while three phones ask at once, and the ids equal each asked alone', async () => {
    const alone: number[][] = [];
    for (const ids of prompts) {
      const [a] = await room.askAll([{ phone: 0, input: { ids }, params }]);
      expect(a!.outcome).toBe('done');
      alone.push(a!.generatedIds);
    }
    expect(await room.leader.evaluate(() => window.__chorus!.objective())).toBe('latency');
    const onePlan = await room.leader.evaluate(() => window.__chorus!.plan());

    const together = await room.askAll(prompts.map((ids, phone) => ({ phone, input: { ids }, params })));
    together.forEach((a, i) => {
      expect(a.outcome).toBe('done');
      expect(a.generatedIds).toEqual(alone[i]);
    });
    const busy = replans(await history(room), 'busy');
    expect(busy).toHaveLength(1);
    // It moved while the answers ran, not after them.
    expect(busy[0]!.kind === 'replan' && busy[0]!.atToken).toBeGreaterThan(0);
    const busyPlan = await room.leader.evaluate(() => window.__chorus!.plan());
    expect(busyPlan!.stages.length).toBeGreaterThan(onePlan!.stages.length);

    // Quiet again: the room goes back to the one-answer plan.
    await room.leader.waitForFunction(() => window.__chorus!.objective() === 'latency', undefined, {
      timeout: 60_000,
    });
    await room.leader.evaluate(() => window.__chorus!.loadSettled());
    expect(replans(await history(room), 'quiet')).toHaveLength(1);
    const [again] = await room.askAll([{ phone: 1, input: { ids: prompts[0]! }, params }]);
    expect(again!.generatedIds).toEqual(alone[0]);
  });
});
