/**
 * Element types of every tensor in a graph. A block's inputs and outputs must be declared with their
 * element type; exporters rarely record it for intermediate tensors, so we propagate types through the
 * ops. Shapes are not needed (a block declares them as unknown) and are not inferred.
 */
import type { GraphIndex } from './graph-index';
import {
  attr,
  ElemType,
  ModelFormatError,
  type NodeProto,
  toNumber,
  type ValueInfoProto,
} from './onnx-proto';

type Rule = (inputTypes: (number | undefined)[], node: NodeProto, outputIndex: number) => number | undefined;

const first: Rule = (t) => t[0];
const int64: Rule = () => ElemType.INT64;
const bool: Rule = () => ElemType.BOOL;
const _float: Rule = () => ElemType.FLOAT;
const fromInput =
  (i: number): Rule =>
  (t) =>
    t[i];
/** Normalisations return their input type for the main output and float statistics for the others. */
const normalization: Rule = (t, _n, o) => (o === 0 || o === 3 ? t[0] : ElemType.FLOAT);

const RULES: Record<string, Rule> = {
  Shape: int64,
  Size: int64,
  NonZero: int64,
  ArgMax: int64,
  ArgMin: int64,
  Equal: bool,
  Less: bool,
  LessOrEqual: bool,
  Greater: bool,
  GreaterOrEqual: bool,
  And: bool,
  Or: bool,
  Xor: bool,
  Not: bool,
  IsNaN: bool,
  IsInf: bool,
  Cast: (_t, n) => toNumber(attr(n, 'to')?.i),
  CastLike: fromInput(1),
  Where: fromInput(1),
  Constant: (_t, n) => constantType(n),
  ConstantOfShape: (_t, n) => attr(n, 'value')?.t?.dataType ?? ElemType.FLOAT,
  TopK: (t, _n, o) => (o === 1 ? ElemType.INT64 : t[0]),
  DequantizeLinear: fromInput(1),
  QuantizeLinear: (t) => t[2] ?? ElemType.UINT8,
  DynamicQuantizeLinear: (_t, _n, o) => (o === 1 ? ElemType.FLOAT : ElemType.UINT8),
  MatMulInteger: () => ElemType.INT32,
  LayerNormalization: normalization,
  SimplifiedLayerNormalization: normalization,
  SkipLayerNormalization: normalization,
  SkipSimplifiedLayerNormalization: normalization,
  EmbedLayerNormalization: (t, _n, o) => (o === 1 ? ElemType.INT32 : t[2]),
};

function constantType(n: NodeProto): number | undefined {
  for (const a of n.attribute ?? []) {
    if (a.name === 'value' && a.t) return a.t.dataType ?? undefined;
    if (a.name === 'value_float' || a.name === 'value_floats') return ElemType.FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return ElemType.INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return ElemType.STRING;
  }
  return undefined;
}

function declaredType(v: ValueInfoProto): number | undefined {
  const t = v.type?.tensorType?.elemType;
  return t ? t : undefined;
}

/** Returns the element type of every tensor it could type; throws if one a block needs stays unknown. */
export function inferElemTypes(g: GraphIndex, valueInfos: readonly ValueInfoProto[]): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of valueInfos) {
    const t = declaredType(v);
    if (t && v.name) types.set(v.name, t);
  }
  for (const [name, t] of g.initializers) if (t.dataType) types.set(name, t.dataType);
  g.nodes.forEach((node, i) => {
    const inputTypes = (node.input ?? []).map((name) => (name ? types.get(name) : undefined));
    const rule = RULES[node.opType ?? ''] ?? first;
    (node.output ?? []).forEach((out, o) => {
      if (!out || types.has(out)) return;
      const t = rule(inputTypes, node, o);
      if (t) types.set(out, t);
    });
    void i;
  });
  return types;
}

export function requireType(types: ReadonlyMap<string, number>, name: string, what: string): number {
  const t = types.get(name);
  if (!t) throw new ModelFormatError(`${what}: cannot tell the element type of tensor ${name}`);
  return t;
}
