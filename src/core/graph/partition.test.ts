import { describe, expect, it } from 'vitest';
import { analyzeModel, type ModelAnalysis } from './analyze';
import { findCacheLayers } from './cache-tensors';
import { ElemType } from './onnx-proto';
import type { BlockPlan } from './partition';
import {
  buildDecoder,
  cacheNames,
  type DecoderOptions,
  GraphBuilder,
  int,
  seededRandom,
} from './test-graphs';

const analyze = (opts: DecoderOptions): ModelAnalysis =>
  analyzeModel(buildDecoder(opts).bytes(), 'decoder.onnx');
const nodeNames = (a: ModelAnalysis, b: BlockPlan) => b.nodes.map((i) => a.index.nodes[i]!.name!);
const sorted = (xs: readonly string[]) => [...xs].sort();

/** Structural checks any partition must pass, whatever the graph. */
function expectValidChain(a: ModelAnalysis): void {
  const g = a.index;
  const blocks = a.partition.blocks;
  const layers = findCacheLayers(g.graphInputs, g.graphOutputs, 'x');
  const cache = new Set(layers.flatMap((l) => [...l.inputs, ...l.outputs]));
  const dataInputs = g.graphInputs.filter((n) => !cache.has(n));
  blocks.forEach((b, k) => {
    expect(b.index).toBe(k);
    const earlier = new Set(blocks.slice(0, k).flatMap((e) => e.outputs));
    const own = b.layer === null ? [] : layers[b.layer]!.inputs;
    for (const name of b.inputs) {
      expect(
        dataInputs.includes(name) || own.includes(name) || earlier.has(name),
        `block ${k} reads ${name}`,
      ).toBe(true);
    }
    const later = new Set(blocks.slice(k + 1).flatMap((e) => e.inputs));
    for (const name of b.outputs) {
      expect(g.graphOutputs.includes(name) || later.has(name), `block ${k} gives ${name} to nobody`).toBe(
        true,
      );
    }
    // a block's nodes find every input inside the block, in its static copies, or among its inputs
    const have = new Set([...b.inputs, ...b.initializers]);
    for (const i of [...b.staticNodes, ...b.nodes].sort((x, y) => x - y)) {
      for (const name of g.nodeInputs[i]!) expect(have.has(name), `block ${k}: ${name} missing`).toBe(true);
      for (const o of g.nodeOutputs[i]!) have.add(o);
    }
    for (const o of b.outputs) expect(have.has(o)).toBe(true);
  });
  // every non-static node is computed exactly once; static nodes never are
  const placed = blocks.flatMap((b) => b.nodes);
  expect(new Set(placed).size).toBe(placed.length);
  expect(sorted(placed.map(String))).toEqual(
    sorted(g.nodes.flatMap((_, i) => (g.isStatic[i] ? [] : [String(i)]))),
  );
  // every graph output comes out of exactly one block
  for (const o of g.graphOutputs) expect(blocks.filter((b) => b.outputs.includes(o))).toHaveLength(1);
}

