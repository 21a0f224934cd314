/**
 * Every phone can ask (in Node, on the in-memory network with real stages): answers from three phones
 * at once each equal what they give alone, only the asker hears its answer, a stopped answer frees its
 * KV caches on every stage, and answers beyond the cap wait their turn and say where they are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerState, AnswerSummary, AskInput, SamplingParams } from '../../core/protocol/messages';
import { SELF } from '../leader';
import type { Member } from '../member';
import type { AnswerSink } from './answers';
import { greedy, openTestRoom, type StoriesPrompt, storiesReference, type TestRoom } from './test-room';

interface Heard {
  states: { state: AnswerState; position?: number }[];
  text: string;
  ids: number[];
  end: Promise<AnswerSummary>;
}

/** Asks from the leader (`null`) or a member, recording all it hears. */
function ask(
  room: TestRoom,
  from: Member | null,
  requestId: string,
  input: AskInput,
  params: SamplingParams,
  onText?: (heard: Heard) => void,
): Heard {
  let done: (s: AnswerSummary) => void = () => {};
  const heard: Heard = { states: [], text: '', ids: [], end: new Promise((r) => (done = r)) };
  const sink: AnswerSink = {
    state: (state, position) => heard.states.push(position ? { state, position } : { state }),
    text: (delta, ids) => {
      heard.text += delta;
      heard.ids.push(...ids);
      onText?.(heard);
    },
    end: (s) => done(s),
  };
  if (from) from.ask(requestId, input, params, sink);
  else room.leader.ask(requestId, input, params, sink);
  return heard;
}

/** KV caches held, over every stage of the room but those of phones in `except` (gone). */
async function kvHeld(room: TestRoom, except: string[] = []): Promise<{ requests: number; bytes: number }> {
  let requests = 0;
  let bytes = 0;
  for (const [id, b] of room.backends) {
    if (except.includes(id)) continue;
    const s = await b.stats();
    requests += s.activeRequests;
    bytes += s.kvBytes;
  }
  return { requests, bytes };
}

describe('three phones asking at once', () => {
  let room: TestRoom;
  let reference: StoriesPrompt[];
  beforeAll(async () => {
    reference = await storiesReference();
    room = await openTestRoom(3);
  }, 60_000);
  afterAll(() => room?.close());

  it('each answer equals its reference, and each asker hears only its own', async () => {
    const [m1, m2] = room.members;
    const askers = [null, m1!, m2!];
    const heard = reference
      .slice(0, 3)
      .map((p, i) => ask(room, askers[i]!, 'q', { text: p.prompt }, greedy(p.generated_ids.length)));
    const ends = await Promise.all(heard.map((h) => h.end));
    ends.forEach((e, i) => {
      expect(e.outcome).toBe('done');
      expect(e.generatedIds).toEqual(reference[i]!.generated_ids);
      expect(heard[i]!.ids).toEqual(reference[i]!.generated_ids);
      expect(e.timeToFirstTokenMs).toBeGreaterThan(0);
      expect(heard[i]!.states.map((s) => s.state)).toEqual(['prefilling', 'generating']);
    });
    for (const h of heard) expect(h.text.length).toBeGreaterThan(20);
    // Each end releases the answer's caches on every stage.
    await expect.poll(() => kvHeld(room)).toEqual({ requests: 0, bytes: 0 });
  }, 120_000);

  it('a stopped answer frees its caches on every stage; the others are unaffected', async () => {
    const [m1] = room.members;
    const p = reference[1]!;
    let kvWhileRunning = 0;
    const stopped = ask(room, m1!, 'long', { text: reference[0]!.prompt }, greedy(64), (h) => {
      if (h.ids.length === 8) {
        void kvHeld(room).then((k) => (kvWhileRunning = k.bytes));
        m1!.cancel('long');
      }
    });
    const other = ask(room, null, 'other', { text: p.prompt }, greedy(p.generated_ids.length));
    const s = await stopped.end;
    expect(s.outcome).toBe('stopped');
    expect(s.generatedIds.length).toBeGreaterThanOrEqual(8);
    expect(s.generatedIds.length).toBeLessThan(64);
    expect((await other.end).generatedIds).toEqual(p.generated_ids);
    expect(kvWhileRunning).toBeGreaterThan(0);
    await expect.poll(() => kvHeld(room)).toEqual({ requests: 0, bytes: 0 });
  }, 120_000);

  it('the answers of a phone that leaves stop, and their caches go with them', async () => {
    const m2 = room.members[1]!;
    const left = new Promise<void>((resolve) =>
      ask(room, m2, 'left', { text: reference[2]!.prompt }, greedy(64), (h) => {
        if (h.ids.length !== 4) return;
        m2.destroy();
        resolve();
      }),
    );
    await left;
    // Nobody is left to hear it: the leader stops it (and re-plans around the phone).
    await expect.poll(() => room.leader.admission.inFlight, { timeout: 30_000 }).toBe(0);
    expect(room.logs.some((l) => /1 answer\(s\) of Phone 2 stopped: the phone left/.test(l))).toBe(true);
    await expect.poll(() => kvHeld(room, [m2.id])).toEqual({ requests: 0, bytes: 0 });
  }, 60_000);
});

