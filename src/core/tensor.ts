/**
 * The core's own tensor type: plain typed arrays, no runtime library. Adapters convert to and from
 * onnxruntime tensors; the wire codec sends `data`'s bytes as they are (little-endian, as every
 * browser and Node platform we target is).
 */
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** float16 travels as its raw bits (Uint16Array); bool as one byte per element (Uint8Array). */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export type NamedTensors = Record<string, Tensor>;

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Builds a tensor of the given dtype over a copy of `bytes` (which need not be aligned). */
export function tensorFromBytes(dtype: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  const expected = elementCount(dims) * BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength !== expected) {
    throw new Error(`tensor of ${dtype}[${dims.join(',')}] needs ${expected} bytes, got ${bytes.byteLength}`);
  }
  const buf = bytes.slice().buffer;
  switch (dtype) {
    case 'float32':
      return { dtype, dims, data: new Float32Array(buf) };
    case 'float16':
      return { dtype, dims, data: new Uint16Array(buf) };
    case 'int64':
      return { dtype, dims, data: new BigInt64Array(buf) };
    case 'int32':
      return { dtype, dims, data: new Int32Array(buf) };
    case 'int8':
      return { dtype, dims, data: new Int8Array(buf) };
    case 'uint8':
    case 'bool':
      return { dtype, dims, data: new Uint8Array(buf) };
  }
}

export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
