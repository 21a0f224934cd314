/**
 * LocalStageBackend on a real model in Node: stories260k cut into 3 stages, each in its own backend on
 * onnxruntime-node from in-memory bytes (as a phone gets them), chained by the leader's generation loop,
 * must reproduce llama2.c's greedy tokens; and the backend's lifecycle (stats, unload, reload, dispose,
 * slowdown, call order) behaves as the StageBackend contract says.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateModel, shardModel } from '../../../tools/shard/shard-model';
import { nodeSessionFactory } from '../../adapters/ort/node';
import { dispatchChainModel, layerKernelModel } from '../cost/calibration-model';
import type { Manifest } from '../graph/manifest';
import { mergeStage } from '../graph/merge-stage';
import type { StageLoadRequest } from '../ports';
import { elementCount, type NamedTensors } from '../tensor';
import { generate } from './generation';
import { LocalStageBackend } from './local-stage';
import { stepInputs } from './model-inputs';

const MODEL = path.resolve(__dirname, '../../../../shared/models/stories260k');
const GREEDY = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

interface Reference {
  prompts: { prompt: string; prompt_ids: number[]; generated_ids: number[] }[];
}

let dir: string;
let manifest: Manifest;
let requests: StageLoadRequest[];
const reference = JSON.parse(readFileSync(path.join(MODEL, 'reference.json'), 'utf8')) as Reference;

/** The load request a stage host would send for blocks first..last, with the files read into memory. */
function stageRequest(first: number, last: number): StageLoadRequest {
  const graphs = manifest.blocks
    .slice(first, last + 1)
    .map((b) => readFileSync(path.join(dir, b.graph.file)));
  const stage = mergeStage(manifest, first, last, graphs);
  const weights = Object.fromEntries(
    stage.weightFiles.map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]),
  );
  return {
    graph: stage.graph,
    weights,
    inputs: stage.inputs,
    outputs: stage.outputs,
    cacheInputs: stage.cacheInputs,
    cacheOutputs: stage.cacheOutputs,
    inputSpecs: manifest.inputs,
    trimLogits: last === manifest.blocks.length - 1,
  };
}

const dataSpecs = () => manifest.inputs.filter((s) => !/^past/.test(s.name));

/** Greedy generation through the backends in order, each given everything the ones before produced. */
async function generateThrough(backends: readonly LocalStageBackend[], requestId: string, prompt: number[]) {
  const result = await generate(
    {
      requestId,
      promptIds: prompt,
      params: { ...GREEDY, maxNewTokens: 64 },
      stopIds: new Set(),
      inputSpecs: dataSpecs(),
    },
    async (id, step, inputs) => {
      const available: NamedTensors = { ...inputs };
      const stageTimesMs: number[] = [];
      for (const b of backends) {
        const { outputs, ms } = await b.step(id, step, available);
        Object.assign(available, outputs);
        stageTimesMs.push(ms);
      }
      const logits = available.logits!;
      expect(logits.dims).toEqual([manifest.outputs.find((o) => o.name === 'logits')!.dims.at(-1)]);
      return { logits: logits.data as Float32Array, stageTimesMs };
    },
  );
  return result.generatedIds;
}

