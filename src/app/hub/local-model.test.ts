/**
 * A model folder opened from disk, as the leader's file picker hands it over (paths under one top
 * folder, Blobs): partitioned in memory, served from memory, and the blocks reproduce the model.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStage } from '../../../tools/shard/stage-files';
import { nextLogits } from '../../core/pipeline/local-pipeline';
import { stepInputs } from '../../core/pipeline/model-inputs';
import { fetchStageFiles } from '../block-fetch';
import { memoryFileSource } from '../delivery/peer-blocks';
import { openLocalModel } from './local-model';

const LLAMA = path.resolve(
  import.meta.dirname,
  '../../../../shared/models/third-party/tiny-random-LlamaForCausalLM-fp16',
);

function folder(dir: string, top: string, skip: (f: string) => boolean = () => false): Map<string, Blob> {
  return new Map(
    readdirSync(dir)
      .filter((f) => !skip(f))
      .map((f) => [`${top}/${f}`, new Blob([readFileSync(path.join(dir, f))])]),
  );
}

describe('openLocalModel', () => {
  it('partitions a folder with external data in memory; its blocks reproduce the reference tokens', async () => {
    const model = await openLocalModel(folder(LLAMA, 'tiny-llama'));
    const m = model.manifest;
    expect(m).toMatchObject({ name: 'tiny-llama', blockSource: 'leader', source: { file: 'model.onnx' } });
    for (const b of m.blocks) {
      expect(model.files.has(b.graph.file)).toBe(true);
      if (b.weights) expect(model.files.get(b.weights.file)!.length).toBe(b.weights.bytes);
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-local-'));
    const last = m.blocks.length - 1;
    const got = await fetchStageFiles('', m, 0, last, () => {}, { source: memoryFileSource(model.files) });
    m.blocks.forEach((b, i) => {
      writeFileSync(path.join(dir, b.graph.file), got.graphs[i]!);
      if (b.weights) writeFileSync(path.join(dir, b.weights.file), got.weights[b.weights.file]!);
    });
    const stages = [await openStage(dir, m, 0, 1), await openStage(dir, m, 2, last)];
    const ref = JSON.parse(readFileSync(path.join(LLAMA, 'reference.json'), 'utf8')) as {
      prompt_ids: number[];
      greedy_16_ids_with_kv_cache: number[];
    };
    const dataSpecs = m.inputs.filter((s) => !/^past/.test(s.name));
    const out: number[] = [];
    let ids = ref.prompt_ids;
    let seen = 0;
    for (let step = 0; out.length < 16; step++) {
      const row = await nextLogits(stages, 'r', step, stepInputs(dataSpecs, ids, seen));
      seen += ids.length;
      ids = [row.indexOf(Math.max(...row))];
      out.push(ids[0]!);
    }
    for (const s of stages) await s.close();
    expect(out).toEqual(ref.greedy_16_ids_with_kv_cache);
  });

  it('names a missing external-data file and an ambiguous folder', async () => {
    await expect(openLocalModel(folder(LLAMA, 'x', (f) => f === 'model.onnx.data'))).rejects.toThrow(
      /keeps weights in model.onnx.data, which is not in the folder/,
    );
    const two = folder(LLAMA, 'x');
    two.set('x/onnx/other.onnx', new Blob([new Uint8Array(4)]));
    two.set('x/onnx/model_q4.onnx', new Blob([new Uint8Array(4)]));
    two.delete('x/model.onnx');
    await expect(openLocalModel(two)).rejects.toThrow(/several graphs .*pick a dtype/);
    await expect(openLocalModel(folder(LLAMA, 'x'), { dtype: 'q8' })).rejects.toThrow(
      /no onnx\/model_quantized.onnx/,
    );
  });
});