describe('a room that holds one answer at a time', () => {
  let room: TestRoom;
  beforeAll(async () => {
    room = await openTestRoom(2, { maxInFlight: 1 });
  }, 60_000);
  afterAll(() => room?.close());

  it('queues the rest in turn, tells each its place, and a withdrawn one never runs', async () => {
    const m = room.members[0]!;
    // The first answer runs slowly, so the queue can be watched while it runs.
    await room.backends.get(SELF)!.setSlowdown(30);
    const first = ask(room, null, 'a', { ids: [1] }, greedy(12));
    const second = ask(room, m, 'b', { ids: [1] }, greedy(4));
    const third = ask(room, m, 'c', { ids: [1] }, greedy(4));
    await expect.poll(() => third.states.length).toBe(1);
    expect(second.states).toEqual([{ state: 'queued', position: 1 }]);
    expect(third.states).toEqual([{ state: 'queued', position: 2 }]);
    // The leader's second question goes before the member's second: slots go to the phones in turn.
    const fourth = ask(room, null, 'd', { ids: [1] }, greedy(4));
    expect(fourth.states).toEqual([{ state: 'queued', position: 2 }]);
    await expect.poll(() => third.states.at(-1)).toEqual({ state: 'queued', position: 3 });
    m.cancel('c');
    await room.backends.get(SELF)!.setSlowdown(1);
    const ends = await Promise.all([first.end, second.end, third.end, fourth.end]);
    expect(ends.map((e) => e.outcome)).toEqual(['done', 'done', 'stopped', 'done']);
    expect(fourth.states.map((s) => s.state)).toEqual(['queued', 'queued', 'prefilling', 'generating']);
    expect(third.ids).toEqual([]);
    expect(ends[1]!.generatedIds).toEqual(ends[3]!.generatedIds);
  }, 60_000);

  it('refuses bad sampling settings with the sampler’s reason', async () => {
    const r = await ask(room, room.members[0]!, 'bad', { ids: [1] }, { ...greedy(4), topP: 2 }).end;
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/topP/);
  });

  it('an answer stops where the context ends; a prompt longer than the context fails with what to do', async () => {
    const m = room.members[0]!;
    // stories260k holds 512 positions: a 505-token prompt leaves room for 7 tokens, whatever is asked.
    const near = await ask(room, m, 'near', { ids: [1, ...new Array(504).fill(300)] }, greedy(64)).end;
    expect(near.outcome).toBe('done');
    expect(near.generatedIds.length).toBeLessThanOrEqual(7);
    const over = await ask(room, m, 'over', { ids: new Array(600).fill(300) }, greedy(4)).end;
    expect(over.outcome).toBe('failed');
    expect(over.message).toMatch(/600 tokens.*512 at most.*shorten it/);
  }, 60_000);
});