/** Bytes of every layer's key and value for one position: what each cached token costs (float32). */
function kvBytesPerToken(): number {
  return manifest.inputs
    .filter((s) => /^past/.test(s.name))
    .reduce((sum, s) => sum + 4 * elementCount(s.dims.map((d) => (typeof d === 'number' ? d : 1))), 0);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'chorus-local-stage-'));
  manifest = await shardModel(locateModel(MODEL).root, dir);
  const n = manifest.blocks.length;
  requests = [stageRequest(0, 1), stageRequest(2, 4), stageRequest(5, n - 1)];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalStageBackend on onnxruntime-node, stories260k in 3 stages', () => {
  it('reproduces reference.json greedily, and stats track loads and KV caches', async () => {
    const backends = requests.map(() => new LocalStageBackend(nodeSessionFactory));
    try {
      for (const [i, b] of backends.entries()) {
        const loaded = await b.load(requests[i]!);
        expect(loaded.backend).toBe('wasm (1 thread)');
        expect(await b.stats()).toMatchObject({ loads: 1, activeRequests: 0, kvBytes: 0 });
      }
      const prompts = reference.prompts.slice(0, 3);
      for (const [p, { prompt_ids, generated_ids }] of prompts.entries())
        expect(await generateThrough(backends, `p${p}`, prompt_ids)).toEqual(generated_ids);

      // Every prompt's cache is still held: prompt + 63 fed tokens (the last one sampled is never fed).
      const positions = prompts.reduce((sum, p) => sum + p.prompt_ids.length + 63, 0);
      const stats = await Promise.all(backends.map((b) => b.stats()));
      for (const s of stats) expect(s).toMatchObject({ loads: 1, activeRequests: prompts.length });
      for (const s of stats) expect(s.kvBytes).toBeGreaterThan(0);
      expect(stats.reduce((sum, s) => sum + s.kvBytes, 0)).toBe(positions * kvBytesPerToken());

      for (const b of backends) for (const p of prompts.keys()) await b.release(`p${p}`);
      for (const b of backends)
        expect(await b.stats()).toMatchObject({ loads: 1, activeRequests: 0, kvBytes: 0 });
    } finally {
      await Promise.all(backends.map((b) => b.dispose()));
    }
  });

  it('unload frees the stage (a step is then a clear error) and a later load works again', async () => {
    const b = new LocalStageBackend(nodeSessionFactory);
    try {
      const first = stepInputs(dataSpecs(), reference.prompts[0]!.prompt_ids, 0);
      await b.load(requests[0]!);
      expect((await b.stats()).busyMs).toBe(0);
      const ran = await b.step('a', 0, first);
      expect((await b.stats()).activeRequests).toBe(1);
      // Busy time is the steps' own run time, the figure a live view shows as how busy a phone is.
      expect((await b.stats()).busyMs).toBeCloseTo(ran.ms, 6);
      await b.unload();
      expect(await b.stats()).toMatchObject({ loads: 1, activeRequests: 0, kvBytes: 0 });
      await expect(b.step('a', 1, first)).rejects.toThrow(/no stage is loaded .*after unload/);
      await b.load(requests[0]!);
      const again = await b.step('a', 0, first);
      expect(Object.keys(again.outputs).length).toBeGreaterThan(0);
      expect(await b.stats()).toMatchObject({ loads: 2, activeRequests: 1 });
    } finally {
      await b.dispose();
    }
    await expect(b.stats()).rejects.toThrow(/stats: this stage backend was disposed/);
    await expect(b.load(requests[0]!)).rejects.toThrow(/disposed/);
  });

  it('runs calls in order: a step made before its load finished still runs after it', async () => {
    const b = new LocalStageBackend(nodeSessionFactory);
    try {
      const loading = b.load(requests[0]!);
      const stepping = b.step('a', 0, stepInputs(dataSpecs(), [1, 403], 0));
      await expect(Promise.all([loading, stepping])).resolves.toHaveLength(2);
    } finally {
      await b.dispose();
    }
  });

  it('a warm-up and a load never create sessions at the same time (one runtime keeps one file table)', async () => {
    let creating = 0;
    let overlapped = 0;
    const b = new LocalStageBackend(async (graph, weights, ep) => {
      overlapped = Math.max(overlapped, ++creating);
      try {
        return await nodeSessionFactory(graph, weights, ep);
      } finally {
        creating--;
      }
    });
    try {
      const warming = b.warm(dispatchChainModel());
      const loading = b.load(requests[1]!);
      await expect(Promise.all([warming, loading])).resolves.toHaveLength(2);
      expect(overlapped).toBe(1);
    } finally {
      await b.dispose();
    }
  });

  it('emulates a slower phone by waiting (k − 1) × each run, changeable at run time', async () => {
    const waits: number[] = [];
    const b = new LocalStageBackend(nodeSessionFactory, { sleep: (ms) => void waits.push(ms) });
    try {
      await b.load(requests[1]!);
      const hidden = await firstStageOutputs();
      await b.step('a', 0, hidden);
      expect(waits).toEqual([]);
      await b.setSlowdown(3);
      await b.step('a', 0, hidden);
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeGreaterThan(0);
      await expect(b.setSlowdown(0.5)).rejects.toThrow(/slowdown must be a number ≥ 1/);
    } finally {
      await b.dispose();
    }
  });

  it('times a calibration model beside a loaded stage, leaving the stage and its caches untouched', async () => {
    const waits: number[] = [];
    const b = new LocalStageBackend(nodeSessionFactory, { sleep: (ms) => void waits.push(ms), slowdown: 2 });
    try {
      const first = stepInputs(dataSpecs(), reference.prompts[0]!.prompt_ids, 0);
      await b.load(requests[0]!);
      await b.step('a', 0, first);
      const kernel = layerKernelModel({ hidden: 64, kvDim: 32, intermediate: 172 });
      const x = (n: number) => ({
        dtype: 'float32' as const,
        dims: [1, n, 64],
        data: new Float32Array(n * 64),
      });
      const times = await b.calibrate({
        ...kernel,
        input: 'x',
        output: 'y',
        runs: [
          { x: x(1), times: 3 },
          { x: x(4), times: 2 },
        ],
      });
      expect(times.map((t) => t.length)).toEqual([3, 2]);
      expect(times.flat().every((t) => t > 0)).toBe(true);
      expect(waits.length).toBeGreaterThanOrEqual(7); // the slowdown applies to every run, the untimed ones too
      expect(await b.stats()).toMatchObject({ loads: 1, activeRequests: 1 });
      const next = stepInputs(dataSpecs(), [403], reference.prompts[0]!.prompt_ids.length);
      await expect(b.step('a', 1, next)).resolves.toBeDefined(); // its cache is still there
    } finally {
      await b.dispose();
    }
  });

  it('refuses what it cannot do, clearly', async () => {
    const b = new LocalStageBackend(nodeSessionFactory);
    try {
      await expect(
        b.load({ ...requests[0]!, phases: { decode: 'wasm', prefill: 'webgpu' } }),
      ).rejects.toThrow(/no WebGPU adapter/);
      await expect(b.load({ ...requests[0]!, inputs: [...requests[0]!.inputs, 'nope'] })).rejects.toThrow(
        /the stage graph has no input nope/,
      );
      expect((await b.stats()).loads).toBe(0);
    } finally {
      await b.dispose();
    }
    expect(() => new LocalStageBackend(nodeSessionFactory, { slowdown: 0 })).toThrow(RangeError);
  });
});

/** What stage 0 hands stage 1 for a short prompt. */
async function firstStageOutputs(): Promise<NamedTensors> {
  const b = new LocalStageBackend(nodeSessionFactory);
  try {
    await b.load(requests[0]!);
    const inputs = stepInputs(dataSpecs(), [1, 403, 407], 0);
    return { ...inputs, ...(await b.step('x', 0, inputs)).outputs };
  } finally {
    await b.dispose();
  }
}
