/** The room under bad input: live roster updates, a wrong secret, garbage and unexpected frames. */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedRoom } from '../tools/room/simulator';
import { storiesReference, testModels } from './fixtures';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Phone card states as the given page shows them. */
const statesOn = (page: Page) =>
  page.getByTestId('phone-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-state') ?? ''));

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let v = await read();
  for (let i = 0; i < 200 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  if (!ok(v)) throw new Error(`${what}: last seen ${JSON.stringify(v)}`);
  return v;
}

describe('a room of 3 phones', () => {
  let room: SimulatedRoom;
  const reference = storiesReference().prompts[0]!;

  beforeAll(async () => {
    room = await SimulatedRoom.open({ devices: 3, models: await testModels(), log });
  });
  afterAll(() => room?.close());

  it('every phone sees the roster change live, without reloading', async () => {
    const member = room.pages[1]!;
    expect(
      await until(
        () => statesOn(member),
        (s) => s.length === 3,
        'member roster',
      ),
    ).toEqual(['idle', 'idle', 'idle']);
    await room.loadModel('stories260k');
    const seen = await until(
      () => statesOn(member),
      (s) => s.every((x) => x === 'ready'),
      'member sees ready',
    );
    expect(seen).toEqual(['ready', 'ready', 'ready']);
    const blocks = await member
      .getByTestId('phone-card')
      .evaluateAll((els) => els.map((e) => e.shadowRoot?.textContent ?? ''));
    expect(blocks.join(' ')).toMatch(/blocks 0–\d/);
  });

  it('refuses a phone without the room secret', async () => {
    const link = (await room.leader.getByTestId('join-link').getAttribute('href'))!;
    const wrong = link.replace(/secret=[^&]+/, 'secret=not-the-secret');
    const intruder = await (await room.browser.newContext()).newPage();
    await intruder.goto(wrong);
    const error = await until(
      async () =>
        (await intruder.getByTestId('room-error').count())
          ? intruder.getByTestId('room-error').textContent()
          : null,
      (t) => t !== null,
      'intruder error',
    );
    expect(error).toMatch(/refused/);
    expect(await statesOn(room.leader)).toHaveLength(3);
    await intruder.context().close();
  });

  it('rejects garbage and unexpected frames sent to a stage, and the next prompt still works', async () => {
    const stage = room.pages[2]!;
    const rejectedBefore = await stage.evaluate(
      () =>
        (document.querySelector('chorus-app') as unknown as { room: { member: { rejectedFrames: number } } })
          .room.member.rejectedFrames,
    );
    // From the leader to phone 2's stage: random bytes, a truncated chunk, a chunk announcing an oversized
    // message, and a well-formed message of a kind a stage does not expect.
    await room.leader.evaluate(() => {
      type Sender = { sendRaw(b: Uint8Array): void; send(m: unknown): void };
      const app = document.querySelector('chorus-app') as unknown as {
        room: {
          leader: { deviceLinks: Map<string, Sender>; roomPlan: { plan: { stages: { phoneId: string }[] } } };
        };
      };
      const leader = app.room.leader;
      const link = leader.deviceLinks.get(leader.roomPlan.plan.stages[2]!.phoneId)!;
      const random = new Uint8Array(512).map((_, i) => (i * 7919 + 13) % 256);
      link.sendRaw(random);
      const chunk = new Uint8Array(20);
      chunk.set([0x43, 0x48, 0x4b, 0x31]); // "CHK1"
      const dv = new DataView(chunk.buffer);
      dv.setUint32(4, 999, true);
      dv.setUint32(8, 0, true);
      dv.setUint32(12, 1, true);
      dv.setUint32(16, 0xfffffff0, true); // claims ~4 GB
      link.sendRaw(chunk);
      link.sendRaw(chunk.subarray(0, 9));
      link.send({ kind: 'pong', nonce: 1, sentAt: 0 });
    });
    const rejected = await until(
      () =>
        stage.evaluate(
          () =>
            (
              document.querySelector('chorus-app') as unknown as {
                room: { member: { rejectedFrames: number } };
              }
            ).room.member.rejectedFrames,
        ),
      (n) => n >= rejectedBefore + 3,
      'stage rejected frames',
    );
    expect(rejected).toBeGreaterThanOrEqual(rejectedBefore + 3);
    expect(await statesOn(room.leader)).toEqual(['ready', 'ready', 'ready']);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: reference.generated_ids.length });
    expect(r.generatedIds).toEqual(reference.generated_ids);
  });

  it('a stage that is sent tensors it cannot use answers with an error, and keeps working', async () => {
    const failed = await room.leader.evaluate(async () => {
      type Sender = { send(m: unknown): void };
      const app = document.querySelector('chorus-app') as unknown as {
        room: {
          leader: {
            deviceLinks: Map<string, Sender>;
            roomPlan: { plan: { stages: { phoneId: string }[] } };
            driver: { pending: Map<string, { resolve(): void; reject(e: Error): void }> };
          };
        };
      };
      const leader = app.room.leader;
      const link = leader.deviceLinks.get(leader.roomPlan.plan.stages[1]!.phoneId)!;
      return new Promise<string>((resolve) => {
        leader.driver.pending.set('bogus:0', {
          resolve: () => resolve('answered'),
          reject: (e) => resolve(e.message),
        });
        link.send({
          kind: 'activations',
          requestId: 'bogus',
          step: 0,
          tensors: { nonsense: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } },
          stageTimesMs: [],
          residentMs: [],
        });
      });
    });
    expect(failed).toMatch(/missing|no tensor/);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: 8 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 8));
  });

  it('the stop button ends an answer early, and the next prompt still works', async () => {
    await room.startGenerate({ prompt: reference.prompt, maxNewTokens: 400 });
    await until(
      () => room.leader.getByTestId('output').textContent(),
      (t) => (t ?? '').length > 10,
      'first tokens streamed',
    );
    await room.leader.getByTestId('stop').click();
    const stopped = await room.waitForResult();
    expect(stopped.stoppedBy).toBe('aborted');
    expect(stopped.generatedIds.length).toBeLessThan(400);
    expect(stopped.generatedIds).toEqual(reference.generated_ids.slice(0, stopped.generatedIds.length));
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: 8 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 8));
  });
});
