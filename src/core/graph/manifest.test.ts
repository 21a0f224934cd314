import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { elemTypeToDType, MANIFEST_FORMAT, type Manifest, ManifestError, parseManifest } from './manifest';
import { ElemType } from './onnx-proto';
import { buildDecoder, HIDDEN, type Sharded, shardInMemory } from './test-graphs';

describe('buildManifest on a sharded synthetic decoder', () => {
  let s: Sharded;
  let m: Manifest;
  beforeAll(async () => {
    s = await shardInMemory(buildDecoder({ layers: 3 }), { hidden_size: HIDDEN, model_type: 'llama' });
    m = s.manifest;
  });

  it('describes the model: format, layers, opsets, interface', () => {
    expect(m.format).toBe(MANIFEST_FORMAT);
    expect(m.numLayers).toBe(3);
    expect(m.irVersion).toBe(8);
    expect(m.opsets).toEqual([{ domain: '', version: 17 }]);
    expect(m.config).toEqual({ hidden_size: HIDDEN, model_type: 'llama' });
    expect(m.inputs.map((i) => i.name)).toEqual(s.analysis.inputs.map((i) => i.name));
    expect(m.outputs.map((o) => o.name)).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
      'present.2.key',
      'present.2.value',
    ]);
  });

  it('routes the position value from the prologue to every layer as one skip tensor', () => {
    const rope = m.tensors.filter((t) => t.name === 'cos' || t.name === 'sin');
    expect(rope).toEqual([
      { name: 'cos', elemType: ElemType.FLOAT, dtype: 'float32', producer: 0, consumers: [1, 2, 3] },
      { name: 'sin', elemType: ElemType.FLOAT, dtype: 'float32', producer: 0, consumers: [1, 2, 3] },
    ]);
  });

  it('routes the hidden state block to block, graph inputs from the leader, and no cache tensors', () => {
    const route = (name: string) => m.tensors.find((t) => t.name === name);
    expect(route('h0')).toMatchObject({ producer: 0, consumers: [1] });
    expect(route('h2')).toMatchObject({ producer: 2, consumers: [3] });
    expect(route('h3')).toMatchObject({ producer: 3, consumers: [4] });
    expect(route('input_ids')).toEqual({
      name: 'input_ids',
      elemType: ElemType.INT64,
      dtype: 'int64',
      producer: -1,
      consumers: [0],
    });
    expect(m.tensors.some((t) => /^(past|present)/.test(t.name))).toBe(false);
    // exactly the tensors some block reads, apart from its own cache
    const read = new Set(m.blocks.flatMap((b) => b.inputs.filter((i) => !b.cacheInputs.includes(i))));
    expect(m.tensors.map((t) => t.name).sort()).toEqual([...read].sort());
  });

  it('lists each block with its files, costs and attention FLOPs, and totals that add up', () => {
    expect(m.blocks.map((b) => [b.index, b.kind, b.layer])).toEqual([
      [0, 'prologue', null],
      [1, 'layer', 0],
      [2, 'layer', 1],
      [3, 'layer', 2],
      [4, 'epilogue', null],
    ]);
    for (const b of m.blocks) {
      expect(b.graph.file).toBe(`block-00${b.index}.onnx`);
      const graph = s.files.get(b.graph.file)!;
      expect(b.graph.sha256).toBe(createHash('sha256').update(graph).digest('hex'));
      expect(b.graph.bytes).toBe(graph.length);
      expect(b.weightBytes).toBe(s.files.get(`block-00${b.index}.weights`)!.length);
      expect(b.attentionFlopsPerContextToken).toBe(b.kind === 'layer' ? 4 * HIDDEN : 0);
    }
    const sum = (k: 'params' | 'weightBytes' | 'flopsPerToken' | 'kvBytesPerToken') =>
      m.blocks.reduce((a, b) => a + b[k], 0);
    expect(m.totals).toEqual({
      params: sum('params'),
      weightBytes: sum('weightBytes'),
      flopsPerToken: sum('flopsPerToken'),
      kvBytesPerToken: sum('kvBytesPerToken'),
    });
    expect(m.totals.kvBytesPerToken).toBe(3 * 2 * 2 * 8 * 4);
  });

  it('has no attention FLOPs without a config', async () => {
    const bare = await shardInMemory(buildDecoder({ layers: 1 }));
    expect(bare.manifest.blocks.map((b) => b.attentionFlopsPerContextToken)).toEqual([0, 0, 0]);
  });

  it('survives JSON and parseManifest unchanged', () => {
    const json = JSON.parse(JSON.stringify(m));
    expect(parseManifest(json)).toEqual(m);
  });
});

