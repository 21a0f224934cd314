import { describe, expect, it } from 'vitest';
import type { BlockEntry, BlockKind, IOSpec, Manifest, TensorRoute } from '../graph/manifest';
import { blockCostsOf, crossingBytesPerToken } from './from-manifest';

const ref = (file: string) => ({ file, sha256: '0'.repeat(64), bytes: 1 });

function block(index: number, kind: BlockKind): BlockEntry {
  return {
    index,
    kind,
    layer: kind === 'layer' ? index - 1 : null,
    graph: ref(`b${index}.onnx`),
    weights: null,
    params: 10 * (index + 1),
    weightBytes: 1000 * (index + 1),
    inputs: [],
    outputs: kind === 'epilogue' ? ['logits'] : [],
    cacheInputs: [],
    cacheOutputs: [],
    flopsPerToken: 7 * index,
    attentionFlopsPerContextToken: kind === 'layer' ? 3 : 0,
    kvBytesPerToken: kind === 'layer' ? 64 : 0,
    nodeCount: 5,
    streamedBytesPerToken: 1000 * (index + 1),
  };
}

const route = (name: string, elemType: number, producer: number, consumers: number[]): TensorRoute => ({
  name,
  elemType,
  dtype: null,
  producer,
  consumers,
});
const spec = (name: string, elemType: number, dims: (number | string)[]): IOSpec => ({
  name,
  elemType,
  dtype: null,
  dims,
});

const manifest: Manifest = {
  format: 'chorus-blocks/1',
  name: 'tiny',
  source: { file: 'model.onnx', bytes: 1 },
  irVersion: 8,
  opsets: [],
  numLayers: 2,
  config: { hidden_size: 16 },
  generationConfig: null,
  files: { tokenizer: null, tokenizerConfig: null },
  inputs: [
    spec('input_ids', 7, ['batch_size', 'sequence_length']),
    spec('attention_mask', 7, ['batch_size', 'total_sequence_length']),
  ],
  outputs: [spec('logits', 1, ['batch_size', 'sequence_length', 100])],
  tensors: [
    route('input_ids', 7, -1, [0]),
    route('attention_mask', 7, -1, [0, 1, 2]),
    route('h0', 1, 0, [1]),
    route('rope', 1, 0, [1, 2]),
    route('h1', 10, 1, [2]),
    route('h2', 1, 2, [3]),
  ],
  blocks: [block(0, 'prologue'), block(1, 'layer'), block(2, 'layer'), block(3, 'epilogue')],
  totals: { params: 0, weightBytes: 0, flopsPerToken: 0, kvBytesPerToken: 0 },
};

describe('crossing bytes from the manifest', () => {
  it('sums what each cut sends: known dims, context-sized masks, hidden-sized intermediates', () => {
    const est = crossingBytesPerToken(manifest, { contextLength: 10, bytesPerToken: { rope: 64 } });
    // after 0: mask 8·10 + h0 16·4 + rope 64; after 1: mask + h1 16·2 (fp16) + rope; after 2: h2.
    expect(est.crossingBytes).toEqual([80 + 64 + 64, 80 + 32 + 64, 64]);
    expect(est.inputBytes).toBe(8 + 80);
    expect(est.outputBytes).toBe(400); // vocab 100 × fp32
    expect(est.defaulted.sort()).toEqual(['h0', 'h1', 'h2']);
  });

  it('takes hidden_size from genai_config’s decoder section or the caller, and fails without one', () => {
    const genai = { ...manifest, config: { model: { decoder: { hidden_size: 8 } } } };
    expect(crossingBytesPerToken(genai, { contextLength: 0 }).crossingBytes[2]).toBe(32);
    expect(crossingBytesPerToken(manifest, { contextLength: 0, hiddenSize: 4 }).crossingBytes[2]).toBe(16);
    expect(() => crossingBytesPerToken({ ...manifest, config: null }, { contextLength: 0 })).toThrow(
      /hidden_size/,
    );
  });

  it('copies block costs', () => {
    expect(blockCostsOf(manifest)[1]).toEqual({
      flopsPerToken: 7,
      attentionFlopsPerContextToken: 3,
      weightBytes: 2000,
      kvBytesPerToken: 64,
    });
  });
});
