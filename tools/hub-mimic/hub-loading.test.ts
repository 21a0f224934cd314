/**
 * Opening models "from the hub" against the local mimic: the leader reads only configs and the graph,
 * each phone fetches only its own byte ranges of the external data, the packed ranges run in
 * onnxruntime-node and reproduce the whole model's greedy tokens, a warm load moves nothing, and
 * wrong ids / dtypes / hubs give clear messages.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStageFiles } from '../../src/app/block-fetch';
import { memoryFileSource } from '../../src/app/delivery/peer-blocks';
import { fetchRemoteWeights } from '../../src/app/delivery/remote-ranges';
import { type HubModel, loadHubModel } from '../../src/app/hub/load-hub-model';
import { isRemoteWeights, type Manifest, parseManifest } from '../../src/core/graph/manifest';
import { MemoryBlockStore } from '../../src/core/memory-block-store';
import { nextLogits } from '../../src/core/pipeline/local-pipeline';
import { stepInputs } from '../../src/core/pipeline/model-inputs';
import type { StageRunner } from '../../src/core/pipeline/stage-runner';
import { openStage } from '../shard/stage-files';
import { type HubMimic, startHubMimic } from './hub-mimic';

const SHARED = path.resolve(import.meta.dirname, '../../../shared/models');
const LLAMA_DIR = path.join(SHARED, 'third-party/tiny-random-LlamaForCausalLM-fp16');
const LLAMA = 'test/tiny-llama-fp16';
const STORIES = 'onnx-community/stories260k';

let hub: HubMimic;
const fetchFn = (url: string, init?: RequestInit) => fetch(url, init);
const isData = (p: string) => p.endsWith('/onnx/model.onnx.data');

beforeAll(async () => {
  hub = await startHubMimic({
    models: [
      { id: STORIES, dir: path.join(SHARED, 'stories260k') },
      {
        // The genai export keeps model.onnx + model.onnx.data at the top; present it the onnx-community
        // way (onnx/model_fp16.onnx) but keep the data file's name, because the graph's external-data
        // `location` entries say "model.onnx.data" and the hub resolves them beside the graph.
        id: LLAMA,
        dir: LLAMA_DIR,
        files: {
          'onnx/model_fp16.onnx': 'model.onnx',
          'onnx/model.onnx.data': 'model.onnx.data',
          'genai_config.json': 'genai_config.json',
          'tokenizer.json': 'tokenizer.json',
          'tokenizer_config.json': 'tokenizer_config.json',
        },
      },
    ],
  });
});
afterAll(() => hub?.close());

/** Fetches blocks first..last as a phone would and writes them where openStage looks. */
async function stageDir(model: HubModel, dir: string, first: number, last: number, store?: MemoryBlockStore) {
  const files = await fetchStageFiles('', model.manifest, first, last, () => {}, {
    source: memoryFileSource(model.files),
    fetchFn,
    store: store ?? null,
  });
  model.manifest.blocks.slice(first, last + 1).forEach((b, i) => {
    writeFileSync(path.join(dir, b.graph.file), files.graphs[i]!);
    if (b.weights) writeFileSync(path.join(dir, b.weights.file), files.weights[b.weights.file]!);
  });
  return files;
}

async function greedy(stages: StageRunner[], manifest: Manifest, prompt: number[], n: number) {
  const dataSpecs = manifest.inputs.filter((s) => !/^past/.test(s.name));
  const out: number[] = [];
  let ids = prompt;
  let seen = 0;
  for (let step = 0; out.length < n; step++) {
    const row = await nextLogits(stages, 'r', step, stepInputs(dataSpecs, ids, seen));
    seen += ids.length;
    const next = row.indexOf(Math.max(...row));
    out.push(next);
    ids = [next];
  }
  for (const s of stages) await s.close();
  return out;
}

