/**
 * The segmentation's proof: for real models, chaining the blocks — and every way of merging them into
 * 2 and 3 stages — reproduces the whole model's logits and present key/values, through a prefill and 8
 * decode steps with the KV cache, in onnxruntime-node.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeSession } from '../../src/adapters/ort/node';
import { pairCacheTensors } from '../../src/core/graph/cache-tensors';
import type { Manifest } from '../../src/core/graph/manifest';
import { runStages } from '../../src/core/pipeline/local-pipeline';
import { emptyCache, stepInputs } from '../../src/core/pipeline/model-inputs';
import { halfToFloat, lastLogitsRow, type StageRunner } from '../../src/core/pipeline/stage-runner';
import type { NamedTensors, Tensor } from '../../src/core/tensor';
import { locateModel, shardModel } from './shard-model';
import { contiguousSplits, openStage } from './stage-files';

const SHARED = path.resolve(__dirname, '../../../shared/models');
const DECODE_STEPS = 8;

const MODELS = [
  // fp32: the bound. fp16: every op runs in fp16 either way; cutting can only change which
  // fusions onnxruntime applies, so allow one fp16 rounding step at the logits' magnitude (2^-10 ≈ 1e-3).
  { name: 'stories260k', dir: 'stories260k', prompt: [1, 403, 407, 261, 378], tol: 1e-5 },
  {
    name: 'llama fp16 (genai builder)',
    dir: 'third-party/tiny-random-LlamaForCausalLM-fp16',
    prompt: [5, 17, 42, 7, 99, 3],
    tol: 1e-3,
  },
  {
    name: 'gpt2 fused (ort optimizer)',
    dir: 'third-party/tiny-random-gpt2-fp32',
    prompt: [5, 17, 42, 7, 99, 3],
    tol: 1e-5,
  },
];

function asFloats(t: Tensor): Float64Array {
  if (t.dtype === 'float16') return Float64Array.from(t.data as Uint16Array, halfToFloat);
  return Float64Array.from(t.data as Float32Array);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(b.dims).toEqual(a.dims);
  const x = asFloats(a);
  const y = asFloats(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

interface StepRecord {
  logits: Tensor;
  presents: NamedTensors;
}

/** The whole model, step by step with its KV cache, greedy: the reference every split must match. */
async function referenceRun(manifest: Manifest, onnxPath: string, prompt: number[]) {
  const session = await createNodeSession(onnxPath);
  const cacheSpecs = manifest.inputs.filter((s) => /^past/.test(s.name));
  const dataSpecs = manifest.inputs.filter((s) => !/^past/.test(s.name));
  const pairs = pairCacheTensors(
    cacheSpecs.map((s) => s.name),
    manifest.outputs.map((s) => s.name).filter((n) => n !== 'logits'),
  );
  let past: NamedTensors = Object.fromEntries(cacheSpecs.map((s) => [s.name, emptyCache(s)]));
  const tokens: number[][] = [prompt];
  const steps: StepRecord[] = [];
  let seen = 0;
  for (let step = 0; step <= DECODE_STEPS; step++) {
    const ids = tokens[step]!;
    const out = await session.run({ ...stepInputs(dataSpecs, ids, seen), ...past });
    seen += ids.length;
    const presents = Object.fromEntries(Object.entries(out).filter(([n]) => n !== 'logits'));
    steps.push({ logits: out.logits!, presents });
    past = Object.fromEntries(pairs.map(([pastName, presentName]) => [pastName, out[presentName]!]));
    const row = lastLogitsRow(out.logits!);
    tokens.push([row.indexOf(Math.max(...row))]);
  }
  await session.release();
  return { tokens, steps };
}

