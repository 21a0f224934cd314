/**
 * Writes each block as a standalone ONNX model. Large initializers go to the block's own weights file
 * as ONNX external data, so a block's graph stays a few KB, a stage is merged from graphs alone, and
 * weights are fetched, hashed and cached as opaque byte ranges. Blocks are produced one at a time so a
 * large model never needs its whole weight file in memory.
 */
import type { ModelAnalysis } from './analyze';
import { type BlockCosts, blockCosts } from './block-costs';
import { requireType } from './dtype-inference';
import type { IOSpec } from './manifest';
import {
  elemTypeBytes,
  encodeModel,
  ModelFormatError,
  onnx,
  type TensorProto,
  tensorDims,
  type ValueInfoProto,
} from './onnx-proto';
import type { BlockPlan } from './partition';

/** Reads bytes of the source model's external data files (a file, an HTTP Range request, ...). */
export interface WeightSource {
  read(location: string, offset: number, length: number): Promise<Uint8Array>;
}

export interface EmittedBlock {
  readonly plan: BlockPlan;
  readonly graphFile: string;
  readonly graph: Uint8Array;
  readonly weightsFile: string | null;
  readonly weights: Uint8Array | null;
  readonly costs: BlockCosts;
}

/** Initializers smaller than this stay inside the block graph: not worth a range of their own. */
const INLINE_LIMIT = 1024;
const ALIGN = 64;

export function blockFileNames(index: number): { graph: string; weights: string } {
  const id = String(index).padStart(3, '0');
  return { graph: `block-${id}.onnx`, weights: `block-${id}.weights` };
}

/** Where an external initializer's bytes are: its data file (as the graph names it), offset and length. */
export function externalRef(t: TensorProto): { location: string; offset: number; length: number } {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new ModelFormatError(`initializer ${t.name} is external but names no location`);
  const length = kv.has('length')
    ? Number(kv.get('length'))
    : tensorDims(t).reduce((a, b) => a * b, 1) * elemTypeBytes(t.dataType ?? 0);
  return { location, offset: Number(kv.get('offset') ?? 0), length };
}

function typedValueInfo(
  name: string,
  a: ModelAnalysis,
  declared: ReadonlyMap<string, ValueInfoProto>,
): ValueInfoProto {
  return (
    declared.get(name) ?? { name, type: { tensorType: { elemType: requireType(a.types, name, a.what) } } }
  );
}

export async function* emitBlocks(a: ModelAnalysis, source: WeightSource): AsyncGenerator<EmittedBlock> {
  const graph = a.model.graph!;
  const declared = new Map<string, ValueInfoProto>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) declared.set(v.name ?? '', v);
  const specs = new Map<string, IOSpec>(a.inputs.map((s) => [s.name, s]));
  const valueInfo = new Map((graph.valueInfo ?? []).map((v) => [v.name ?? '', v]));

  for (const plan of a.partition.blocks) {
    const files = blockFileNames(plan.index);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const initializers: TensorProto[] = [];
    for (const name of plan.initializers) {
      const t = a.index.initializers.get(name)!;
      const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
      const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
      if (!external && (!raw || raw.length < INLINE_LIMIT)) {
        initializers.push(t);
        continue;
      }
      let bytes: Uint8Array;
      if (external) {
        const ref = externalRef(t);
        bytes = await source.read(ref.location, ref.offset, ref.length);
        if (bytes.length !== ref.length) {
          throw new ModelFormatError(
            `${ref.location}: initializer ${name} needs bytes ${ref.offset}..${ref.offset + ref.length}, ` +
              `got ${bytes.length}; is the weights file truncated?`,
          );
        }
      } else bytes = raw!;
      const pad = (ALIGN - (size % ALIGN)) % ALIGN;
      if (pad) chunks.push(new Uint8Array(pad));
      const offset = size + pad;
      chunks.push(bytes);
      size = offset + bytes.length;
      initializers.push({
        name,
        dims: t.dims,
        dataType: t.dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: files.weights },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ],
      });
    }
    let weights: Uint8Array | null = null;
    if (chunks.length > 0) {
      weights = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        weights.set(c, at);
        at += c.length;
      }
    }
    const order = [...plan.staticNodes, ...plan.nodes].sort((x, y) => x - y);
    const names = new Set(order.flatMap((i) => [...a.index.nodeInputs[i]!, ...a.index.nodeOutputs[i]!]));
    const model = encodeModel({
      irVersion: a.model.irVersion,
      opsetImport: a.model.opsetImport,
      producerName: 'chorus-shard',
      domain: a.model.domain,
      functions: a.model.functions,
      graph: {
        name: `${graph.name || 'model'}.block${plan.index}`,
        node: order.map((i) => a.index.nodes[i]!),
        initializer: initializers,
        input: plan.inputs.map((n) => typedValueInfo(n, a, declared)),
        output: plan.outputs.map((n) => typedValueInfo(n, a, declared)),
        valueInfo: [...names].filter((n) => valueInfo.has(n)).map((n) => valueInfo.get(n)!),
      },
    });
    const costs = blockCosts(
      a.index,
      plan.nodes,
      plan.initializers,
      plan.cacheInputs.map((n) => specs.get(n)!),
    );
    yield {
      plan,
      graphFile: files.graph,
      graph: model,
      weightsFile: weights ? files.weights : null,
      weights,
      costs,
    };
  }
}
