/**
 * Continuous batching on real models (stories260k, and the default model), each in 3 stages on
 * onnxruntime-node, five prompts of different lengths generated at once through the same backends. Their one-token steps meet at each
 * stage and run as padded batches; each answer must still be exactly the reference's greedy answer, and its
 * KV cache exactly what it would hold alone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateModel, shardModel } from '../../../tools/shard/shard-model';
import { nodeSessionFactory } from '../../adapters/ort/node';
import type { Manifest } from '../graph/manifest';
import { mergeStage } from '../graph/merge-stage';
import type { StageLoadRequest } from '../ports';
import { elementCount, type NamedTensors } from '../tensor';
import { generate } from './generation';
import { LocalStageBackend } from './local-stage';

const MODELS = {
  stories260k: path.resolve(__dirname, '../../../../shared/models/stories260k'), // an additive float mask
  'chorus-kjv': path.resolve(__dirname, '../../../public/models/chorus-kjv'), // a boolean mask
};
const GREEDY = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

interface Reference {
  prompts: { prompt_ids: number[]; generated_ids: number[] }[];
}

let dir: string;
let manifest: Manifest;
let requests: StageLoadRequest[];
let reference: Reference;
let tokens: number;

function stageRequest(first: number, last: number): StageLoadRequest {
  const graphs = manifest.blocks
    .slice(first, last + 1)
    .map((b) => readFileSync(path.join(dir, b.graph.file)));
  const stage = mergeStage(manifest, first, last, graphs);
  const weights = Object.fromEntries(
    stage.weightFiles.map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]),
  );
  return {
    ...stage,
    graph: stage.graph,
    weights,
    inputSpecs: manifest.inputs,
    trimLogits: last === manifest.blocks.length - 1,
  };
}

/** Bytes one cached position costs a stage: its layers' keys and values (float32). */
function kvBytesPerToken(req: StageLoadRequest): number {
  const specs = manifest.inputs.filter((s) => req.cacheInputs.includes(s.name));
  return specs.reduce(
    (sum, s) => sum + 4 * elementCount(s.dims.map((d) => (typeof d === 'number' ? d : 1))),
    0,
  );
}

/** Greedy answers to every prompt at once, each a chain of steps through the backends in order. */
function answerAll(
  backends: readonly LocalStageBackend[],
  prompts: readonly number[][],
  tag = 'p',
  prefillChunk?: number,
) {
  const inputSpecs = manifest.inputs.filter((s) => !/^past/.test(s.name));
  return Promise.all(
    prompts.map(async (promptIds, p) => {
      const r = await generate(
        {
          requestId: `${tag}${p}`,
          promptIds,
          params: { ...GREEDY, maxNewTokens: tokens },
          stopIds: new Set(),
          inputSpecs,
          ...(prefillChunk ? { prefillChunk } : {}),
        },
        async (id, step, inputs) => {
          const available: NamedTensors = { ...inputs };
          const tokens = inputs.input_ids!.dims[1];
          for (const b of backends)
            Object.assign(available, (await b.step(id, step, available, tokens)).outputs);
          return { logits: available.logits!.data as Float32Array, stageTimesMs: [] };
        },
      );
      return r.generatedIds;
    }),
  );
}

describe.each(Object.entries(MODELS))('continuous batching (%s, 3 stages, 5 answers at once)', (_, model) => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'chorus-batching-'));
    manifest = await shardModel(locateModel(model).root, dir);
    reference = JSON.parse(readFileSync(path.join(model, 'reference.json'), 'utf8')) as Reference;
    tokens = reference.prompts[0]!.generated_ids.length;
    const n = manifest.blocks.length;
    requests = [stageRequest(0, 1), stageRequest(2, 4), stageRequest(5, n - 1)];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const prompts = () => reference.prompts.slice(0, 5);

  for (const maxBatch of [8, 1]) {
    it(`gives every answer its own greedy ids with maxBatch ${maxBatch}`, async () => {
      const backends = requests.map(() => new LocalStageBackend(nodeSessionFactory, { maxBatch }));
      try {
        for (const [i, b] of backends.entries()) await b.load(requests[i]!);
        const ids = await answerAll(
          backends,
          prompts().map((p) => p.prompt_ids),
        );
        expect(ids).toEqual(prompts().map((p) => p.generated_ids));
        const stats = await Promise.all(backends.map((b) => b.stats()));
        // Each answer is `tokens` steps (its prefill, then one per token but the last) at every stage.
        const steps = prompts().length * tokens;
        if (maxBatch === 1)
          for (const s of stats)
            expect(s).toMatchObject({ batchedSteps: 0, largestBatch: 1, stepRuns: steps });
        else
          for (const s of stats) {
            expect(s.largestBatch).toBeGreaterThan(1);
            // The steps run alone, one run each, and the batched ones, 2 to maxBatch a run.
            const alone = steps - s.batchedSteps;
            expect(s.stepRuns).toBeLessThanOrEqual(alone + s.batchedSteps / 2);
            expect(s.stepRuns).toBeGreaterThanOrEqual(alone + Math.ceil(s.batchedSteps / maxBatch));
          }
        // Each cache holds its own prompt and every fed token, the padding taken off: the bytes it holds alone.
        const positions = prompts().reduce((sum, p) => sum + p.prompt_ids.length + tokens - 1, 0);
        for (const [i, s] of stats.entries())
          expect(s.kvBytes).toBe(positions * kvBytesPerToken(requests[i]!));
      } finally {
        await Promise.all(backends.map((b) => b.dispose()));
      }
    });
  }

  it('prompts prefilled in chunks of 2 tokens, among the others’ decode steps, give the same ids', async () => {
    const backends = requests.map(() => new LocalStageBackend(nodeSessionFactory, { maxBatch: 8 }));
    try {
      for (const [i, b] of backends.entries()) await b.load(requests[i]!);
      const [first, ...rest] = prompts().map((p) => p.prompt_ids);
      // One answer decodes while the others' prompts go in, two tokens a step.
      const early = answerAll(backends, [first!]);
      const late = answerAll(backends, rest, 'q', 2);
      expect([...(await early), ...(await late)]).toEqual(prompts().map((p) => p.generated_ids));
      const stats = await Promise.all(backends.map((b) => b.stats()));
      for (const s of stats) expect(s.largestBatch).toBeGreaterThan(1);
      const positions = prompts().reduce((sum, p) => sum + p.prompt_ids.length + tokens - 1, 0);
      for (const [i, s] of stats.entries()) expect(s.kvBytes).toBe(positions * kvBytesPerToken(requests[i]!));
    } finally {
      await Promise.all(backends.map((b) => b.dispose()));
    }
  });

  it('a step that cannot join a batch (a prefill, a request twice) still runs, in order', async () => {
    const backends = requests.map(() => new LocalStageBackend(nodeSessionFactory, { maxBatch: 8 }));
    try {
      for (const [i, b] of backends.entries()) await b.load(requests[i]!);
      // Prefills of new answers arrive while others decode: all must come out right.
      const [first, ...rest] = prompts().map((p) => p.prompt_ids);
      const early = answerAll(backends, [first!]);
      const late = answerAll(backends, rest, 'q');
      expect([...(await early), ...(await late)]).toEqual(prompts().map((p) => p.generated_ids));
    } finally {
      await Promise.all(backends.map((b) => b.dispose()));
    }
  });
});
