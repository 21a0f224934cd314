import { describe, expect, it } from 'vitest';
import { analyzeModel, type ModelAnalysis } from './analyze';
import { blockFileNames, type EmittedBlock, emitBlocks, type WeightSource } from './emit-blocks';
import { decodeModel, ElemType, ModelFormatError, onnx, type TensorProto } from './onnx-proto';
import { buildDecoder, type DecoderOptions, GraphBuilder, int } from './test-graphs';

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

interface MemorySource extends WeightSource {
  readonly calls: [string, number, number][];
}

function memorySource(files: Record<string, Uint8Array>): MemorySource {
  const calls: [string, number, number][] = [];
  return {
    calls,
    async read(location, offset, length) {
      calls.push([location, offset, length]);
      const file = files[location];
      if (!file) throw new Error(`no file ${location}`);
      return file.slice(offset, offset + length); // short when the file is
    },
  };
}

async function emitAll(a: ModelAnalysis, source: WeightSource): Promise<EmittedBlock[]> {
  const out: EmittedBlock[] = [];
  for await (const b of emitBlocks(a, source)) out.push(b);
  return out;
}

function shard(opts: DecoderOptions) {
  const g = buildDecoder(opts);
  const a = analyzeModel(g.bytes(), 'decoder.onnx');
  const source = memorySource({ [g.dataFile]: g.externalData() });
  return { g, a, source, blocks: emitAll(a, source) };
}

const refOf = (t: TensorProto) => Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));

