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
    // The room keeps its plan (no balancing): these tests send frames to stages they know.
    room = await SimulatedRoom.open({
      devices: 3,
      models: await testModels(),
      log,
      settings: [{ balance: 'off' }],
    });
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
    await room.waitForMeasured(); // an even room measures its phones once ready; they stay ready
    expect(await statesOn(member)).toEqual(['ready', 'ready', 'ready']);
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
    const rejectedBefore = await stage.evaluate(() => window.__chorus!.rejectedFrames());
    const phone2 = await stage.evaluate(() => window.__chorus!.id()!);
    // From the leader to phone 2's stage: random bytes, a truncated chunk, a chunk announcing an oversized
    // message, and a well-formed message of a kind a stage does not expect.
    await room.leader.evaluate(async (to) => {
      const d = window.__chorus!;
      const random = new Uint8Array(512).map((_, i) => (i * 7919 + 13) % 256);
      await d.sendRaw(to, random);
      const chunk = new Uint8Array(20);
      chunk.set([0x43, 0x48, 0x4b, 0x31]); // "CHK1"
      const dv = new DataView(chunk.buffer);
      dv.setUint32(4, 999, true);
      dv.setUint32(8, 0, true);
      dv.setUint32(12, 1, true);
      dv.setUint32(16, 0xfffffff0, true); // claims ~4 GB
      await d.sendRaw(to, chunk);
      await d.sendRaw(to, chunk.subarray(0, 9));
      await d.send(to, { kind: 'pong', nonce: 1, sentAt: 0 });
    }, phone2);
    const rejected = await until(
      () => stage.evaluate(() => window.__chorus!.rejectedFrames()),
      (n) => n >= rejectedBefore + 3,
      'stage rejected frames',
    );
    expect(rejected).toBeGreaterThanOrEqual(rejectedBefore + 3);
    expect(await statesOn(room.leader)).toEqual(['ready', 'ready', 'ready']);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: reference.generated_ids.length });
    expect(r.generatedIds).toEqual(reference.generated_ids);
  });

  it('a stage that is sent tensors it cannot use answers with an error, and keeps working', async () => {
    const phone1 = await room.pages[1]!.evaluate(() => window.__chorus!.id()!);
    const errorsBefore = (await room.leader.evaluate(() => window.__chorus!.stageErrors())).length;
    await room.leader.evaluate(async (to) => {
      const d = window.__chorus!;
      await d.send(to, {
        kind: 'activations',
        planId: d.plan()!.id,
        requestId: 'bogus',
        step: 0,
        tensors: { nonsense: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } },
        stageTimesMs: [],
        residentMs: [],
      });
    }, phone1);
    const errors = await until(
      () => room.leader.evaluate(() => window.__chorus!.stageErrors()),
      (e) => e.length > errorsBefore,
      'the stage’s error',
    );
    expect(errors.at(-1)).toMatch(/missing|no tensor/);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: 8 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 8));
  });

  it('a phone cannot send another phone assign, measure or activations out of turn; the answer goes on', async () => {
    const [middle, last] = [room.pages[1]!, room.pages[2]!];
    const middleId = await middle.evaluate(() => window.__chorus!.id()!);
    const lastId = await last.evaluate(() => window.__chorus!.id()!);
    const before = (await middle.evaluate(() => window.__chorus!.stage()))!;
    const planId = (await room.leader.evaluate(() => window.__chorus!.plan()!.id))!;
    const long = storiesReference().prompts[1]!;
    await room.startGenerate({ prompt: long.prompt, maxNewTokens: long.generated_ids.length });
    await until(
      () => room.leader.getByTestId('output').textContent(),
      (t) => (t ?? '').length > 5,
      'first tokens streamed',
    );
    // The last stage turns on the middle one: it is neither the leader nor the middle stage's predecessor.
    await last.evaluate(
      async ([to, plan]) => {
        const d = window.__chorus!;
        const assignment = {
          stageIndex: 0,
          stageCount: 1,
          modelBase: '/models/stories260k/',
          firstBlock: 0,
          lastBlock: 6,
          nextPeer: null,
          prevPeer: null,
          forward: ['logits'],
          planId: plan,
        };
        await d.send(to, { kind: 'assign', assignment });
        await d.send(to, { kind: 'measure', shape: { hidden: 64, kvDim: 32, intermediate: 172 } });
        const tensors = { hidden: { dtype: 'float32' as const, dims: [1, 1, 4], data: new Float32Array(4) } };
        await d.send(to, {
          kind: 'activations',
          planId: plan,
          requestId: 'x',
          step: 0,
          tensors,
          stageTimesMs: [],
          residentMs: [],
        });
      },
      [middleId, planId] as const,
    );
    const refusals = await until(
      async () => (await middle.evaluate(() => window.__chorus!.refusals())).filter((r) => r.from === lastId),
      (r) => r.length >= 3,
      'refusals on the middle phone',
    );
    expect(refusals.map((r) => r.kind).sort()).toEqual(['activations', 'assign', 'measure']);
    const r = await room.waitForResult();
    expect(r.generatedIds).toEqual(long.generated_ids);
    const after = (await middle.evaluate(() => window.__chorus!.stage()))!;
    expect(after.loads).toBe(before.loads); // the assign never ran
    expect(after.planId).toBe(planId);
    expect(await statesOn(room.leader)).toEqual(['ready', 'ready', 'ready']);
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
