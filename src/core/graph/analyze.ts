/**
 * One pass over a decoder model's graph: index, partition, element types, input/output specs.
 * Everything later (emitting blocks, the manifest, placement) reads this instead of the protobuf.
 */
import { inferElemTypes } from './dtype-inference';
import { type GraphIndex, indexGraph } from './graph-index';
import { elemTypeToDType, type IOSpec } from './manifest';
import { decodeModel, type ModelProto, toNumber, type ValueInfoProto } from './onnx-proto';
import { type Partition, partitionGraph } from './partition';

export interface ModelAnalysis {
  readonly what: string;
  readonly model: ModelProto;
  readonly index: GraphIndex;
  readonly partition: Partition;
  readonly types: ReadonlyMap<string, number>;
  readonly inputs: readonly IOSpec[];
  readonly outputs: readonly IOSpec[];
}

export function ioSpec(v: ValueInfoProto, types: ReadonlyMap<string, number>): IOSpec {
  const elemType = v.type?.tensorType?.elemType || types.get(v.name ?? '') || 0;
  const dims = (v.type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? toNumber(d.dimValue) : '?',
  );
  return { name: v.name ?? '', elemType, dtype: elemTypeToDType(elemType), dims };
}

/** `what` names the file in every error (e.g. the path the user gave). */
export function analyzeModel(graphBytes: Uint8Array, what: string): ModelAnalysis {
  const model = decodeModel(graphBytes, what);
  const graph = model.graph!;
  const index = indexGraph(graph, what);
  const partition = partitionGraph(index, what);
  const types = inferElemTypes(index, [
    ...(graph.input ?? []),
    ...(graph.output ?? []),
    ...(graph.valueInfo ?? []),
  ]);
  const initNames = new Set(index.initializers.keys());
  const inputs = (graph.input ?? []).filter((v) => !initNames.has(v.name ?? '')).map((v) => ioSpec(v, types));
  const outputs = (graph.output ?? []).map((v) => ioSpec(v, types));
  return { what, model, index, partition, types, inputs, outputs };
}