/** Checks a block's initializers against the source bytes; returns the external byte ranges. */
function expectInitializers(b: EmittedBlock, original: ReadonlyMap<string, Uint8Array>): [number, number][] {
  const graph = decodeModel(b.graph, b.graphFile).graph!;
  const inits = graph.initializer ?? [];
  expect(inits.map((t) => t.name).sort()).toEqual([...b.plan.initializers].sort());
  const ranges: [number, number][] = [];
  for (const t of inits) {
    const want = original.get(t.name!)!;
    if (want.length < 1024) {
      expect(t.dataLocation, `${t.name} should stay inline`).not.toBe(EXTERNAL);
      expect(Uint8Array.from(t.rawData!)).toEqual(want);
      continue;
    }
    expect(t.dataLocation, `${t.name} should be external`).toBe(EXTERNAL);
    expect(t.rawData?.length ?? 0).toBe(0);
    const ref = refOf(t);
    expect(ref.location).toBe(b.weightsFile);
    const offset = Number(ref.offset);
    const length = Number(ref.length);
    expect(offset % 64, `${t.name} at ${offset}`).toBe(0);
    expect(length).toBe(want.length);
    expect(b.weights!.subarray(offset, offset + length)).toEqual(want);
    ranges.push([offset, offset + length]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  for (let k = 1; k < ranges.length; k++) expect(ranges[k]![0]).toBeGreaterThanOrEqual(ranges[k - 1]![1]);
  if (ranges.length === 0) {
    expect(b.weights).toBeNull();
    expect(b.weightsFile).toBeNull();
  } else expect(b.weights!.length).toBe(ranges.at(-1)![1]); // nothing after the last tensor
  return ranges;
}

describe('emitBlocks on a synthetic decoder', () => {
  it('writes one standalone graph per block, with the plan’s interface, typed', async () => {
    const { a, blocks } = shard({ layers: 2 });
    const emitted = await blocks;
    expect(emitted.map((b) => b.graphFile)).toEqual([
      'block-000.onnx',
      'block-001.onnx',
      'block-002.onnx',
      'block-003.onnx',
    ]);
    for (const b of emitted) {
      const graph = decodeModel(b.graph, b.graphFile).graph!;
      expect(graph.input!.map((v) => v.name)).toEqual(b.plan.inputs);
      expect(graph.output!.map((v) => v.name)).toEqual(b.plan.outputs);
      for (const v of [...graph.input!, ...graph.output!])
        expect(v.type?.tensorType?.elemType, v.name!).toBeGreaterThan(0);
      // self-contained and in topological order
      const have = new Set([...b.plan.inputs, ...graph.initializer!.map((t) => t.name!)]);
      for (const n of graph.node!) {
        for (const i of n.input!)
          if (i) expect(have.has(i), `${b.graphFile}: ${n.name} reads ${i}`).toBe(true);
        for (const o of n.output!) have.add(o);
      }
      expect(graph.node!.length).toBe(b.plan.nodes.length + b.plan.staticNodes.length);
      expect(decodeModel(b.graph, 'x').opsetImport).toEqual(a.model.opsetImport);
    }
    // the shared Constant travels as a node, not as an input
    expect(emitted[1]!.plan.inputs).not.toContain('eps');
    const l1 = decodeModel(emitted[2]!.graph, 'x').graph!;
    expect(l1.node!.filter((n) => n.opType === 'Constant').map((n) => n.output![0])).toEqual(['eps']);
  });

  it('externalizes initializers of 1 KB and more at 64-byte-aligned offsets, with their exact bytes', async () => {
    const { g, blocks, source } = shard({ layers: 2, tiedEmbedding: true });
    const emitted = await blocks;
    for (const b of emitted) expectInitializers(b, g.initBytes);
    expect(emitted.map((b) => b.weightsFile)).toEqual(
      emitted.map((b) => blockFileNames(b.plan.index).weights),
    );
    expect(source.calls).toEqual([]); // inline source data needs no reads
  });

  it('reads external source data by range and writes the same weights files as inline data', async () => {
    const inline = await shard({ layers: 2 }).blocks;
    const ext = shard({ layers: 2, external: true });
    const emitted = await ext.blocks;
    for (const [k, b] of emitted.entries()) {
      expectInitializers(b, ext.g.initBytes);
      expect(b.weights).toEqual(inline[k]!.weights);
      expect(b.costs).toEqual(inline[k]!.costs);
    }
    const external = ext.g.initializers.filter((t) => t.dataLocation === EXTERNAL);
    const declared = new Map(external.map((t) => [t.name!, refOf(t)]));
    expect(declared.size).toBe(14); // the embedding, 6 matrices per layer, the LM head
    expect(ext.source.calls.length).toBe(declared.size);
    for (const [location, offset, length] of ext.source.calls) {
      expect(location).toBe(ext.g.dataFile);
      expect(
        [...declared.values()].some((r) => Number(r.offset) === offset && Number(r.length) === length),
      ).toBe(true);
    }
  });

  it('rejects a truncated source data file, naming the file and the initializer', async () => {
    const g = buildDecoder({ layers: 1, external: true });
    const a = analyzeModel(g.bytes(), 'decoder.onnx');
    const data = g.externalData();
    const emitting = emitAll(a, memorySource({ [g.dataFile]: data.subarray(0, data.length - 10) }));
    await expect(emitting).rejects.toThrow(ModelFormatError);
    await expect(
      emitAll(a, memorySource({ [g.dataFile]: data.subarray(0, data.length - 10) })),
    ).rejects.toThrow(
      /model\.onnx\.data: initializer lm_head\.w needs bytes \d+\.\.\d+, got \d+; is the weights file truncated\?/,
    );
  });

  it('rejects an external initializer that names no location', async () => {
    const g = buildDecoder({ layers: 1, external: true });
    const t = g.initializers.find((x) => x.name === 'L0.wq')!;
    t.externalData = t.externalData!.filter((e) => e.key !== 'location');
    const a = analyzeModel(g.bytes(), 'decoder.onnx');
    await expect(emitAll(a, memorySource({ [g.dataFile]: g.externalData() }))).rejects.toThrow(
      /initializer L0\.wq is external but names no location/,
    );
  });

  it('sizes an external initializer from its dims when it gives no length, and reads offset 0 by default', async () => {
    const b = new GraphBuilder()
      .input('input_ids', ElemType.INT64)
      .input('past_0')
      .output('logits')
      .output('present_0');
    b.init('big', [300]); // 1200 bytes
    b.initializers[0] = {
      name: 'big',
      dims: [300],
      dataType: ElemType.FLOAT,
      dataLocation: EXTERNAL,
      externalData: [{ key: 'location', value: 'w.bin' }],
    };
    b.node('Gather', ['big', 'input_ids'], ['h0'], 'embed');
    b.node('Concat', ['past_0', 'h0'], ['present_0'], 'cache', [int('axis', 0)]);
    b.node('Relu', ['present_0'], ['logits'], 'head');
    const file = b.initBytes.get('big')!;
    const source = memorySource({ 'w.bin': file });
    const emitted = await emitAll(analyzeModel(b.bytes(), 'm.onnx'), source);
    expect(source.calls).toEqual([['w.bin', 0, 1200]]);
    expect(emitted[0]!.weights).toEqual(file);
  });

  it('keeps initializers under 1 KB inline, aligns uneven ones, and gives a block without large ones no file', async () => {
    const b = new GraphBuilder()
      .input('input_ids', ElemType.INT64)
      .input('past_0')
      .output('logits')
      .output('present_0');
    b.init('embed', [4, 4]); // 64 bytes: the prologue stays without a weights file
    const sizes: Record<string, number> = { a: 255, b: 256, c: 300, d: 257, e: 1 }; // floats: 1020, 1024, 1200, 1028, 4 bytes
    for (const [name, n] of Object.entries(sizes)) b.init(name, [n]);
    b.node('Gather', ['embed', 'input_ids'], ['h0'], 'embed');
    b.node('Concat', ['past_0', 'h0'], ['present_0'], 'cache', [int('axis', 0)]);
    let x = 'present_0';
    for (const name of Object.keys(sizes)) {
      b.node('Add', [x, name], [`${x}+${name}`], `add_${name}`);
      x = `${x}+${name}`;
    }
    b.node('Relu', [x], ['logits'], 'head');
    const emitted = await emitAll(analyzeModel(b.bytes(), 'm.onnx'), memorySource({}));
    // add_a reads the present cache, so it is the layer's; the rest of the tail joins the epilogue
    expect(emitted.map((e) => e.plan.initializers)).toEqual([['embed'], ['a'], ['b', 'c', 'd', 'e']]);
    for (const e of emitted) expectInitializers(e, b.initBytes);
    expect(emitted.map((e) => e.weightsFile)).toEqual([null, null, 'block-002.weights']);
    const ranges = expectInitializers(emitted[2]!, b.initBytes);
    expect(ranges).toEqual([
      [0, 1024],
      [1024, 2224],
      [2240, 3268],
    ]);
    expect(emitted[2]!.weights!.subarray(2224, 2240)).toEqual(new Uint8Array(16)); // zero padding
  });
});
