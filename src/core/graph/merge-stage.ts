/**
 * Merges a contiguous run of blocks into one stage model: what one phone runs. Only graphs are merged
 * (weights stay in the blocks' external-data files), so this takes milliseconds even for large models.
 */
import type { Manifest } from './manifest';
import {
  decodeModel,
  encodeModel,
  type IModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto';

export interface StageModel {
  /** The merged graph, encoded; initializers refer to the blocks' weights files by name. */
  readonly graph: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
  /** The weights files the graph's external data refers to (pass them to the runtime). */
  readonly weightFiles: readonly string[];
}

export function mergeStage(
  manifest: Manifest,
  first: number,
  last: number,
  blockGraphs: readonly Uint8Array[],
): StageModel {
  if (!(first >= 0 && last < manifest.blocks.length && first <= last)) {
    throw new RangeError(`block range ${first}..${last} is outside 0..${manifest.blocks.length - 1}`);
  }
  if (blockGraphs.length !== last - first + 1) {
    throw new RangeError(
      `blocks ${first}..${last} need ${last - first + 1} graphs, got ${blockGraphs.length}`,
    );
  }
  const entries = manifest.blocks.slice(first, last + 1);
  const graphOutputs = new Set(manifest.outputs.map((o) => o.name));
  const readers = new Map(manifest.tensors.map((t) => [t.name, t.consumers]));
  const models = blockGraphs.map((bytes, i) => decodeModel(bytes, `block ${first + i}`));

  const produced = new Set<string>();
  const nodes: NodeProto[] = [];
  const initializers = new Map<string, TensorProto>();
  const valueInfo = new Map<string, ValueInfoProto>();
  const inputs = new Map<string, ValueInfoProto>();
  const outputs = new Map<string, ValueInfoProto>();
  for (const m of models) {
    const g = m.graph!;
    for (const v of g.input ?? [])
      if (!produced.has(v.name ?? '') && !inputs.has(v.name ?? '')) inputs.set(v.name!, v);
    for (const n of g.node ?? []) {
      const outs = (n.output ?? []).filter((o) => o !== '');
      // Static nodes are copied into every block that reads them; keep the first copy.
      if (outs.length > 0 && outs.every((o) => produced.has(o))) continue;
      nodes.push(n);
      for (const o of outs) produced.add(o);
    }
    for (const t of g.initializer ?? []) if (!initializers.has(t.name ?? '')) initializers.set(t.name!, t);
    for (const v of g.valueInfo ?? []) valueInfo.set(v.name ?? '', v);
    for (const v of g.output ?? []) {
      const name = v.name ?? '';
      const laterReaders = (readers.get(name) ?? []).some((b) => b > last);
      if (graphOutputs.has(name) || laterReaders) outputs.set(name, v);
    }
  }
  const weightFiles = [...new Set(entries.flatMap((e) => (e.weights ? [e.weights.file] : [])))];
  const head = models[0]!;
  const merged: IModelProto = {
    irVersion: head.irVersion,
    opsetImport: head.opsetImport,
    producerName: 'chorus-stage',
    functions: head.functions,
    graph: {
      name: `stage.${first}-${last}`,
      node: nodes,
      initializer: [...initializers.values()],
      input: [...inputs.values()],
      output: [...outputs.values()],
      valueInfo: [...valueInfo.values()].filter(
        (v) => !inputs.has(v.name ?? '') && !outputs.has(v.name ?? ''),
      ),
    },
  };
  return {
    graph: encodeModel(merged),
    inputs: [...inputs.keys()],
    outputs: [...outputs.keys()],
    cacheInputs: entries.flatMap((e) => e.cacheInputs),
    cacheOutputs: entries.flatMap((e) => e.cacheOutputs),
    weightFiles,
  };
}
