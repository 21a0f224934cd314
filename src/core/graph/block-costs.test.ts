import { describe, expect, it } from 'vitest';
import { analyzeModel } from './analyze';
import { blockCosts, hiddenSizeOf, weightFlops } from './block-costs';
import { indexGraph } from './graph-index';
import type { IOSpec } from './manifest';
import { ElemType } from './onnx-proto';
import {
  buildDecoder,
  type DecoderOptions,
  GraphBuilder,
  HEAD_DIM,
  HEADS,
  HIDDEN,
  int,
  VOCAB,
} from './test-graphs';

const spec = (name: string, elemType: number, dims: (number | string)[]): IOSpec => ({
  name,
  elemType,
  dtype: null,
  dims,
});

function matmulGraph() {
  const b = new GraphBuilder().input('x', ElemType.FLOAT, ['t', 48]).input('y', ElemType.FLOAT, ['t', 48]);
  b.init('w', [48, 20]).init('bias', [20]).init('wt', [20, 48]);
  b.node('MatMul', ['x', 'w'], ['xw'], 'mm'); // [K=48, N=20]
  b.node('Add', ['xw', 'bias'], ['xb'], 'add');
  b.node('MatMul', ['x', 'y'], ['xy'], 'mm_dyn'); // no weight: activations only
  b.node('MatMul', ['bias', 'xb'], ['bx'], 'mm_vec'); // a 1-D initializer is no matrix
  b.node('Gemm', ['xb', 'wt'], ['g'], 'gemm', [int('transB', 1)]);
  b.node('MatMul', ['w', 'xb'], ['wx'], 'mm_left'); // weight as the first operand
  return indexGraph(b.graph(), 'm');
}

/** MatMulNBits with K=64, N=32, 4-bit blocks of 32: B is packed as [N, K/32, 16] bytes. */
function nbitsGraph() {
  const b = new GraphBuilder().input('x', ElemType.FLOAT, ['t', 64]);
  b.init('B', [32, 2, 16], { dataType: ElemType.UINT8 })
    .init('scales', [64])
    .init('zp', [32], { dataType: ElemType.UINT8 })
    .init('ln', [32]);
  b.node('MatMulNBits', ['x', 'B', 'scales', 'zp'], ['y'], 'q', [
    int('K', 64),
    int('N', 32),
    int('bits', 4),
    int('block_size', 32),
  ]);
  b.node('Mul', ['y', 'ln'], ['z'], 'scale');
  return indexGraph(b.graph(), 'm');
}

describe('weightFlops', () => {
  const g = matmulGraph();
  const flops = (name: string) => weightFlops(g, g.nodes.find((n) => n.name === name)!);

  it('is 2·K·N for a MatMul with a [K, N] weight, whichever operand it is', () => {
    expect(flops('mm')).toBe(2 * 48 * 20);
    expect(flops('mm_left')).toBe(2 * 48 * 20);
    expect(flops('gemm')).toBe(2 * 20 * 48);
  });

  it('is 0 for matmuls without a matrix initializer and for elementwise ops', () => {
    expect(flops('mm_dyn')).toBe(0);
    expect(flops('mm_vec')).toBe(0);
    expect(flops('add')).toBe(0);
  });

  it('reads K and N of MatMulNBits from its attributes, not from the packed weight', () => {
    const q = nbitsGraph();
    expect(weightFlops(q, q.nodes[0]!)).toBe(2 * 64 * 32);
  });
});

