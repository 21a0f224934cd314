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
  });

  it('a phone that leaves and comes back is used again', async () => {
    const p = storiesReference().prompts[2]!;
    room = await stories(3);
    const changes: RoomChange[] = [
      { kind: 'leave', phone: 2, atToken: 5 },
      { kind: 'rejoin', phone: 2, atToken: 15 },
    ];
    const r = await room.generateWith(
      { prompt: p.prompt, maxNewTokens: p.generated_ids.length, temperature: 0 },
      changes,
    );
    expect(r.generatedIds).toEqual(p.generated_ids);
    const rejoin = r.replans.find((x) => x.reason === 'rejoin');
    expect(rejoin?.stages.some((s) => s.phone === 2)).toBe(true);
    // Its blocks came from its own cache: the page's last load moved no block bytes.
    const stats = await room.loadStats();
    expect(stats[2]!.bytesFromNetwork).toBe(0);
  });

  it('when the phones left cannot hold the model, the answer stops with a clear message and keeps its text', async () => {
    const p = storiesReference().prompts[0]!;
    // stories260k needs about 1 MB; two phones of 1 MB together can hold it, one cannot.
    room = await stories(2, { memoryMB: [0.6, 0.6] });
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

describe('a phone slows down mid-answer (the default model)', () => {
  it('the room re-plans at least once, and the ids are the undisturbed run’s', async () => {
    const mount = await prepareModel(DEFAULT_MODEL);
    room = await SimulatedRoom.open({ devices: 3, models: [mount], log });
    await room.loadModel(mount.name, 180_000, 'even');
    const prompt = { prompt: 'And the LORD said unto Moses,', maxNewTokens: 96, temperature: 0 };
    const undisturbed = await room.generate(prompt);
    const r = await room.generateWith(prompt, [{ kind: 'slow', phone: 1, factor: 6, atToken: 10 }], 300_000);
    expect(r.generatedIds).toEqual(undisturbed.generatedIds);
    expect(r.replans.filter((x) => x.reason === 'slow').length).toBeGreaterThanOrEqual(1);
  });
});
