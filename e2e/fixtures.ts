/** Shared by the browser suites: the test models (by path, never copied) and their references. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { prepareModel } from '../tools/room/prepare-models';

export const SHARED_MODELS = path.resolve(import.meta.dirname, '../../shared/models');

export interface StoriesReference {
  prompts: { prompt: string; prompt_ids: number[]; generated_ids: number[] }[];
}

export function storiesReference(): StoriesReference {
  return JSON.parse(
    readFileSync(path.join(SHARED_MODELS, 'stories260k/reference.json'), 'utf8'),
  ) as StoriesReference;
}

export function thirdPartyReference(dir: string): {
  prompt_ids: number[];
  greedy_16_ids_with_kv_cache: number[];
} {
  return JSON.parse(readFileSync(path.join(SHARED_MODELS, 'third-party', dir, 'reference.json'), 'utf8'));
}

export async function testModels() {
  return Promise.all([
    prepareModel(path.join(SHARED_MODELS, 'stories260k')),
    prepareModel(path.join(SHARED_MODELS, 'third-party/tiny-random-LlamaForCausalLM-fp16')),
    prepareModel(path.join(SHARED_MODELS, 'third-party/tiny-random-gpt2-fp32/past.onnx')),
  ]);
}
