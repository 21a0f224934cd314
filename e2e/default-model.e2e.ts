/**
 * The embedded default model (public/models/chorus-kjv, trained by tools/train-default-model): split over
 * three phones it produces exactly what one session produces, and the room simulator uses it when no
 * model is given.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, prepareModel, REPO } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';

interface Reference {
  prompts: { prompt: string; prompt_ids: number[]; generated_ids: number[] }[];
}
const reference = JSON.parse(readFileSync(path.join(DEFAULT_MODEL, 'reference.json'), 'utf8')) as Reference;
const log = (line: string) => process.stderr.write(`${line}\n`);

describe('chorus-kjv, the embedded default model', () => {
  const single: number[][] = [];
  const three: number[][] = [];

  describe.each([
    [1, single],
    [3, three],
  ] as const)('on %i phone(s)', (devices, out) => {
    let room: SimulatedRoom;
    beforeAll(async () => {
      // The room keeps its even plan: on a machine this small, balancing may rightly move the model onto
      // one phone, and this test is about what three phones produce together.
      room = await SimulatedRoom.open({
        devices,
        models: [await prepareModel(DEFAULT_MODEL)],
        log,
        settings: [{ balance: 'off' }],
      });
      await room.loadModel('chorus-kjv');
    });
    afterAll(() => room?.close());

    it('greedy output equals the onnxruntime-node reference for every prompt', async () => {
      for (const p of reference.prompts) {
        const r = await room.generate({ prompt: p.prompt, maxNewTokens: p.generated_ids.length });
        expect(r.plan.stages).toHaveLength(devices);
        expect(r.promptIds).toEqual(p.prompt_ids);
        expect(r.generatedIds).toEqual(p.generated_ids);
        out.push(r.generatedIds);
      }
    });
  });

  it('three phones produce what one session produces', () => {
    expect(three.length).toBe(reference.prompts.length);
    expect(three).toEqual(single);
  });

  it('npm run room without --model prints the default model’s text', () => {
    const out = execFileSync(
      process.execPath,
      [
        path.join(REPO, 'node_modules/tsx/dist/cli.mjs'),
        'tools/room/main.ts',
        '--devices',
        '2',
        '--planner',
        'even',
        '--prompt',
        'And the LORD said unto Moses,',
        '--max-new-tokens',
        '12',
        '--json',
      ],
      {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, CHORUS_IN_NETNS: '1' },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
      model: string;
      generatedIds: number[];
      text: string;
    };
    expect(r.model).toBe('chorus-kjv');
    expect(r.generatedIds).toEqual(reference.prompts[1]!.generated_ids.slice(0, 12));
    expect(r.text.length).toBeGreaterThan(10);
  });
});
