/**
 * Phones leaving mid-answer, in Node on the in-memory network: the rest re-plan and the answer goes on
 * from its last token with exactly the ids of an undisturbed run (stories260k's reference).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FaultEvent } from './room-plans';
import { greedy, openTestRoom, storiesReference, type TestRoom } from './test-room';

let room: TestRoom | null = null;
afterEach(async () => {
  await room?.close();
  room = null;
});

describe('a phone leaves mid-answer', () => {
  it.each([
    ['the middle phone, between steps', 0, false],
    ['the middle phone, with a step in flight', 0, true],
    ['the last phone, with a step in flight', 1, true],
  ])(
    '%s: the answer goes on token-identical on the phones left',
    async (_label, index, inFlight) => {
      const p = (await storiesReference())[3]!;
      room = await openTestRoom(3);
      const { leader, members } = room;
      const leaving = members[index]!;
      let left = false;
      const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), (_t, ids) => {
        if (ids.length === 6 && !left) {
          left = true;
          // The page closes (its links close on every side): now, or once the next step is on its way.
          if (inFlight) setTimeout(() => leaving.destroy(), 0);
          else leaving.destroy();
        }
      });
      expect(r.generatedIds).toEqual(p.generated_ids);
      expect(leader.roomPlan!.plan.stages.map((s) => s.phoneId)).not.toContain(leaving.id);
      const fault = leader.history.find((e): e is FaultEvent => e.kind === 'fault');
      expect(fault).toMatchObject({ phone: leaving.id });
      expect(fault!.atToken).toBeGreaterThanOrEqual(5);
      expect(fault!.resumedAt).not.toBeNull();
      expect(leader.history.some((e) => e.kind === 'replan' && e.reason === 'fault')).toBe(true);
    },
    60_000,
  );

  it('a phone that freezes (its channel still open) is noticed by heartbeats within 2 s', async () => {
    const p = (await storiesReference())[5]!;
    room = await openTestRoom(3);
    const { leader, members, net } = room;
    const frozen = members[1]!;
    let froze = 0;
    const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), (_t, ids) => {
      if (ids.length === 4 && !froze) {
        froze = Date.now();
        net.freeze(frozen.id);
      }
    });
    expect(r.generatedIds).toEqual(p.generated_ids);
    const fault = leader.history.find((e): e is FaultEvent => e.kind === 'fault');
    expect(fault?.phone).toBe(frozen.id);
    expect(fault!.detectedAt - froze).toBeLessThan(3000); // 2 s of silence, checked every 0.5 s
  }, 60_000);

  it('with every phone but the leader gone, the leader runs the whole model alone', async () => {
    const p = (await storiesReference())[4]!;
    room = await openTestRoom(3);
    const { leader, members } = room;
    const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), (_t, ids) => {
      if (ids.length === 3) for (const m of members) m.destroy();
    });
    expect(r.generatedIds).toEqual(p.generated_ids);
    expect(leader.roomPlan!.plan.stages).toHaveLength(1);
  }, 60_000);

  it('with three answers in flight, each goes on token-identical and the stages left free every cache', async () => {
    const refs = (await storiesReference()).slice(0, 3);
    room = await openTestRoom(3);
    const { leader, members, backends } = room;
    const leaving = members[0]!;
    let left = false;
    const answers = refs.map((p, i) =>
      leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), (_t, ids) => {
        if (i === 0 && ids.length === 6 && !left) {
          left = true;
          leaving.destroy();
        }
      }),
    );
    const results = await Promise.all(answers);
    expect(results.map((r) => r.generatedIds)).toEqual(refs.map((p) => p.generated_ids));
    const faults = leader.history.filter((e) => e.kind === 'fault');
    expect(faults).toHaveLength(1);
    // The three answers were rebuilt on the phones left, then released there.
    const held = async () => {
      let bytes = 0;
      for (const [id, b] of backends) if (id !== leaving.id) bytes += (await b.stats()).kvBytes;
      return bytes;
    };
    await vi.waitFor(async () => expect(await held()).toBe(0), { timeout: 3000 });
  }, 60_000);
});
