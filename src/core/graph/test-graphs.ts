/**
 * Test helper: builds tiny ONNX graphs and models as `onnx-proto` objects, and a synthetic L-layer
 * "decoder" whose structure (embedding, per-layer norm / cache / attention / MLP, LM head) is what the
 * partitioner looks for. The graphs are never executed; op types and attributes are plausible ONNX.
 */
import { createHash } from 'node:crypto';
import { analyzeModel, type ModelAnalysis } from './analyze';
import { buildManifest, type WrittenBlock } from './build-manifest';
import { emitBlocks } from './emit-blocks';
import type { Manifest } from './manifest';
import {
  type AttributeProto,
  ElemType,
  encodeModel,
  type GraphProto,
  type IModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto';

export type Dim = number | string;

export function valueInfo(name: string, elemType?: number, dims?: readonly Dim[]): ValueInfoProto {
  if (elemType === undefined) return { name };
  const shape = dims
    ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
    : null;
  return { name, type: { tensorType: { elemType, shape } } };
}

/** Deterministic bytes that differ from tensor to tensor, so a misplaced range shows. */
export function patternBytes(name: string, length: number): Uint8Array {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    h = Math.imul(h ^ i, 16777619) >>> 0;
    out[i] = h & 255;
  }
  return out;
}

export const ints = (name: string, values: number[]): AttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: values,
});
export const int = (name: string, i: number): AttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INT,
  i,
});
export const tensorAttr = (name: string, t: TensorProto): AttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.TENSOR,
  t,
});

const ELEM_SIZE: Record<number, number> = { 1: 4, 2: 1, 6: 4, 7: 8, 9: 1, 10: 2 };

export interface InitOptions {
  dataType?: number;
  /** Store the bytes in the builder's external data file instead of rawData. */
  external?: boolean;
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  readonly valueInfo: ValueInfoProto[] = [];
  /** Name of the external data file external initializers point into. */
  readonly dataFile = 'model.onnx.data';
  /** The original bytes of every initializer, by name. */
  readonly initBytes = new Map<string, Uint8Array>();
  private data: Uint8Array[] = [];
  private dataSize = 0;

  input(name: string, elemType: number = ElemType.FLOAT, dims: readonly Dim[] = []): this {
    this.inputs.push(valueInfo(name, elemType, dims));
    return this;
  }

  output(name: string, elemType?: number, dims?: readonly Dim[]): this {
    this.outputs.push(valueInfo(name, elemType, dims));
    return this;
  }

