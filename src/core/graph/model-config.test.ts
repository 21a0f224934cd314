import { describe, expect, it } from 'vitest';
import { layerShapeOf } from '../cost/calibration-model';
import { crossingBytesPerToken } from '../placement/from-manifest';
import { hiddenSizeOf } from './block-costs';
import type { Manifest } from './manifest';
import { modelConfigOf, readModelConfig } from './model-config';

// Trimmed from real config.json / genai_config.json files.
const llama = {
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  max_position_embeddings: 8192,
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  vocab_size: 49152,
};
const gpt2 = {
  model_type: 'gpt2',
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};
const llama3Gqa = {
  hidden_size: 4096,
  intermediate_size: 14336,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_hidden_layers: 32,
  max_position_embeddings: 131072,
  vocab_size: 128256,
};
const genaiLlama = {
  model: {
    context_length: 2048,
    decoder: {
      head_size: 16,
      hidden_size: 16,
      num_attention_heads: 1,
      num_hidden_layers: 2,
      num_key_value_heads: 1,
    },
    type: 'llama',
    vocab_size: 32000,
  },
};
// hf-internal-testing/tiny-random-gpt2 as sharded: genai's flat GPT-2 `model` over config.json fields.
const genaiGpt2 = {
  model: {
    decoder: 'past.onnx',
    type: 'gpt2',
    vocab_size: 1000,
    hidden_size: 8,
    n_embd: 32,
    n_head: 4,
    n_layer: 5,
  },
  intermediate_size: 37,
  n_ctx: 512,
  n_positions: 512,
};

describe('readModelConfig', () => {
  it('reads a Llama config.json', () => {
    expect(readModelConfig(llama)).toEqual({
      hiddenSize: 576,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      kvDim: 192,
      intermediateSize: 1536,
      vocabSize: 49152,
      contextLength: 8192,
    });
  });

  it('reads a GPT-2 config.json: n_embd, n_layer, n_head, n_positions; the MLP 4 × n_embd when n_inner is null', () => {
    expect(readModelConfig(gpt2)).toEqual({
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 12,
      headDim: 64,
      kvDim: 768,
      intermediateSize: 3072,
      vocabSize: 50257,
      contextLength: 1024,
    });
    expect(readModelConfig({ ...gpt2, n_inner: 1000 })?.intermediateSize).toBe(1000);
  });

  it('sizes K/V by the kv heads under grouped-query attention', () => {
    const c = readModelConfig(llama3Gqa)!;
    expect([c.numHeads, c.numKvHeads, c.headDim, c.kvDim]).toEqual([32, 8, 128, 1024]);
    // A stated head_dim wins over hidden / heads (Gemma: 8 heads of 256 on a 2048-wide stream).
    const gemma = readModelConfig({
      hidden_size: 2048,
      num_attention_heads: 8,
      num_key_value_heads: 1,
      head_dim: 256,
    });
    expect(gemma?.kvDim).toBe(256);
  });

  it('reads genai_config.json: model.decoder, model.vocab_size, model.context_length', () => {
    expect(readModelConfig(genaiLlama)).toEqual({
      hiddenSize: 16,
      numLayers: 2,
      numHeads: 1,
      numKvHeads: 1,
      headDim: 16,
      kvDim: 16,
      intermediateSize: 64,
      vocabSize: 32000,
      contextLength: 2048,
    });
  });

  it('takes the width of genai’s flat GPT-2 layout from n_embd, not its hidden_size (the head size)', () => {
    const c = readModelConfig(genaiGpt2)!;
    expect([c.hiddenSize, c.numHeads, c.headDim, c.numLayers, c.vocabSize]).toEqual([32, 4, 8, 5, 1000]);
    // GPT-2 naming: intermediate_size is not a GPT-2 field; the real MLP is 4 × 32.
    expect(c.intermediateSize).toBe(128);
    expect(c.contextLength).toBe(512);
  });

  it('prefers config.json names to GPT-2 names to genai’s', () => {
    expect(readModelConfig({ hidden_size: 576, n_embd: 1 })?.hiddenSize).toBe(576);
    expect(readModelConfig({ n_embd: 64, model: { decoder: { hidden_size: 8 } } })?.hiddenSize).toBe(64);
    expect(readModelConfig({ hidden_size: 64, model: { n_embd: 8 } })?.hiddenSize).toBe(64);
    expect(readModelConfig({ ...llama, n_positions: 1 })?.contextLength).toBe(8192);
  });

  it('is null without a usable hidden size; other missing fields are null or derived', () => {
    expect(readModelConfig(null)).toBeNull();
    expect(readModelConfig({})).toBeNull();
    expect(readModelConfig({ hidden_size: '576' })).toBeNull();
    expect(readModelConfig({ hidden_size: 0, num_attention_heads: 8 })).toBeNull();
    expect(readModelConfig({ model: { decoder: {} } })).toBeNull();
    expect(readModelConfig({ model: { hidden_size: 8 } })).toBeNull(); // genai GPT-2's head size alone
    expect(readModelConfig({ hidden_size: 100 })).toEqual({
      hiddenSize: 100,
      numLayers: null,
      numHeads: null,
      numKvHeads: null,
      headDim: null,
      kvDim: 100,
      intermediateSize: 400,
      vocabSize: null,
      contextLength: null,
    });
    // Heads that do not divide the width, and no head_dim: the head size is unknown, K/V as wide as x.
    expect(readModelConfig({ hidden_size: 100, num_attention_heads: 3 })).toMatchObject({
      headDim: null,
      kvDim: 100,
    });
  });

  it('parses each config object once', () => {
    expect(readModelConfig(llama)).toBe(readModelConfig(llama));
    expect(modelConfigOf({ config: llama })).toBe(readModelConfig(llama));
    expect(modelConfigOf({ config: null })).toBeNull();
  });
});

describe('every reader agrees with readModelConfig', () => {
  it.each([
    ['llama', llama],
    ['gpt2', gpt2],
    ['gqa', llama3Gqa],
    ['genai llama', genaiLlama],
    ['genai gpt2', genaiGpt2],
  ])('%s', (_, config) => {
    const c = readModelConfig(config)!;
    expect(hiddenSizeOf(config)).toBe(c.hiddenSize);
    expect(layerShapeOf(config)).toEqual({
      hidden: c.hiddenSize,
      kvDim: c.kvDim,
      intermediate: c.intermediateSize,
    });
    const manifest = {
      config,
      inputs: [],
      outputs: [],
      tensors: [{ name: 'h', elemType: 1, dtype: 'float32', producer: 0, consumers: [1] }],
      blocks: [{ outputs: [] }, { outputs: [] }],
    } as unknown as Manifest;
    expect(crossingBytesPerToken(manifest, { contextLength: 1 }).crossingBytes).toEqual([4 * c.hiddenSize]);
  });

  it('and none has a shape without a hidden size', () => {
    expect(hiddenSizeOf({ n_head: 4 })).toBeNull();
    expect(layerShapeOf({ n_head: 4 })).toBeNull();
    const manifest = {
      config: { n_head: 4 },
      inputs: [],
      outputs: [],
      tensors: [{ name: 'h', elemType: 1, dtype: 'float32', producer: 0, consumers: [1] }],
      blocks: [{ outputs: [] }, { outputs: [] }],
    } as unknown as Manifest;
    expect(() => crossingBytesPerToken(manifest, { contextLength: 1 })).toThrow(/no hidden size.*n_embd/);
  });
});
