/**
 * The room protocol in Node, on real parts except the network: a leader and two member phones on the
 * in-memory network (real wire codec), each stage a LocalStageBackend on onnxruntime-node, the blocks
 * served over HTTP by the real Chorus server. stories260k must reproduce its reference through three
 * stages, and a plan change mid-answer must keep the answer token-identical while only the phones whose
 * ranges changed reload and the stages before the first moved one keep their KV caches.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StagePlan } from '../../core/room/plan';
import type { Leader } from '../leader';
import { SELF } from '../leader';
import type { Member } from '../member';
import { greedy, openTestRoom, type StoriesPrompt, storiesReference, type TestRoom } from './test-room';

let room: TestRoom;
let leader: Leader;
let members: Member[];
let reference: StoriesPrompt[];

/** Each phone's backend loads so far, by phone id. */
async function loads(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [id, b] of room.backends) out[id] = (await b.stats()).loads;
  return out;
}

beforeAll(async () => {
  reference = await storiesReference();
  room = await openTestRoom(3);
  ({ leader, members } = room);
}, 60_000);

afterAll(() => room?.close());

describe('a room of three stages on the in-memory network', () => {
  it('plans one stage per phone and reproduces reference.json for every prompt', async () => {
    expect(leader.roomPlan!.plan.stages.map((s) => s.phoneId)).toEqual([
      SELF,
      members[0]!.id,
      members[1]!.id,
    ]);
    for (const p of reference) {
      const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), () => {});
      expect(r.promptIds).toEqual(p.prompt_ids);
      expect(r.generatedIds).toEqual(p.generated_ids);
    }
  }, 120_000);

  /** Generates `p`, moving the room to `stages` once `at` tokens are out; returns the answer. */
  async function answerWithMove(p: (typeof reference)[number], at: number, stages: StagePlan[]) {
    let moved: Promise<unknown> | null = null;
    const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), (_text, ids) => {
      if (ids.length === at && !moved) moved = leader.moveTo(stages, 'test');
    });
    await moved;
    return r;
  }

  it('a plan change mid-answer keeps the answer token-identical; only moved phones reload', async () => {
    const [a, b, c] = leader.roomPlan!.plan.stages;
    expect([a!.lastBlock, b!.lastBlock, c!.lastBlock]).not.toContain(undefined);
    const before = await loads();
    const firstStageSteps = leader.stage.stepsRun;
    const p = reference[1]!;
    // Move the boundary between phones 1 and 2 by one block: the leader's stage carries on.
    const target: StagePlan[] = [
      a!,
      { ...b!, lastBlock: b!.lastBlock + 1 },
      { ...c!, firstBlock: c!.firstBlock + 1 },
    ];
    const logsBefore = room.logs.length;
    const r = await answerWithMove(p, 8, target);
    expect(r.generatedIds).toEqual(p.generated_ids);
    // The two phones that changed blocks read them ahead, while the answer still ran on the old plan,
    // and their loads in the pause took those files.
    const phonesLogging = (re: RegExp) =>
      room.logs
        .slice(logsBefore)
        .filter((l) => re.test(l))
        .map((l) => l.slice(0, l.indexOf(']') + 1))
        .sort();
    expect(phonesLogging(/: read ahead in/)).toEqual(['[Phone 1]', '[Phone 2]']);
    expect(phonesLogging(/files in \d+ ms \(read ahead\)/)).toEqual(['[Phone 1]', '[Phone 2]']);
    const after = await loads();
    expect(after[SELF]).toBe(before[SELF]); // kept its session
    expect(after[members[0]!.id]).toBe(before[members[0]!.id]! + 1);
    expect(after[members[1]!.id]).toBe(before[members[1]!.id]! + 1);
    // The caches were rebuilt by one prefill of the answer so far (one chunk: prompt and 8 tokens fit
    // in 64), not step by step: the leader's stage ran each step once, and that chunk.
    expect(leader.stage.stepsRun - firstStageSteps).toBe(p.generated_ids.length + 1);
    expect(leader.roomPlan!.plan.stages.map((s) => [s.firstBlock, s.lastBlock])).toEqual(
      target.map((s) => [s.firstBlock, s.lastBlock]),
    );
  }, 120_000);

  it('a change that moves the first stage is still token-identical', async () => {
    const [a, b, c] = leader.roomPlan!.plan.stages;
    const before = await loads();
    const p = reference[2]!;
    const target: StagePlan[] = [
      { ...a!, lastBlock: a!.lastBlock - 1 },
      { ...b!, firstBlock: b!.firstBlock - 1 },
      c!,
    ];
    const r = await answerWithMove(p, 5, target);
    expect(r.generatedIds).toEqual(p.generated_ids);
    const after = await loads();
    expect(after[SELF]).toBe(before[SELF]! + 1);
    expect(after[members[0]!.id]).toBe(before[members[0]!.id]! + 1);
    expect(after[members[1]!.id]).toBe(before[members[1]!.id]); // same blocks: kept, caches rebuilt
  }, 120_000);

  it('a phone that is left out unloads, and the room answers on the other two', async () => {
    const stages = leader.roomPlan!.plan.stages;
    const target: StagePlan[] = [
      { phoneId: SELF, firstBlock: 0, lastBlock: 3 },
      { phoneId: members[1]!.id, firstBlock: 4, lastBlock: stages.at(-1)!.lastBlock },
    ];
    await leader.moveTo(target, 'test');
    expect(members[0]!.stage.planId).toBeNull();
    expect((await room.backends.get(members[0]!.id)!.stats()).activeRequests).toBe(0);
    const p = reference[0]!;
    const r = await leader.generate({ text: p.prompt }, greedy(p.generated_ids.length), () => {});
    expect(r.generatedIds).toEqual(p.generated_ids);
    expect(leader.phones.find((ph) => ph.id === members[0]!.id)?.detail).toMatch(/left out/);
  }, 120_000);

  it('every answer released its KV caches on every phone', async () => {
    // Releases travel as messages after the answer returns: give them a moment to land.
    const held = async () =>
      (await Promise.all([...room.backends.values()].map((b) => b.stats()))).map((s) => s.kvBytes);
    await vi.waitFor(async () => expect(await held()).toEqual([0, 0, 0]), { timeout: 3000 });
  });
});