function expectLayerStructure(a: ModelAnalysis, opts: DecoderOptions): void {
  const L = opts.layers ?? 2;
  const blocks = a.partition.blocks;
  const pos = opts.positionIds ?? true;
  expect(a.partition.numLayers).toBe(L);
  expect(blocks.map((b) => [b.kind, b.layer])).toEqual([
    ['prologue', null],
    ...Array.from({ length: L }, (_, i) => ['layer', i]),
    ['epilogue', null],
  ]);
  const prologue = blocks[0]!;
  expect(sorted(nodeNames(a, prologue))).toEqual(
    pos ? ['embed', 'pos.cast', 'pos.cos', 'pos.sin'] : ['embed'],
  );
  expect(sorted(prologue.inputs)).toEqual(pos ? ['input_ids', 'position_ids'] : ['input_ids']);
  expect(sorted(prologue.outputs)).toEqual(pos ? ['cos', 'h0', 'sin'] : ['h0']);
  for (let i = 0; i < L; i++) {
    const b = blocks[i + 1]!;
    const { past, present } = cacheNames(opts, i);
    // all of layer i's nodes, its input norm and MLP included, and nothing else
    expect(
      nodeNames(a, b).filter((n) => !n.startsWith(`L${i}.`)),
      `foreign nodes in layer ${i}`,
    ).toEqual([]);
    const mine = a.index.nodes.filter((n, j) => !a.index.isStatic[j] && n.name!.startsWith(`L${i}.`));
    expect(nodeNames(a, b)).toHaveLength(mine.length);
    expect(sorted(b.inputs)).toEqual(sorted([`h${i}`, ...(pos ? ['cos', 'sin'] : []), ...past]));
    expect(sorted(b.outputs)).toEqual(sorted([`h${i + 1}`, ...present]));
    expect(b.cacheInputs).toEqual(past);
    expect(b.cacheOutputs).toEqual(present);
  }
  const epilogue = blocks.at(-1)!;
  expect(nodeNames(a, epilogue)).toContain('lm_head');
  expect(nodeNames(a, epilogue).every((n) => n === 'lm_head' || n.startsWith('final.norm.'))).toBe(true);
  expect(epilogue.inputs).toEqual([`h${L}`]);
  expect(epilogue.outputs).toEqual(['logits']);
  expect(prologue.cacheInputs.length + epilogue.cacheOutputs.length).toBe(0);
}

const VARIANTS: [string, DecoderOptions][] = [
  ['sequential residual, Optimum cache names, 3 layers', { layers: 3 }],
  ['parallel residual', { layers: 3, parallelResidual: true }],
  ['no position_ids', { layers: 2, positionIds: false }],
  ['stacked past_N / present_N', { layers: 3, cacheNaming: 'stacked', positionIds: false }],
  ['tied embedding', { layers: 3, tiedEmbedding: true }],
  ['one layer', { layers: 1, positionIds: false }],
  [
    'five layers, parallel, stacked, no positions',
    { layers: 5, parallelResidual: true, cacheNaming: 'stacked', positionIds: false },
  ],
];

describe.each(VARIANTS)('partition of a synthetic decoder: %s', (_, opts) => {
  it('is a valid chain of blocks', () => expectValidChain(analyze(opts)));
  it('is prologue, one block per layer holding that layer, epilogue holding the final norm and LM head', () =>
    expectLayerStructure(analyze(opts), opts));
});