  init(name: string, dims: readonly number[], opts: InitOptions = {}): this {
    const dataType = opts.dataType ?? ElemType.FLOAT;
    const bytes = patternBytes(name, dims.reduce((a, b) => a * b, 1) * ELEM_SIZE[dataType]!);
    this.initBytes.set(name, bytes);
    if (!opts.external) {
      this.initializers.push({ name, dims: [...dims], dataType, rawData: bytes });
      return this;
    }
    // An odd gap before each tensor, so the source offsets are not aligned like the blocks' are.
    const offset = this.dataSize + 3;
    this.data.push(new Uint8Array(3), bytes);
    this.dataSize = offset + bytes.length;
    this.initializers.push({
      name,
      dims: [...dims],
      dataType,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.dataFile },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ],
    });
    return this;
  }

  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    name?: string,
    attribute: AttributeProto[] = [],
  ): this {
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: name ?? outputs[0] ?? opType,
      attribute,
    });
    return this;
  }

  graph(): GraphProto {
    return {
      name: 'test',
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
      valueInfo: this.valueInfo,
    };
  }

  model(): IModelProto {
    return { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: this.graph() };
  }

  bytes(): Uint8Array {
    return encodeModel(this.model());
  }

  /** The external data file's bytes. */
  externalData(): Uint8Array {
    const out = new Uint8Array(this.dataSize);
    let at = 0;
    for (const c of this.data) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export interface DecoderOptions {
  layers?: number;
  /** 'kv': past_key_values.i.key/value → present.i.key/value; 'stacked': past_i → present_i. */
  cacheNaming?: 'kv' | 'stacked';
  /** position_ids input; cos and sin of Cast(position_ids) are read by every layer (rotary-like). */
  positionIds?: boolean;
  /** Rotate only the keys by cos/sin (real rotary embeddings rotate queries and keys). */
  keyOnlyRotary?: boolean;
  /** Attention and MLP both read the layer's input norm; their sum joins the residual stream. */
  parallelResidual?: boolean;
  /** The LM head is Gemm(hidden, embed, transB=1) on the embedding table. */
  tiedEmbedding?: boolean;
  /** The norms' epsilon is one Constant node read by every layer (else a scalar initializer). */
  sharedConstant?: boolean;
  /** Large initializers live in an external data file. */
  external?: boolean;
}

export const HIDDEN = 16;
export const VOCAB = 32;
export const HEADS = 2;
export const HEAD_DIM = 8;

export function cacheNames(opts: DecoderOptions, i: number): { past: string[]; present: string[] } {
  return opts.cacheNaming === 'stacked'
    ? { past: [`past_${i}`], present: [`present_${i}`] }
    : {
        past: [`past_key_values.${i}.key`, `past_key_values.${i}.value`],
        present: [`present.${i}.key`, `present.${i}.value`],
      };
}

/**
 * Node names: `embed`, `pos.*` (prologue work), `L<i>.*` (layer i), `final.*` and `lm_head`.
 * Hidden states are `h0` .. `h<L>`.
 */
export function buildDecoder(opts: DecoderOptions = {}): GraphBuilder {
  const L = opts.layers ?? 2;
  const pos = opts.positionIds ?? true;
  const ext = { external: opts.external ?? false };
  const g = new GraphBuilder();
  g.input('input_ids', ElemType.INT64, ['batch', 'seq']);
  if (pos) g.input('position_ids', ElemType.INT64, ['batch', 'seq']);
  for (let i = 0; i < L; i++) {
    for (const p of cacheNames(opts, i).past) {
      const dims =
        opts.cacheNaming === 'stacked'
          ? [2, 'batch', HEADS, 'past', HEAD_DIM]
          : ['batch', HEADS, 'past', HEAD_DIM];
      g.input(p, ElemType.FLOAT, dims);
    }
  }
  g.output('logits', ElemType.FLOAT, ['batch', 'seq', VOCAB]);
  g.init('embed', [VOCAB, HIDDEN], ext);
  if (opts.sharedConstant ?? true) {
    g.node('Constant', [], ['eps'], 'eps', [
      tensorAttr('value', { dims: [], dataType: ElemType.FLOAT, floatData: [1e-5] }),
    ]);
  } else g.init('eps', []);
  g.node('Gather', ['embed', 'input_ids'], ['h0'], 'embed');
  if (pos) {
    g.node('Cast', ['position_ids'], ['pos_f'], 'pos.cast', [int('to', ElemType.FLOAT)]);
    g.node('Cos', ['pos_f'], ['cos'], 'pos.cos');
    g.node('Sin', ['pos_f'], ['sin'], 'pos.sin');
  }
  const norm = (x: string, p: string): string => {
    g.init(`${p}.w`, [HIDDEN]);
    g.node('Mul', [x, x], [`${p}.sq`], `${p}.sq`);
    g.node('ReduceMean', [`${p}.sq`], [`${p}.ms`], `${p}.ms`, [ints('axes', [-1])]);
    g.node('Add', [`${p}.ms`, 'eps'], [`${p}.mse`], `${p}.mse`);
    g.node('Sqrt', [`${p}.mse`], [`${p}.rms`], `${p}.rms`);
    g.node('Div', [x, `${p}.rms`], [`${p}.xn`], `${p}.xn`);
    g.node('Mul', [`${p}.xn`, `${p}.w`], [`${p}.out`], `${p}.out`);
    return `${p}.out`;
  };
  const matmul = (x: string, w: string, out: string, k = HIDDEN, n = HIDDEN) => {
    g.init(w, [k, n], ext);
    g.node('MatMul', [x, w], [out], out);
  };
  for (let i = 0; i < L; i++) {
    const p = `L${i}`;
    const h = `h${i}`;
    const n1 = norm(h, `${p}.ln1`);
    matmul(n1, `${p}.wq`, `${p}.q`);
    matmul(n1, `${p}.wk`, `${p}.k`);
    matmul(n1, `${p}.wv`, `${p}.v`);
    const rotate = (x: string): string => {
      if (!pos) return x;
      g.node('Mul', [x, 'cos'], [`${x}.cos`], `${x}.rope_cos`);
      g.node('Mul', [x, 'sin'], [`${x}.sin`], `${x}.rope_sin`);
      g.node('Add', [`${x}.cos`, `${x}.sin`], [`${x}.rot`], `${x}.rope`);
      return `${x}.rot`;
    };
    const k = rotate(`${p}.k`);
    const q = opts.keyOnlyRotary ? `${p}.q` : rotate(`${p}.q`);
    const { past, present } = cacheNames(opts, i);
    let scoreInputs: string[];
    if (opts.cacheNaming === 'stacked') {
      g.node('Concat', [k, `${p}.v`], [`${p}.kv`], `${p}.kv`, [int('axis', 0)]);
      g.node('Concat', [past[0]!, `${p}.kv`], [present[0]!], `${p}.cache`, [int('axis', -2)]);
      scoreInputs = [present[0]!, present[0]!];
    } else {
      g.node('Concat', [past[0]!, k], [present[0]!], `${p}.cache_k`, [int('axis', -2)]);
      g.node('Concat', [past[1]!, `${p}.v`], [present[1]!], `${p}.cache_v`, [int('axis', -2)]);
      scoreInputs = [present[0]!, present[1]!];
    }
    g.node('ReduceSum', [scoreInputs[0]!], [`${p}.ks`], `${p}.ks`);
    g.node('ReduceSum', [scoreInputs[1]!], [`${p}.vs`], `${p}.vs`);
    g.node('Mul', [q, `${p}.ks`], [`${p}.s`], `${p}.s`);
    g.node('Mul', [`${p}.s`, `${p}.vs`], [`${p}.a`], `${p}.a`);
    matmul(`${p}.a`, `${p}.wo`, `${p}.o`);
    const mlp = (x: string) => {
      matmul(x, `${p}.w1`, `${p}.m1`);
      g.node('Relu', [`${p}.m1`], [`${p}.r`], `${p}.relu`);
      matmul(`${p}.r`, `${p}.w2`, `${p}.m2`);
    };
    if (opts.parallelResidual) {
      mlp(n1);
      g.node('Add', [`${p}.o`, `${p}.m2`], [`${p}.ao`], `${p}.ao`);
      g.node('Add', [h, `${p}.ao`], [`h${i + 1}`], `${p}.residual`);
    } else {
      g.node('Add', [h, `${p}.o`], [`${p}.mid`], `${p}.residual1`);
      mlp(norm(`${p}.mid`, `${p}.ln2`));
      g.node('Add', [`${p}.mid`, `${p}.m2`], [`h${i + 1}`], `${p}.residual2`);
    }
    for (const name of present) {
      const dims =
        opts.cacheNaming === 'stacked'
          ? [2, 'batch', HEADS, 'total', HEAD_DIM]
          : ['batch', HEADS, 'total', HEAD_DIM];
      g.output(name, ElemType.FLOAT, dims);
    }
  }
  const nf = norm(`h${L}`, 'final.norm');
  if (opts.tiedEmbedding) g.node('Gemm', [nf, 'embed'], ['logits'], 'lm_head', [int('transB', 1)]);
  else matmul(nf, 'lm_head.w', 'logits', HIDDEN, VOCAB);
  const lm = g.nodes.at(-1)!;
  lm.name = 'lm_head';
  return g;
}

/** mulberry32: a small seeded PRNG, so random tests are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Sharded {
  readonly analysis: ModelAnalysis;
  readonly manifest: Manifest;
  /** Block graphs and weights files by file name. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly graphs: readonly Uint8Array[];
}

/** Shards a builder's model in memory, as tools/shard does on disk. */
export async function shardInMemory(
  g: GraphBuilder,
  config: Record<string, unknown> | null = null,
): Promise<Sharded> {
  const bytes = g.bytes();
  const analysis = analyzeModel(bytes, 'model.onnx');
  const data = g.externalData();
  const source = {
    read: async (_: string, offset: number, length: number) => data.slice(offset, offset + length),
  };
  const files = new Map<string, Uint8Array>();
  const ref = (file: string, content: Uint8Array) => {
    files.set(file, content);
    return { file, sha256: createHash('sha256').update(content).digest('hex'), bytes: content.length };
  };
  const written: WrittenBlock[] = [];
  const graphs: Uint8Array[] = [];
  for await (const b of emitBlocks(analysis, source)) {
    const { graph, weights, ...block } = b;
    graphs.push(graph);
    written.push({ block, graph: ref(b.graphFile, graph), weights: weights && ref(b.weightsFile!, weights) });
  }
  const manifest = buildManifest(analysis, written, {
    name: 'tiny',
    source: { file: 'model.onnx', bytes: bytes.length },
    config,
    generationConfig: null,
    tokenizer: null,
    tokenizerConfig: null,
  });
  return { analysis, manifest, files, graphs };
}
