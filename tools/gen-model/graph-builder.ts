/**
 * A small ONNX graph builder over the project's `onnx-proto` objects, naming nodes and tensors the way
 * torch.onnx.export does (`/model/layers.3/self_attn/q_proj/MatMul`, `<node>_output_0`), so generated
 * graphs read like real exports in logs and manifests.
 */
import {
  type AttributeProto,
  ElemType,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from '../../src/core/graph/onnx-proto';
import type { WeightData } from './weights';

export type Dim = number | string;
type AttrValue = number | number[] | TensorProto;

export interface Weight {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly data: WeightData;
}

function attribute(name: string, v: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  // Numeric attributes in these graphs are all integers (axis, to, K, N, ...); float values travel
  // in Constant tensors instead.
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  return { name, type: T.TENSOR, t: v };
}

export function valueInfo(name: string, elemType: number, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export const int64s = (
  values: readonly number[],
  dims: readonly number[] = [values.length],
): TensorProto => ({
  dims: [...dims],
  dataType: ElemType.INT64,
  int64Data: [...values],
});
export const floats = (
  values: readonly number[],
  dims: readonly number[] = [values.length],
): TensorProto => ({
  dims: [...dims],
  dataType: ElemType.FLOAT,
  floatData: [...values],
});

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly weights: Weight[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Map<string, number>();

  /** `/scope/Op`, then `/scope/Op_1`, `/scope/Op_2`, ... as the exporter numbers repeats. */
  private nodeName(scope: string, opType: string): string {
    const base = `${scope}/${opType}`;
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  /** Adds a node; returns its first output (named `<node>_output_0` unless `outputs` names them). */
  op(
    scope: string,
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: readonly string[]; domain?: string; name?: string } = {},
  ): string {
    const name = opts.name ?? this.nodeName(scope, opType);
    const output = opts.outputs ? [...opts.outputs] : [`${name}_output_0`];
    this.nodes.push({
      name,
      opType,
      domain: opts.domain ?? '',
      input: [...inputs],
      output,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output[0]!;
  }

  constant(scope: string, t: TensorProto): string {
    return this.op(scope, 'Constant', [], { value: t });
  }

  weight(name: string, dims: readonly number[], data: WeightData, dataType: number = ElemType.FLOAT): string {
    this.weights.push({ name, dims, dataType, data });
    return name;
  }

  input(name: string, elemType: number, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }
}