describe('partition details', () => {
  const expectPositionsInPrologue = (layers: number) => {
    const a = analyze({ layers });
    const blocks = a.partition.blocks;
    const producers = blocks.filter((b) => nodeNames(a, b).some((n) => n.startsWith('pos.')));
    expect(producers.map((b) => b.kind)).toEqual(['prologue']);
    for (const t of ['cos', 'sin']) {
      expect(blocks[0]!.outputs).toContain(t);
      expect(blocks.filter((b) => b.inputs.includes(t)).map((b) => b.layer)).toEqual([
        ...Array(layers).keys(),
      ]);
    }
    expect(
      blocks.some((b) => b.inputs.includes('pos_f') || (b.inputs.includes('position_ids') && b.index > 0)),
    ).toBe(false);
  };

  it('computes the position values once, in the prologue, and sends them to every layer', () => {
    expectPositionsInPrologue(3);
    expectPositionsInPrologue(4);
  });

  // BUG (off by one in rule 3): "feeds layers beyond the first" is tested as `lo[c] >= 2`, but a
  // layer-1 node before its cache anchor has lo = 1 (block of layer 0). With 2 layers no consumer of
  // cos/sin has lo >= 2, so the min cut at boundary 0 prefers sending pos_f (1 tensor) over cos+sin
  // (2): layer 0's block computes the rotary tables and forwards them to layer 1 (routes: cos
  // producer 1, consumers [2]). Repro: analyzeModel(buildDecoder({ layers: 2 }).bytes(), 'm').
  it.fails('computes the position values in the prologue with two layers too', () =>
    expectPositionsInPrologue(2));

  it('on a tie, the prologue takes all it can: a one-tensor chain on positions read by one layer', () => {
    const g = new GraphBuilder().input('input_ids', ElemType.INT64).input('position_ids', ElemType.INT64);
    g.input('past_0').output('logits').output('present_0');
    g.init('embed', [8, 4]).node('Gather', ['embed', 'input_ids'], ['h0'], 'embed');
    g.node('Cast', ['position_ids'], ['p1'], 'cast', [int('to', ElemType.FLOAT)]);
    g.node('Neg', ['p1'], ['p2'], 'neg').node('Sin', ['p2'], ['p3'], 'sin');
    g.node('Concat', ['past_0', 'h0', 'p3'], ['present_0'], 'cache', [int('axis', -2)]);
    g.node('Relu', ['present_0'], ['logits'], 'head');
    const a = analyzeModel(g.bytes(), 'm');
    // sending p1 or p3 costs the same: the chain stays in the prologue
    expect(nodeNames(a, a.partition.blocks[0]!)).toEqual(['embed', 'cast', 'neg', 'sin']);
    expect(a.partition.blocks[1]!.inputs).toEqual(['past_0', 'h0', 'p3']);
  });

  it('with one layer, lets the layer compute cos and sin from the one tensor pos_f', () => {
    const a = analyze({ layers: 1 });
    const [prologue, layer] = a.partition.blocks;
    expect(sorted(prologue!.outputs)).toEqual(['h0', 'pos_f']);
    expect(nodeNames(a, layer!)).toEqual(expect.arrayContaining(['pos.cos', 'pos.sin']));
    expect(sorted(layer!.inputs)).toEqual(
      sorted(['h0', 'pos_f', 'past_key_values.0.key', 'past_key_values.0.value']),
    );
  });

  // QUESTIONABLE (tie-break): cos and sin are last read by the last layer, so at the boundary before it
  // they cost as much to send (h, cos, sin) as the last layer's pre-attention results, e.g. (h,
  // L2.ln1.out, L2.k.rot) when only keys are rotated, or (h, L2.q.rot, L2.kv) with a stacked cache.
  // On the tie the 100-per-matmul "weighted nodes stay" preference wins, and the last layer's input
  // norm, projections and rotation run in the previous layer's block (which then outputs them). With a
  // fused QKV projection the alternative is even strictly cheaper (h, qkv). Repros below: block 2
  // (layer 1) computes L2.ln1.*, L2.k, L2.k.rope* / L2.q, L2.k, L2.v, L2.kv.
  it.fails('keeps the last layer whole when only keys are rotated', () =>
    expectLayerStructure(analyze({ layers: 3, keyOnlyRotary: true }), { layers: 3 }));
  it.fails('keeps the last layer whole with a stacked cache and rotary positions', () =>
    expectLayerStructure(analyze({ layers: 3, cacheNaming: 'stacked' }), {
      layers: 3,
      cacheNaming: 'stacked',
    }));

  it('lists a tied embedding table as an initializer of both the prologue and the epilogue', () => {
    const blocks = analyze({ layers: 2, tiedEmbedding: true }).partition.blocks;
    expect(blocks.filter((b) => b.initializers.includes('embed')).map((b) => b.kind)).toEqual([
      'prologue',
      'epilogue',
    ]);
    expect(blocks.at(-1)!.initializers).not.toContain('lm_head.w');
    const untied = analyze({ layers: 2 }).partition.blocks;
    expect(untied.filter((b) => b.initializers.includes('embed')).map((b) => b.kind)).toEqual(['prologue']);
    expect(untied.at(-1)!.initializers).toContain('lm_head.w');
  });

  it('copies a Constant read by every layer into each block as a static node, never as a block input', () => {
    const a = analyze({ layers: 3, sharedConstant: true });
    const eps = a.index.nodes.findIndex((n) => n.name === 'eps');
    expect(a.index.isStatic[eps]).toBe(true);
    for (const b of a.partition.blocks) {
      expect(b.nodes).not.toContain(eps);
      expect(b.inputs).not.toContain('eps');
      expect(b.outputs).not.toContain('eps');
    }
    expect(a.partition.blocks.filter((b) => b.staticNodes.includes(eps)).map((b) => b.kind)).toEqual([
      'layer',
      'layer',
      'layer',
      'epilogue',
    ]);
  });

  it('gives a scalar initializer read by every layer to each block that reads it', () => {
    const a = analyze({ layers: 2, sharedConstant: false });
    expect(a.partition.blocks.filter((b) => b.initializers.includes('eps')).map((b) => b.index)).toEqual([
      1, 2, 3,
    ]);
    expect(a.partition.blocks.every((b) => b.staticNodes.length === 0)).toBe(true);
  });

  it('gives each block exactly the initializers its nodes read', () => {
    const a = analyze({ layers: 2 });
    for (const b of a.partition.blocks) {
      const read = new Set(
        [...b.nodes, ...b.staticNodes].flatMap((i) =>
          a.index.nodeInputs[i]!.filter((n) => a.index.initializers.has(n)),
        ),
      );
      expect(sorted(b.initializers)).toEqual(sorted([...read]));
    }
  });

  it('does not depend on the file order of nodes or on node names', () => {
    const opts: DecoderOptions = { layers: 3, parallelResidual: true };
    const byOutput = (a: ModelAnalysis) =>
      a.partition.blocks.map((b) => sorted(b.nodes.map((i) => a.index.nodeOutputs[i]!.join('+'))));
    const reference = byOutput(analyze(opts));
    const rand = seededRandom(5);
    for (let trial = 0; trial < 5; trial++) {
      const g = buildDecoder(opts);
      for (let i = g.nodes.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [g.nodes[i], g.nodes[j]] = [g.nodes[j]!, g.nodes[i]!];
      }
      for (const n of g.nodes) n.name = '';
      const a = analyzeModel(g.bytes(), 'shuffled.onnx');
      expectValidChain(a);
      expect(byOutput(a)).toEqual(reference);
    }
  });

  // Regression: weights behind static ops (QDQ's DequantizeLinear, a tied head's Transpose) used to
  // count as weightless, moving each layer's MLP into the next block.
  it("keeps each layer's MLP in its block when weights come through a static DequantizeLinear", () => {
    const g = buildDecoder({ layers: 2, positionIds: false });
    g.init('scale', []);
    for (const n of [...g.nodes]) {
      const w = n.input?.[1] ?? '';
      if (n.opType !== 'MatMul' || !g.initBytes.has(w)) continue;
      g.node('DequantizeLinear', [w, 'scale'], [`${w}.dq`], `dq:${w}`);
      n.input![1] = `${w}.dq`;
    }
    const a = analyzeModel(g.bytes(), 'qdq.onnx');
    expectValidChain(a); // passes: the chain itself is fine
    expectLayerStructure(a, { layers: 2, positionIds: false }); // fails: block of layer 1 starts with L0.ln2.*
  });

  // QUESTIONABLE: any graph output other than the caches is weighted like the logits (2 tensors). An
  // extra hidden-state output (h1, as with output_hidden_states) makes the cut avoid producing it in
  // layer 0's block: layer 0's MLP and h1 move into layer 1's block.
  it.fails('keeps the layer structure when a hidden state is also a graph output', () => {
    const g = buildDecoder({ layers: 2, positionIds: false });
    g.output('h1');
    const a = analyzeModel(g.bytes(), 'hidden.onnx');
    expectValidChain(a);
    expect(a.partition.blocks[1]!.outputs).toContain('h1');
  });

  // QUESTIONABLE: a graph output computed from initializers alone is static, so no block computes or
  // outputs it and it silently disappears from the sharded model (a graph input echoed as an output
  // disappears the same way).
  it.fails('gives a static graph output to some block', () => {
    const g = buildDecoder({ layers: 1 });
    g.node('Shape', ['embed'], ['embed_shape'], 'shape').output('embed_shape');
    const a = analyzeModel(g.bytes(), 'static-out.onnx');
    expect(a.partition.blocks.flatMap((b) => b.outputs)).toContain('embed_shape');
  });
});