describe.each(MODELS)('$name: blocks chain exactly', (model) => {
  let dir: string;
  let manifest: Manifest;
  let reference: Awaited<ReturnType<typeof referenceRun>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'chorus-chain-'));
    manifest = await shardModel(path.join(SHARED, model.dir), dir);
    reference = await referenceRun(manifest, locateModel(path.join(SHARED, model.dir)).onnx, model.prompt);
  });

  async function check(split: [number, number][]): Promise<number> {
    const stages: StageRunner[] = [];
    for (const [a, b] of split) stages.push(await openStage(dir, manifest, a, b));
    const dataSpecs = manifest.inputs.filter((s) => !/^past/.test(s.name));
    let worst = 0;
    let seen = 0;
    for (let step = 0; step <= DECODE_STEPS; step++) {
      const ids = reference.tokens[step]!;
      const out = await runStages(stages, 'r', step, stepInputs(dataSpecs, ids, seen));
      seen += ids.length;
      const want = reference.steps[step]!;
      worst = Math.max(worst, maxAbsDiff(want.logits, out.logits!));
      const presents = new Map(stages.flatMap((s) => [...s.cacheOf('r')]));
      expect([...presents.keys()].sort()).toEqual(Object.keys(want.presents).sort());
      for (const [name, t] of presents) worst = Math.max(worst, maxAbsDiff(want.presents[name]!, t));
    }
    for (const s of stages) await s.close();
    return worst;
  }

  it('has a prologue, one block per layer and an epilogue', () => {
    const kinds = manifest.blocks.map((b) => b.kind);
    expect(kinds[0]).toBe('prologue');
    expect(kinds.at(-1)).toBe('epilogue');
    expect(kinds.filter((k) => k === 'layer')).toHaveLength(manifest.numLayers);
    expect(manifest.blocks.filter((b) => b.kind === 'layer').map((b) => b.layer)).toEqual([
      ...Array(manifest.numLayers).keys(),
    ]);
  });

  it('every block alone, chained', async () => {
    const split = manifest.blocks.map((b) => [b.index, b.index] as [number, number]);
    const worst = await check(split);
    console.log(`${model.name}: ${split.length} blocks chained, worst max abs diff ${worst}`);
    expect(worst).toBeLessThanOrEqual(model.tol);
  });

  it('every cut into 2 and 3 stages', async () => {
    const splits = [
      ...contiguousSplits(manifest.blocks.length, 2),
      ...contiguousSplits(manifest.blocks.length, 3),
    ];
    const worst = [];
    for (const split of splits) worst.push(await check(split));
    console.log(`${model.name}: ${splits.length} splits, worst max abs diff ${Math.max(...worst)}`);
    expect(Math.max(...worst)).toBeLessThanOrEqual(model.tol);
  });
});

describe('stories260k: greedy generation through 3 stages matches reference.json', () => {
  it('reproduces all 64 tokens of every prompt', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-greedy-'));
    const manifest = await shardModel(path.join(SHARED, 'stories260k'), dir);
    const n = manifest.blocks.length;
    const stages = [
      await openStage(dir, manifest, 0, 1),
      await openStage(dir, manifest, 2, 4),
      await openStage(dir, manifest, 5, n - 1),
    ];
    const ref = JSON.parse(readFileSync(path.join(SHARED, 'stories260k/reference.json'), 'utf8')) as {
      prompts: { prompt_ids: number[]; generated_ids: number[] }[];
    };
    const dataSpecs = manifest.inputs.filter((s) => !/^past/.test(s.name));
    for (const [p, prompt] of ref.prompts.entries()) {
      const generated: number[] = [];
      let ids = prompt.prompt_ids;
      let seen = 0;
      for (let step = 0; generated.length < prompt.generated_ids.length; step++) {
        const out = await runStages(stages, `p${p}`, step, stepInputs(dataSpecs, ids, seen));
        seen += ids.length;
        const row = lastLogitsRow(out.logits!);
        const next = row.indexOf(Math.max(...row));
        generated.push(next);
        ids = [next];
      }
      expect(generated).toEqual(prompt.generated_ids);
    }
  });
});