describe('a model whose weights are external data (tiny llama, fp16)', () => {
  let model: HubModel;
  beforeAll(async () => {
    model = await loadHubModel(hub.url, LLAMA, 'fp16', fetchFn);
  });

  it('builds a manifest of hub ranges at the pinned commit without the leader reading weights', () => {
    const m = model.manifest;
    expect(model.weightsFrom).toBe('hub');
    expect(m).toMatchObject({
      blockSource: 'leader',
      hub: { modelId: LLAMA, dtype: 'fp16', revision: hub.revisionOf(LLAMA) },
    });
    expect(parseManifest(JSON.parse(new TextDecoder().decode(model.files.get('manifest.json')!)))).toEqual(m);
    const weighted = m.blocks.filter((b) => b.weights);
    expect(weighted.length).toBeGreaterThan(0);
    for (const b of weighted) {
      expect(isRemoteWeights(b.weights)).toBe(true);
      for (const r of isRemoteWeights(b.weights) ? b.weights.ranges : []) {
        expect(r.url).toContain(`/resolve/${hub.revisionOf(LLAMA)}/onnx/model.onnx.data`);
      }
    }
    // The leader's only read of the 2 MB data file is the one-byte Range probe.
    expect(hub.bytesServed((r) => isData(r.path))).toBeLessThanOrEqual(1);
  });

  it('each stage fetches only its own byte ranges, and the stages reproduce the whole model', async () => {
    const m = model.manifest;
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-hub-'));
    const n = m.blocks.length;
    const cut = Math.floor(n / 2);
    const dataSize = readFileSync(path.join(LLAMA_DIR, 'model.onnx.data')).length;
    let servedAll = 0;
    for (const [first, last] of [
      [0, cut - 1],
      [cut, n - 1],
    ] as const) {
      hub.resetStats();
      const files = await stageDir(model, dir, first, last);
      const served = hub.bytesServed((r) => isData(r.path));
      const ranges = m.blocks
        .slice(first, last + 1)
        .flatMap((b) => (isRemoteWeights(b.weights) ? b.weights.ranges : []));
      const rangeBytes = ranges.reduce((s, r) => s + r.length, 0);
      const tensorBytes = m.blocks.slice(first, last + 1).reduce((s, b) => s + b.weightBytes, 0);
      expect(served).toBe(rangeBytes);
      const graphBytes = m.blocks.slice(first, last + 1).reduce((s, b) => s + b.graph.bytes, 0);
      expect(files.bytesFromNetwork).toBe(rangeBytes + graphBytes); // graphs come from the leader
      expect(served).toBeLessThanOrEqual(tensorBytes);
      expect(served).toBeLessThan(dataSize);
      expect(hub.requests.filter((r) => isData(r.path)).every((r) => r.status === 206)).toBe(true);
      servedAll += served;
      console.log(
        `stage ${first}-${last}: ${ranges.length} range requests, ${served} of ${dataSize} bytes of model.onnx.data`,
      );
    }
    // Tensors both stages read (each layer's rotary cos/sin caches here) are fetched by both phones.
    console.log(`both stages: ${servedAll} bytes for a ${dataSize}-byte data file`);
    expect(servedAll).toBeLessThanOrEqual(dataSize * 1.05);
    const stages = [await openStage(dir, m, 0, cut - 1), await openStage(dir, m, cut, n - 1)];
    const ref = JSON.parse(readFileSync(path.join(LLAMA_DIR, 'reference.json'), 'utf8')) as {
      prompt_ids: number[];
      greedy_16_ids_with_kv_cache: number[];
    };
    expect(await greedy(stages, m, ref.prompt_ids, 16)).toEqual(ref.greedy_16_ids_with_kv_cache);
  });

  it('a warm load with the same store moves zero bytes from the hub', async () => {
    const store = new MemoryBlockStore();
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-hub-'));
    const last = model.manifest.blocks.length - 1;
    hub.resetStats();
    let t = performance.now();
    const cold = await stageDir(model, dir, 0, last, store);
    const coldMs = performance.now() - t;
    const coldServed = hub.bytesServed();
    hub.resetStats();
    t = performance.now();
    const warm = await stageDir(model, dir, 0, last, store);
    const warmMs = performance.now() - t;
    console.log(
      `hub load cold ${coldMs.toFixed(0)} ms (${coldServed} bytes), warm ${warmMs.toFixed(0)} ms (0 bytes)`,
    );
    expect(cold.bytesFromNetwork).toBeGreaterThan(0);
    expect(hub.requests).toEqual([]);
    expect(warm).toMatchObject({ bytesFromNetwork: 0, corruptEntries: 0 });
    expect(warm.bytesFromCache).toBe(cold.bytesFromNetwork + cold.bytesFromCache);
  });

  it('refuses a data file that changed size since the leader looked', async () => {
    const b = model.manifest.blocks.find((x) => isRemoteWeights(x.weights))!;
    if (!isRemoteWeights(b.weights)) throw new Error('unreachable');
    const url = b.weights.ranges[0]!.url;
    const stale = { ...b.weights, sourceBytes: { ...b.weights.sourceBytes, [url]: 123 } };
    await expect(fetchRemoteWeights(stale, { fetchFn })).rejects.toThrow(
      /the file changed; open the model again/,
    );
  });
});

