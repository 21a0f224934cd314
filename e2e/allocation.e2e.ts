/**
 * The measured, optimised plan: phones time themselves, the leader solves the placement with HiGHS in a
 * worker, and whatever it decides, the tokens are the model's own. Memory caps force every phone to
 * take part; caps too small for the model give a clear message saying how much is missing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, prepareModel } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';

const reference = (
  JSON.parse(readFileSync(path.join(DEFAULT_MODEL, 'reference.json'), 'utf8')) as {
    prompts: { prompt: string; generated_ids: number[] }[];
  }
).prompts[1]!;
const log = (line: string) => process.stderr.write(`${line}\n`);

describe('a solved plan on emulated phones of speed 1/4, 1, 1', () => {
  let room: SimulatedRoom | null = null;
  afterAll(() => room?.close());

  it('uses every phone when memory forces it, and the tokens are the reference', async () => {
    room = await SimulatedRoom.open({
      devices: 3,
      models: [await prepareModel(DEFAULT_MODEL)],
      log,
      slowdowns: [4, 1, 1],
      memoryMB: [4, 4, 4],
    });
    await room.loadModel('chorus-kjv', 300_000, 'solved');
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: reference.generated_ids.length });
    expect(r.plan.planner).toMatch(/HiGHS/);
    expect(r.plan.stages).toHaveLength(3);
    expect(r.plan.leftOut).toEqual([]);
    expect(r.plan.stages.every((s) => s.predictedMs !== null && s.predictedMs > 0)).toBe(true);
    expect(r.generatedIds).toEqual(reference.generated_ids);
    const measured = await room.leader
      .getByTestId('phone-card')
      .evaluateAll((els) =>
        els.map((e) => e.shadowRoot?.querySelector('[data-testid=phone-measured]')?.textContent ?? ''),
      );
    expect(measured).toHaveLength(3);
    for (const m of measured)
      expect(m).toMatch(
        /wasm: kernel [\d.]+ ms\/token.* · decode on wasm, prefill on wasm · 4 MB for the model/,
      );
    expect(measured[0]).toMatch(/emulated 4× slower/);
    const slow = r.plan.stages.find((s) => s.phone === 'Leader')!;
    const fast = r.plan.stages.filter((s) => s.phone !== 'Leader');
    // The slow phone gets no more blocks than any fast one.
    for (const f of fast)
      expect(slow.lastBlock - slow.firstBlock).toBeLessThanOrEqual(f.lastBlock - f.firstBlock);
    await room.close();
    room = null;
  });

  it('says how much memory is missing when the model does not fit', async () => {
    room = await SimulatedRoom.open({
      devices: 2,
      models: [await prepareModel(DEFAULT_MODEL)],
      log,
      memoryMB: [2, 2],
    });
    await expect(room.loadModel('chorus-kjv', 300_000, 'solved')).rejects.toThrow(/needs [\d.]+ MiB/);
    const message = await room.errorText();
    expect(message).toMatch(/phones offer 4\.0 MiB/);
    expect(message).toMatch(/Leader freeing [\d.]+ MiB more/);
  });
});
