/**
 * Every phone can ask: real pages asking at the same moment, each answer exactly what it is alone
 * (greedy), a stopped answer freeing its KV caches on every phone while the others go on, and a phone
 * that holds no layers asking and getting its answer.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING } from '../src/core/sampling';
import { greedyWithCache, loadModel } from '../tools/gen-model/decode';
import { DEFAULT_MODEL, prepareModel } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';
import { SHARED_MODELS, storiesReference } from './fixtures';

const log = (line: string) => process.stderr.write(`${line}\n`);
const greedy = (maxNewTokens: number) => ({ ...DEFAULT_SAMPLING, maxNewTokens });

/** KV bytes each open page's stage holds now. */
const kvOnEveryPhone = (room: SimulatedRoom) =>
  Promise.all(room.pages.map((p) => p.evaluate(async () => (await window.__chorus!.stage())?.kvBytes ?? 0)));

describe('three phones asking at once (even plan over 3 phones)', () => {
  let room: SimulatedRoom;
  beforeAll(async () => {
    room = await SimulatedRoom.open({
      devices: 3,
      models: [
        await prepareModel(path.join(SHARED_MODELS, 'stories260k')),
        await prepareModel(DEFAULT_MODEL),
      ],
      log,
      settings: [{ balance: 'off' }],
    });
    await room.loadModel('stories260k');
  });
  afterAll(() => room?.close());

  it('stories260k: each phone gets exactly the reference ids', async () => {
    const prompts = storiesReference().prompts.slice(0, 3);
    const answers = await room.askAll(
      prompts.map((p, phone) => ({
        phone,
        input: { text: p.prompt },
        params: greedy(p.generated_ids.length),
      })),
    );
    answers.forEach((a, i) => {
      expect(a.outcome).toBe('done');
      expect(a.promptIds).toEqual(prompts[i]!.prompt_ids);
      expect(a.generatedIds).toEqual(prompts[i]!.generated_ids);
      expect(a.text.length).toBeGreaterThan(20);
      expect(a.states).toContain('generating');
    });
  });

  it('a stopped answer ends early and frees its KV caches on every phone; the others are unaffected', async () => {
    const [p0, p1] = storiesReference().prompts;
    const stopping = room.askAll([{ phone: 1, input: { text: p0!.prompt }, params: greedy(400) }]);
    const other = room.askAll([
      { phone: 2, input: { text: p1!.prompt }, params: greedy(p1!.generated_ids.length) },
    ]);
    // Both run; then phone 1's asker presses Stop.
    await expect
      .poll(() => room.leader.evaluate(() => window.__chorus!.admission()?.inFlight), { timeout: 60_000 })
      .toBe(2);
    await room.pages[1]!.evaluate(() => window.__chorus!.cancelAsks());
    const [stopped] = await stopping;
    expect(stopped!.outcome).toBe('stopped');
    expect(stopped!.generatedIds.length).toBeLessThan(400);
    const [done] = await other;
    expect(done!.generatedIds).toEqual(p1!.generated_ids);
    await expect.poll(() => kvOnEveryPhone(room), { timeout: 10_000 }).toEqual([0, 0, 0]);
  });

  it('a long prompt goes in by chunks while another answer streams: both are what they are alone', async () => {
    const [p0, p1] = storiesReference().prompts;
    // 141 tokens of real text: three prefill steps of up to 64 (PREFILL_CHUNK_TOKENS) instead of one.
    const long = [...p0!.prompt_ids, ...p0!.generated_ids, ...p1!.prompt_ids.slice(1), ...p1!.generated_ids];
    const whole = await loadModel(path.join(SHARED_MODELS, 'stories260k/onnx/model.onnx'));
    const alone = (await greedyWithCache(whole, long, 31)).tokens; // the whole prompt in one step
    const stepsRun = () =>
      Promise.all(room.pages.map((p) => p.evaluate(async () => (await window.__chorus!.stage())!.stepsRun)));
    const before = await stepsRun();
    const [longAnswer, shortAnswer] = await room.askAll([
      { phone: 0, input: { ids: long }, params: greedy(32) },
      { phone: 1, input: { text: p1!.prompt }, params: greedy(p1!.generated_ids.length) },
    ]);
    expect(longAnswer!.generatedIds).toEqual(alone);
    expect(shortAnswer!.generatedIds).toEqual(p1!.generated_ids);
    // Every phone ran the long prompt's 3 chunks and 31 decode steps, and the short answer's 64 steps.
    const after = await stepsRun();
    expect(after.map((n, i) => n - before[i]!)).toEqual([98, 98, 98]);
  });

  it('the default model: each phone gets what one session gives alone', async () => {
    await room.loadModel('chorus-kjv');
    const reference = JSON.parse(readFileSync(path.join(DEFAULT_MODEL, 'reference.json'), 'utf8')) as {
      prompts: { prompt: string; generated_ids: number[] }[];
    };
    const prompts = reference.prompts.slice(0, 3);
    const answers = await room.askAll(
      prompts.map((p, phone) => ({
        phone,
        input: { text: p.prompt },
        params: greedy(p.generated_ids.length),
      })),
    );
    expect(answers.map((a) => a.generatedIds)).toEqual(prompts.map((p) => p.generated_ids));
  });
});

describe('a phone that holds no layers', () => {
  let room: SimulatedRoom;
  beforeAll(async () => {
    // Phone 2 offers too little memory for any block, so the solved plan leaves it out.
    room = await SimulatedRoom.open({
      devices: 3,
      models: [await prepareModel(path.join(SHARED_MODELS, 'stories260k'))],
      log,
      memoryMB: [0, 0, 0.01],
    });
    await room.loadModel('stories260k', 300_000, 'solved');
  });
  afterAll(() => room?.close());

  it('asks from its own page and gets its answer', async () => {
    const phone2 = await room.pages[2]!.evaluate(() => window.__chorus!.id()!);
    const plan = await room.leader.evaluate(() => window.__chorus!.plan()!);
    expect(plan.stages.map((s) => s.phoneId)).not.toContain(phone2);
    const p = storiesReference().prompts[0]!;
    const [a] = await room.askAll([
      { phone: 2, input: { text: p.prompt }, params: greedy(p.generated_ids.length) },
    ]);
    expect(a!.outcome).toBe('done');
    expect(a!.generatedIds).toEqual(p.generated_ids);
  });
});
