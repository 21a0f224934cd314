import { beforeAll, describe, expect, it } from 'vitest';
import { mergeStage } from './merge-stage';
import { decodeModel, ModelFormatError, onnx } from './onnx-proto';
import { buildDecoder, type DecoderOptions, type Sharded, shardInMemory } from './test-graphs';

const sorted = (xs: Iterable<string>) => [...xs].sort();

/** What a run of blocks a..b must read and give, from the manifest's block lists alone. */
function expectedInterface(s: Sharded, first: number, last: number) {
  const run = s.manifest.blocks.slice(first, last + 1);
  const made = new Set(run.flatMap((b) => b.outputs));
  const inputs = new Set(run.flatMap((b) => b.inputs).filter((n) => !made.has(n)));
  const laterReads = new Set(s.manifest.blocks.slice(last + 1).flatMap((b) => b.inputs));
  const graphOutputs = new Set(s.manifest.outputs.map((o) => o.name));
  const outputs = new Set([...made].filter((n) => graphOutputs.has(n) || laterReads.has(n)));
  return { run, inputs, outputs };
}

describe.each<[string, DecoderOptions]>([
  ['sequential, rope skip tensor, shared Constant', { layers: 3 }],
  [
    'parallel, stacked cache, tied embedding, external source data',
    { layers: 3, parallelResidual: true, cacheNaming: 'stacked', tiedEmbedding: true, external: true },
  ],
])('mergeStage of every run of blocks: %s', (_, opts) => {
  let s: Sharded;
  beforeAll(async () => {
    s = await shardInMemory(buildDecoder(opts));
  });
  const runs = () => {
    const n = s.manifest.blocks.length;
    const out: [number, number][] = [];
    for (let a = 0; a < n; a++) for (let b = a; b < n; b++) out.push([a, b]);
    return out;
  };

  it('reads what the run needs from outside and gives what later blocks or the leader need', () => {
    for (const [a, b] of runs()) {
      const stage = mergeStage(s.manifest, a, b, s.graphs.slice(a, b + 1));
      const want = expectedInterface(s, a, b);
      expect(sorted(stage.inputs), `${a}..${b} inputs`).toEqual(sorted(want.inputs));
      expect(sorted(stage.outputs), `${a}..${b} outputs`).toEqual(sorted(want.outputs));
      expect(stage.cacheInputs).toEqual(want.run.flatMap((e) => e.cacheInputs));
      expect(stage.cacheOutputs).toEqual(want.run.flatMap((e) => e.cacheOutputs));
      expect(stage.weightFiles).toEqual(want.run.flatMap((e) => (e.weights ? [e.weights.file] : [])));
      const graph = decodeModel(stage.graph, 'stage').graph!;
      expect(graph.input!.map((v) => v.name)).toEqual(stage.inputs);
      expect(graph.output!.map((v) => v.name)).toEqual(stage.outputs);
      for (const v of [...graph.input!, ...graph.output!])
        expect(v.type?.tensorType?.elemType).toBeGreaterThan(0);
    }
  });

  it('holds the union of the blocks’ nodes, static copies once, each node after its inputs', () => {
    for (const [a, b] of runs()) {
      const graph = decodeModel(mergeStage(s.manifest, a, b, s.graphs.slice(a, b + 1)).graph, 'stage').graph!;
      const blockNodes = s.graphs.slice(a, b + 1).flatMap((g) => decodeModel(g, 'b').graph!.node!);
      const byOutputs = (ns: typeof blockNodes) => sorted(new Set(ns.map((n) => n.output!.join('+'))));
      expect(byOutputs(graph.node!)).toEqual(byOutputs(blockNodes));
      const outs = graph.node!.flatMap((n) => n.output!);
      expect(new Set(outs).size, `${a}..${b}: a tensor is produced twice`).toBe(outs.length);
      const copies = blockNodes.filter((n) => n.opType === 'Constant').length;
      expect(graph.node!.filter((n) => n.opType === 'Constant')).toHaveLength(Math.min(copies, 1));
      const have = new Set([...graph.input!.map((v) => v.name!), ...graph.initializer!.map((t) => t.name!)]);
      for (const n of graph.node!) {
        for (const i of n.input!) if (i) expect(have.has(i), `${a}..${b}: ${n.name} reads ${i}`).toBe(true);
        for (const o of n.output!) have.add(o);
      }
      for (const o of graph.output!) expect(have.has(o.name!)).toBe(true);
    }
  });

  it('keeps each initializer once, pointing at its block’s weights file', () => {
    const n = s.manifest.blocks.length;
    const graph = decodeModel(mergeStage(s.manifest, 0, n - 1, s.graphs).graph, 'stage').graph!;
    const names = graph.initializer!.map((t) => t.name!);
    expect(new Set(names).size).toBe(names.length);
    expect(sorted(names)).toEqual(
      sorted(new Set(s.analysis.partition.blocks.flatMap((b) => b.initializers))),
    );
    for (const t of graph.initializer!) {
      if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const location = t.externalData!.find((e) => e.key === 'location')!.value!;
      expect(location).toMatch(/^block-\d{3}\.weights$/);
      expect(s.files.has(location)).toBe(true);
    }
  });

  it('merged whole, has the original model’s interface', () => {
    const n = s.manifest.blocks.length;
    const stage = mergeStage(s.manifest, 0, n - 1, s.graphs);
    expect(sorted(stage.inputs)).toEqual(sorted(s.analysis.inputs.map((i) => i.name)));
    expect(sorted(stage.outputs)).toEqual(sorted(s.analysis.outputs.map((o) => o.name)));
  });
});

describe('mergeStage arguments', () => {
  let s: Sharded;
  beforeAll(async () => {
    s = await shardInMemory(buildDecoder({ layers: 2 }));
  });

  it('throws RangeError for a range outside the blocks or reversed', () => {
    const n = s.manifest.blocks.length;
    expect(() => mergeStage(s.manifest, -1, 0, s.graphs.slice(0, 2))).toThrow(RangeError);
    expect(() => mergeStage(s.manifest, 0, n, [...s.graphs, s.graphs[0]!])).toThrow(RangeError);
    expect(() => mergeStage(s.manifest, 2, 1, [])).toThrow(/block range 2\.\.1 is outside 0\.\.3/);
    expect(() => mergeStage(s.manifest, Number.NaN, 1, s.graphs.slice(0, 2))).toThrow(RangeError);
  });

  it('throws RangeError when the number of graphs does not match the range', () => {
    expect(() => mergeStage(s.manifest, 1, 2, s.graphs.slice(1, 2))).toThrow(
      /blocks 1\.\.2 need 2 graphs, got 1/,
    );
    expect(() => mergeStage(s.manifest, 1, 2, s.graphs.slice(1, 2))).toThrow(RangeError);
    expect(() => mergeStage(s.manifest, 1, 1, s.graphs.slice(1, 3))).toThrow(RangeError);
  });

  it('names the block whose graph bytes are not a model', () => {
    const bad = [s.graphs[1]!, new Uint8Array([0xff, 0xff, 0xff])];
    expect(() => mergeStage(s.manifest, 1, 2, bad)).toThrow(ModelFormatError);
    expect(() => mergeStage(s.manifest, 1, 2, bad)).toThrow(/^block 2: /);
  });
});