describe('parseManifest', () => {
  const hash = 'a'.repeat(64);
  const block = (index: number, extra: Record<string, unknown> = {}) => ({
    index,
    kind: 'layer',
    graph: { file: `block-${index}.onnx`, sha256: hash, bytes: 10 },
    weights: { file: `block-${index}.weights`, sha256: hash, bytes: 20 },
    inputs: ['h'],
    outputs: ['h2'],
    cacheInputs: [],
    cacheOutputs: [],
    ...extra,
  });
  const valid = (blocks: unknown[] = [block(0), block(1, { weights: null })]) => ({
    format: MANIFEST_FORMAT,
    blocks,
    tensors: [],
    inputs: [],
    outputs: [],
  });
  const rejects = (json: unknown, pattern: RegExp) => {
    expect(() => parseManifest(json, 'https://host/m/manifest.json')).toThrow(ManifestError);
    expect(() => parseManifest(json, 'https://host/m/manifest.json')).toThrow(pattern);
  };

  it('accepts a minimal valid manifest and returns it', () => {
    const json = valid();
    expect(parseManifest(json)).toBe(json);
  });

  it('rejects non-objects and other formats, naming the source', () => {
    rejects(null, /^https:\/\/host\/m\/manifest\.json: not a JSON object/);
    rejects('{}', /not a JSON object/);
    rejects(
      { ...valid(), format: 'chorus-blocks/2' },
      /format is chorus-blocks\/2, expected chorus-blocks\/1/,
    );
    rejects({ ...valid(), format: undefined }, /format is undefined/);
  });

  it('rejects missing or empty blocks and missing lists', () => {
    rejects({ ...valid(), blocks: [] }, /has no blocks/);
    rejects({ ...valid(), blocks: undefined }, /has no blocks/);
    rejects({ ...valid(), tensors: undefined }, /lacks tensors, inputs or outputs/);
    rejects({ ...valid(), outputs: {} }, /lacks tensors, inputs or outputs/);
  });

  it('rejects blocks out of order and malformed name lists', () => {
    rejects(valid([block(0), block(2)]), /block 1 has index 2/);
    rejects(valid([block(0, { inputs: ['h', 3] })]), /block 0\.inputs is not a list of names/);
    rejects(valid([block(0, { cacheOutputs: undefined })]), /block 0\.cacheOutputs is not a list of names/);
  });

  it('rejects bad file references: sha256, size, missing weights key', () => {
    const g = (ref: Record<string, unknown>) =>
      valid([block(0, { graph: { file: 'b.onnx', sha256: hash, bytes: 1, ...ref } })]);
    rejects(g({ sha256: 'A'.repeat(64) }), /block 0 has no valid graph file reference/);
    rejects(g({ sha256: 'a'.repeat(63) }), /no valid graph file reference/);
    rejects(g({ bytes: 1.5 }), /no valid graph file reference/);
    rejects(g({ file: 7 }), /no valid graph file reference/);
    rejects(
      valid([block(0, { weights: { file: 'w', sha256: 'xyz', bytes: 1 } })]),
      /block 0 has an invalid weights reference/,
    );
    rejects(valid([block(0, { weights: undefined })]), /invalid weights reference/);
  });

  it('rejects files outside the manifest’s folder', () => {
    const ref = { sha256: hash, bytes: 1 };
    rejects(
      valid([block(0, { graph: { file: '../secret.onnx', ...ref } })]),
      /file \.\.\/secret\.onnx is outside the folder/,
    );
    rejects(valid([block(0, { weights: { file: 'sub/../../w', ...ref } })]), /is outside the folder/);
    rejects(
      valid([block(0, { graph: { file: '/etc/passwd', ...ref } })]),
      /file \/etc\/passwd is outside the folder/,
    );
    expect(() =>
      parseManifest(valid([block(0, { graph: { file: 'sub/block.onnx', ...ref } })])),
    ).not.toThrow();
  });

  // Regression: a null block used to crash with a TypeError instead of a ManifestError.
  it('rejects a block that is not an object with a ManifestError', () => {
    rejects(valid([null]), /block 0/);
  });

  // block-fetch.ts resolves files with new URL(ref.file, base): an absolute URL would fetch elsewhere.
  it('rejects an absolute URL as a file', () => {
    rejects(
      valid([block(0, { graph: { file: 'https://elsewhere.example/x.onnx', sha256: hash, bytes: 1 } })]),
      /outside/,
    );
  });
});

describe('elemTypeToDType', () => {
  it('maps the element types Chorus carries and nothing else', () => {
    expect([1, 10, 7, 6, 3, 2, 9].map(elemTypeToDType)).toEqual([
      'float32',
      'float16',
      'int64',
      'int32',
      'int8',
      'uint8',
      'bool',
    ]);
    expect([0, 8, 11, 16].map(elemTypeToDType)).toEqual([null, null, null, null]);
  });
});