describe('blockCosts', () => {
  it('counts parameters as elements of the initializers, FLOPs over the nodes given', () => {
    const g = matmulGraph();
    const idx = (...names: string[]) => names.map((n) => g.nodes.findIndex((x) => x.name === n));
    expect(blockCosts(g, idx('mm', 'add'), ['w', 'bias'], [])).toEqual({
      params: 48 * 20 + 20,
      flopsPerToken: 2 * 48 * 20,
      kvBytesPerToken: 0,
      streamedBytesPerToken: (48 * 20 + 20) * 4,
    });
    expect(blockCosts(g, idx('mm_dyn'), [], []).flopsPerToken).toBe(0);
  });

  it('counts a MatMulNBits weight as K·N parameters and not its scales or zero points', () => {
    const q = nbitsGraph();
    const c = blockCosts(q, [0, 1], ['B', 'scales', 'zp', 'ln'], []);
    expect(c.params).toBe(64 * 32 + 32);
    expect(c.flopsPerToken).toBe(2 * 64 * 32);
  });

  it('KV bytes per token: product of the fixed dims of each cache input times its element size', () => {
    const c = blockCosts(
      matmulGraph(),
      [],
      [],
      [
        spec('past.0.key', ElemType.FLOAT16, ['batch', 4, 'past', 64]),
        spec('past.0.value', ElemType.FLOAT, ['batch', 4, 'past', 64]),
        spec('past_1', ElemType.FLOAT, [2, 1, 4, 'past', 8]),
      ],
    );
    expect(c.kvBytesPerToken).toBe(4 * 64 * 2 + 4 * 64 * 4 + 2 * 4 * 8 * 4);
  });

  it('rejects a cache input of an element type it cannot size', () => {
    expect(() => blockCosts(matmulGraph(), [], [], [spec('past_0', ElemType.STRING, ['past', 4])])).toThrow(
      /unsupported ONNX element type 8/,
    );
  });
});

describe('costs of the blocks of a synthetic decoder', () => {
  const costsOf = (opts: DecoderOptions) => {
    const a = analyzeModel(buildDecoder(opts).bytes(), 'd.onnx');
    const specs = new Map(a.inputs.map((s) => [s.name, s]));
    return a.partition.blocks.map((b) =>
      blockCosts(
        a.index,
        b.nodes,
        b.initializers,
        b.cacheInputs.map((n) => specs.get(n)!),
      ),
    );
  };
  const matrix = HIDDEN * HIDDEN;

  it('layer: 6 matrices (q k v o, 2 MLP) and 2 norm weights; epilogue: LM head and final norm; prologue: the table', () => {
    const [pro, l0, l1, epi] = costsOf({ layers: 2 });
    // The embedding table is only gathered from: one decode step reads one row, not the table.
    expect(pro).toEqual({
      params: VOCAB * HIDDEN,
      flopsPerToken: 0,
      kvBytesPerToken: 0,
      streamedBytesPerToken: 0,
    });
    for (const l of [l0, l1]) {
      expect(l).toEqual({
        params: 6 * matrix + 2 * HIDDEN,
        flopsPerToken: 6 * 2 * matrix,
        kvBytesPerToken: 2 * HEADS * HEAD_DIM * 4,
        streamedBytesPerToken: (6 * matrix + 2 * HIDDEN) * 4,
      });
    }
    expect(epi).toEqual({
      params: HIDDEN * VOCAB + HIDDEN,
      flopsPerToken: 2 * HIDDEN * VOCAB,
      kvBytesPerToken: 0,
      streamedBytesPerToken: (HIDDEN * VOCAB + HIDDEN) * 4,
    });
  });

  it('stacked caches count key and value through the leading 2', () => {
    const [, l0] = costsOf({ layers: 1, cacheNaming: 'stacked' });
    expect(l0!.kvBytesPerToken).toBe(2 * HEADS * HEAD_DIM * 4);
  });

  it('a tied LM head costs its FLOPs in the epilogue and its table in both blocks', () => {
    const costs = costsOf({ layers: 1, tiedEmbedding: true });
    expect(costs[0]!.params).toBe(VOCAB * HIDDEN);
    expect(costs.at(-1)).toEqual({
      params: VOCAB * HIDDEN + HIDDEN,
      flopsPerToken: 2 * VOCAB * HIDDEN,
      kvBytesPerToken: 0,
      streamedBytesPerToken: (VOCAB * HIDDEN + HIDDEN) * 4,
    });
    expect(costs[0]!.streamedBytesPerToken).toBe(0);
  });
});

describe('hiddenSizeOf', () => {
  it('reads Llama, GPT-2 and genai configs', () => {
    expect(hiddenSizeOf({ hidden_size: 576, n_embd: 1 })).toBe(576);
    expect(hiddenSizeOf({ n_embd: 768 })).toBe(768);
    expect(hiddenSizeOf({ model: { decoder: { hidden_size: 2048 } } })).toBe(2048);
  });

  it('is null without a config or a numeric size', () => {
    expect(hiddenSizeOf(null)).toBeNull();
    expect(hiddenSizeOf({})).toBeNull();
    expect(hiddenSizeOf({ hidden_size: '576' })).toBeNull();
    expect(hiddenSizeOf({ model: { decoder: {} } })).toBeNull();
  });
});
