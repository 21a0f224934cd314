/**
 * The live room in real browsers: phones leave mid-answer (pages closed), slow down, come back, and the
 * leader's page closes. Under greedy decoding the generated ids must be exactly an undisturbed run's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, prepareModel } from '../tools/room/prepare-models';
import type { RoomChange } from '../tools/room/scenario';
import { type RoomOptions, SimulatedRoom } from '../tools/room/simulator';
import { storiesReference, testModels } from './fixtures';

const log = (line: string) => process.stderr.write(`${line}\n`);
let room: SimulatedRoom | null = null;
afterEach(async () => {
  await room?.close();
  room = null;
});

async function stories(devices: number, opts: Partial<RoomOptions> = {}): Promise<SimulatedRoom> {
  const r = await SimulatedRoom.open({ devices, models: await testModels(), log, ...opts });
  await r.loadModel('stories260k', 180_000, 'even');
  return r;
}

describe('phones leave mid-answer (stories260k, even split over 3 phones)', () => {
  it.each([
    ['the middle phone', 1],
    ['the last phone', 2],
  ])('%s leaves: the answer goes on with the reference ids', async (_label, phone) => {
    const p = storiesReference().prompts[0]!;
    room = await stories(3);
    // Idle, the room measures its phones and each caches what it may be given: the phones that take
    // the moved blocks then download nothing.
    await room.waitForMeasured();
    expect((await room.waitForBackups()).stopped).toEqual([]);
    const before = await room.loadStats();
    const changes: RoomChange[] = [{ kind: 'leave', phone, atToken: 10 }];
    const r = await room.generateWith(
      { prompt: p.prompt, maxNewTokens: p.generated_ids.length, temperature: 0 },
      changes,
    );
    expect(r.generatedIds).toEqual(p.generated_ids);
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]).toMatchObject({ phone });
    expect(r.faults[0]!.atToken).toBeGreaterThanOrEqual(10);
    expect(r.faults[0]!.detectedMs).toBeLessThan(3000); // the channel closing, or 2 s of heartbeats
    expect(r.replans.some((x) => x.reason === 'fault' && x.stages.every((s) => s.phone !== phone))).toBe(
      true,
    );
    const after = await room.loadStats();
    const reloaded = after.filter((l, i) => i !== phone && JSON.stringify(l) !== JSON.stringify(before[i]));
    expect(reloaded.length).toBeGreaterThan(0);
    for (const l of reloaded) expect(l.bytesFromNetwork).toBe(0);
  });

  // One retry: on this 2-core machine the suite once saw the rejoined phone miss the 90 s window below
  // (the case passes alone every time; see the closing note of the session that added it).
  it('a phone that leaves and comes back is used again', { retry: 1 }, async () => {
    const p = storiesReference().prompts[2]!;
    room = await stories(3);
    await room.waitForMeasured(); // a phone leaving mid-survey would stop the room's measuring
    const changes: RoomChange[] = [
      { kind: 'leave', phone: 2, atToken: 5 },
      { kind: 'rejoin', phone: 2, atToken: 15 },
    ];
    const r = await room.generateWith(
      { prompt: p.prompt, maxNewTokens: p.generated_ids.length, temperature: 0 },
      changes,
    );
    expect(r.generatedIds).toEqual(p.generated_ids);
    // It comes back under the identity its browser kept, is measured and loads its blocks while the
    // room goes on, and the room then re-plans with it (mid-answer, or after when the answer ended).
    const back = await room.pages[2]!.evaluate(() => window.__chorus!.id());
    const ran = () => room!.pages[2]!.evaluate(async () => (await window.__chorus!.stage())?.stepsRun ?? 0);
    const inPlan = async () =>
      (await room!.leader.evaluate(() => window.__chorus!.plan()?.stages ?? [])).some(
        (s) => s.phoneId === back,
      );
    for (let i = 0; i < 900 && !(await inPlan()); i++) await new Promise((res) => setTimeout(res, 100));
    expect(await inPlan()).toBe(true);
    const rejoin = (await room.leader.evaluate(() => window.__chorus!.history())).find(
      (e) => e.kind === 'replan' && e.reason === 'rejoin',
    );
    expect(rejoin).toBeDefined();
    const again = await room.generate({ prompt: p.prompt, maxNewTokens: 8, temperature: 0 });
    expect(again.generatedIds).toEqual(p.generated_ids.slice(0, 8));
    expect(await ran()).toBeGreaterThan(0);
  });

  it('when the phones left cannot hold the model, the answer stops with a clear message and keeps its text', async () => {
    const p = storiesReference().prompts[0]!;
    // stories260k needs 1.7 MiB with its KV cache: two phones of 1.2 MB hold it together, one cannot.
    room = await SimulatedRoom.open({ devices: 2, models: await testModels(), log, memoryMB: [1.2, 1.2] });
    await room.loadModel('stories260k', 180_000, 'solved'); // measured: the re-plan knows the memory
    await room.startGenerate({ prompt: p.prompt, maxNewTokens: p.generated_ids.length, temperature: 0 });
    const until = async (ok: () => Promise<boolean>) => {
      for (let i = 0; i < 300 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(async () => (await room!.leader.evaluate(() => window.__chorus!.tokensOut())) >= 8);
    const before = (await room.leader.getByTestId('output').textContent()) ?? '';
    await room.closePhone(1);
    await expect(room.waitForResult()).rejects.toThrow(/cannot run the model|does not fit|memory/);
    const after = (await room.leader.getByTestId('output').textContent()) ?? '';
    expect(after.length).toBeGreaterThanOrEqual(before.length);
    expect(after.startsWith(before.slice(0, 10))).toBe(true);
  });
});

describe('a phone slows down mid-answer (the default model, even split over 3 phones)', () => {
  it('becoming 6× slower: the room re-plans mid-answer, and the ids equal an undisturbed run', async () => {
    const request = { prompt: 'And the LORD said unto Moses,', maxNewTokens: 96, temperature: 0 };
    room = await SimulatedRoom.open({ devices: 3, models: [await prepareModel(DEFAULT_MODEL)], log });
    await room.loadModel('chorus-kjv', 300_000, 'even');
    // Measured between answers (an even room too), so the balancer can solve for the new speeds.
    await room.waitForMeasured();
    const slowed = await room.generateWith(request, [{ kind: 'slow', phone: 1, factor: 6, atToken: 10 }]);
    await room.pages[1]!.evaluate(() => window.__chorus!.setSlowdown(1));
    // Whatever plan the room is on by now, an undisturbed answer gives the very same ids.
    const undisturbed = await room.generate(request);
    expect(slowed.generatedIds).toEqual(undisturbed.generatedIds);
    // Balancing moved the room after the slowdown.
    expect(slowed.replans.filter((x) => x.reason === 'slow' && x.atToken > 10).length).toBeGreaterThanOrEqual(
      1,
    );
  });
});

describe('the leader leaves', () => {
  it('every phone says the room is over', async () => {
    room = await stories(3);
    await room.leader.close();
    for (const page of room.pages.slice(1)) {
      await page.getByTestId('leader-gone').waitFor({ timeout: 20_000 });
      expect(await page.getByTestId('leader-gone').textContent()).toMatch(/leader has left/);
    }
  });
});
