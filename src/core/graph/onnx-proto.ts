/**
 * The ONNX protobuf schema, decoded and encoded by the maintained `onnx-proto` package (protobufjs static
 * code). Pure JavaScript: safe in the core, in Workers and in Node. int64 fields come back as `Long`
 * objects; `toNumber` turns them into numbers (every int64 we read — dims, offsets, attributes — fits in
 * 2^53).
 */

import type { onnx as ox } from 'onnx-proto';
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = ox.ModelProto;
export type GraphProto = ox.IGraphProto;
export type NodeProto = ox.INodeProto;
export type TensorProto = ox.ITensorProto;
export type ValueInfoProto = ox.IValueInfoProto;
export type AttributeProto = ox.IAttributeProto;
export type IModelProto = ox.IModelProto;

export interface LongLike {
  toNumber(): number;
}

export function toNumber(v: number | LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

/** Decodes an ONNX model; `what` names the file in the error a truncated or non-ONNX file gives. */
export function decodeModel(bytes: Uint8Array, what: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(
      `${what}: not a valid ONNX model (${(e as Error).message}); is the file truncated?`,
    );
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) {
    throw new ModelFormatError(`${what}: decodes as protobuf but holds no ONNX graph (no nodes)`);
  }
  return model;
}

export function encodeModel(model: ox.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** ONNX TensorProto.DataType codes we name; others are kept as numbers. */
export const ElemType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

const ELEM_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

export function elemTypeBytes(t: number): number {
  const b = ELEM_BYTES[t];
  if (b === undefined) throw new ModelFormatError(`unsupported ONNX element type ${t}`);
  return b;
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNumber(d));
}