describe('a model whose weights are inline in the graph (stories260k)', () => {
  it('is partitioned by the leader, which serves hashed blocks; they reproduce reference.json', async () => {
    const model = await loadHubModel(hub.url, STORIES, 'fp32', fetchFn);
    expect(model.weightsFrom).toBe('leader');
    const m = model.manifest;
    expect(m.blocks.every((b) => b.weights === null || !isRemoteWeights(b.weights))).toBe(true);
    for (const b of m.blocks) if (b.weights) expect(model.files.has(b.weights.file)).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-hub-'));
    await stageDir(model, dir, 0, m.blocks.length - 1);
    const ref = JSON.parse(readFileSync(path.join(SHARED, 'stories260k/reference.json'), 'utf8')) as {
      prompts: { prompt_ids: number[]; generated_ids: number[] }[];
    };
    const p = ref.prompts[0]!;
    const stages = [await openStage(dir, m, 0, 2), await openStage(dir, m, 3, m.blocks.length - 1)];
    expect(await greedy(stages, m, p.prompt_ids, 16)).toEqual(p.generated_ids.slice(0, 16));
    expect(model.tokenizer).not.toBeNull();
  });
});

describe('clear errors', () => {
  it('an unknown model id', async () => {
    await expect(loadHubModel(hub.url, 'onnx-community/no-such-model', 'q4', fetchFn)).rejects.toThrow(
      /no model onnx-community\/no-such-model on 127\.0\.0\.1:\d+ \(404\): check the id/,
    );
  });
  it('a dtype the repo does not have, listing the ones it has', async () => {
    await expect(loadHubModel(hub.url, STORIES, 'q4', fetchFn)).rejects.toThrow(
      'model onnx-community/stories260k has no onnx/model_q4.onnx; it provides: fp32',
    );
    await expect(loadHubModel(hub.url, LLAMA, 'fp32', fetchFn)).rejects.toThrow(/it provides: fp16$/);
  });
  it('something that is not a model id, and an unknown dtype', async () => {
    await expect(loadHubModel(hub.url, '../etc/passwd', 'q4', fetchFn)).rejects.toThrow(
      /not a Hugging Face model id/,
    );
    await expect(loadHubModel(hub.url, STORIES, 'fp64', fetchFn)).rejects.toThrow(
      /unknown dtype fp64: use one of fp32/,
    );
  });
  it('a hub that cannot be reached', async () => {
    await expect(loadHubModel('http://127.0.0.1:1', STORIES, 'fp32', fetchFn)).rejects.toThrow(
      /cannot reach http:\/\/127\.0\.0\.1:1/,
    );
  });
  it('a hub (or proxy) that ignores Range requests', async () => {
    const noRange = (url: string, init?: RequestInit) => fetch(url, { ...init, headers: {} });
    await expect(loadHubModel(hub.url, LLAMA, 'fp16', noRange)).rejects.toThrow(/ignored the Range request/);
  });
});
