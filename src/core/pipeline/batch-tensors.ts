/**
 * Stacking several sequences' one-token steps into one batched run, and taking the batch apart again.
 *
 * Sequences in flight have different lengths, so a tensor that spans the sequence (its KV cache, its
 * attention mask) is left-padded to the longest: caches with zeros, masks with "not attended" (0 /
 * false, or the float type's lowest value in an additive mask), which the graph's own masking then
 * ignores. Nothing here knows a model: a tensor's length axis is found where the rows disagree, and must
 * grow one for one with the row's past length. Any other float tensor that spans the sequence can't be
 * padded safely, so such a stage runs its sequences one after another instead.
 *
 * Outputs' length axes cannot be seen from one batched run (a fixed dim, e.g. a head size of 32, may
 * equal a length by chance), so `LengthAxes` learns them from the stage's own single-sequence steps.
 */
import { type DType, elementCount, type Tensor, type TensorData } from '../tensor';

/** An axis whose size is the row's past length plus `offset` (0 for a past cache, 1 for a mask). */
export interface LengthAxis {
  readonly axis: number;
  readonly offset: number;
}

function allocate(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

/** Elements in one step along `axis`, i.e. the product of the dims after it. */
function strideOf(dims: readonly number[], axis: number): number {
  return elementCount(dims.slice(axis + 1));
}

/**
 * Copies `src` into `dst` with its `axis` placed at `at` within `dst`'s (larger or equal) size there;
 * every other dim must match. With at = 0 and equal dims this is a plain copy.
 */
function place(src: Tensor, dst: TensorData, dstDims: readonly number[], axis: number, at: number): void {
  const outer = elementCount(src.dims.slice(0, axis));
  const inner = strideOf(src.dims, axis) * src.dims[axis]!;
  const dstInner = strideOf(dstDims, axis) * dstDims[axis]!;
  const offset = at * strideOf(dstDims, axis);
  const data = src.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> };
  const target = dst as unknown as { set(a: ArrayLike<number | bigint>, at: number): void };
  for (let o = 0; o < outer; o++)
    target.set(data.subarray(o * inner, (o + 1) * inner), o * dstInner + offset);
}

/** Below this every entry of an additive mask counts as "not attended" (models use the type's lowest). */
const MASKED = -1e4;
const LOWEST_HALF = 0xfbff; // −65504, float16's lowest finite value

/**
 * What pads a float tensor that spans the sequence: nothing for a KV cache (zeros, masked anyway), and
 * the lowest value for an additive attention mask (every entry 0 or hugely negative). Null otherwise.
 */
function floatPad(t: Tensor, isCache: boolean): number | null {
  if (isCache) return 0;
  if (t.dtype === 'float32') {
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0 && !(d[i]! <= MASKED)) return null;
    return -3.4028234663852886e38;
  }
  // float16 travels as raw bits: 0 is +0 or −0, "masked" a negative number at or below −1e4 (0xf0e2).
  const d = t.data as Uint16Array;
  for (let i = 0; i < d.length; i++)
    if ((d[i]! & 0x7fff) !== 0 && !(d[i]! >= 0xf0e2 && d[i]! <= 0xfc00)) return null;
  return LOWEST_HALF;
}

/**
 * Stacks one tensor of every row ([1, …] each) into [rows, …], left-padding the one axis where the rows
 * differ. Returns a reason instead when the rows can't be stacked that way. `isCache`: a KV cache.
 */
export function stackRows(
  name: string,
  rows: readonly Tensor[],
  pasts: readonly number[],
  isCache: boolean,
): Tensor | string {
  const first = rows[0]!;
  let lengthAxis: LengthAxis | null = null;
  for (const t of rows) {
    if (t.dtype !== first.dtype || t.dims.length !== first.dims.length) return `${name}: rows differ in type`;
    if (t.dims[0] !== 1) return `${name}: a row is already a batch of ${t.dims[0]}`;
  }
  for (let axis = 1; axis < first.dims.length; axis++) {
    if (rows.every((t) => t.dims[axis] === first.dims[axis])) continue;
    const offset = first.dims[axis]! - pasts[0]!;
    if (lengthAxis || !rows.every((t, i) => t.dims[axis]! - pasts[i]! === offset))
      return `${name}: rows differ along axis ${axis}, which is not their length`;
    lengthAxis = { axis, offset };
  }
  let pad = 0;
  if (lengthAxis && first.dtype.startsWith('float')) {
    const pads = rows.map((t) => floatPad(t, isCache));
    if (pads.some((p) => p === null))
      return `${name}: a ${first.dtype} tensor spans the sequence and is neither a cache nor a mask`;
    pad = pads[0]!;
  }
  const axis = lengthAxis?.axis ?? 0;
  const padded = lengthAxis ? Math.max(...pasts) + lengthAxis.offset : 1;
  const rowDims = first.dims.map((d, a) => (a === axis && lengthAxis ? padded : d));
  const rowSize = elementCount(rowDims);
  const data = allocate(first.dtype, rowSize * rows.length);
  if (pad !== 0) (data as Float32Array | Uint16Array).fill(pad);
  rows.forEach((t, i) => {
    const row = data.subarray(i * rowSize, (i + 1) * rowSize) as TensorData;
    place(t, row, rowDims, axis, lengthAxis ? padded - t.dims[axis]! : 0);
  });
  return { dtype: first.dtype, dims: [rows.length, ...rowDims.slice(1)], data };
}

/** Row `i` of a batched output, with the padding taken off its length axes (the row keeps the last). */
export function rowOf(t: Tensor, i: number, past: number, axes: readonly LengthAxis[]): Tensor {
  const rowDims = t.dims.slice(1);
  const rowSize = elementCount(rowDims);
  let row: Tensor = {
    dtype: t.dtype,
    dims: [1, ...rowDims],
    data: t.data.slice(i * rowSize, (i + 1) * rowSize) as TensorData,
  };
  for (const { axis, offset } of axes) {
    const keep = past + offset;
    const size = row.dims[axis]!;
    if (keep === size) continue;
    if (keep > size) throw new Error(`a batched output is shorter (${size}) than its row (${keep})`);
    const dims = row.dims.map((d, a) => (a === axis ? keep : d));
    const outer = elementCount(dims.slice(0, axis));
    const stride = strideOf(dims, axis);
    const data = allocate(row.dtype, elementCount(dims));
    const src = row.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> };
    const dst = data as unknown as { set(a: ArrayLike<number | bigint>, at: number): void };
    for (let o = 0; o < outer; o++) {
      const base = o * size * stride + (size - keep) * stride;
      dst.set(src.subarray(base, base + keep * stride), o * keep * stride);
    }
    row = { dtype: row.dtype, dims, data };
  }
  return row;
}

type Knowledge =
  | { readonly kind: 'seen'; readonly dims: readonly number[]; readonly past: number }
  | {
      readonly kind: 'known';
      readonly fixed: readonly (number | null)[];
      readonly axes: readonly LengthAxis[];
    }
  | { readonly kind: 'irregular' };

/**
 * Learns, per output name, which axes grow with the past length, from single-sequence steps at two or
 * more different past lengths. Until it knows an output, a batch whose rows differ in length can't be
 * taken apart, so the stage runs its sequences one by one (and so teaches this).
 */
export class LengthAxes {
  private readonly known = new Map<string, Knowledge>();

  observe(name: string, dims: readonly number[], past: number): void {
    const k = this.known.get(name);
    if (!k) {
      this.known.set(name, { kind: 'seen', dims, past });
      return;
    }
    if (k.kind === 'irregular') return;
    if (k.kind === 'seen') {
      if (k.past === past) return;
      if (k.dims.length !== dims.length) {
        this.known.set(name, { kind: 'irregular' });
        return;
      }
      const fixed: (number | null)[] = [];
      const axes: LengthAxis[] = [];
      for (let a = 0; a < dims.length; a++) {
        if (dims[a] === k.dims[a]) fixed.push(dims[a]!);
        else if (a > 0 && dims[a]! - past === k.dims[a]! - k.past) {
          fixed.push(null);
          axes.push({ axis: a, offset: dims[a]! - past });
        } else {
          this.known.set(name, { kind: 'irregular' });
          return;
        }
      }
      this.known.set(name, { kind: 'known', fixed, axes });
      return;
    }
    const fits =
      dims.length === k.fixed.length &&
      k.fixed.every((d, a) => d === null || d === dims[a]) &&
      k.axes.every(({ axis, offset }) => dims[axis] === past + offset);
    if (!fits) this.known.set(name, { kind: 'irregular' });
  }

  /** The output's length axes, or undefined while they are not known (or it has none that behave). */
  axesOf(name: string): readonly LengthAxis[] | undefined {
    const k = this.known.get(name);
    return k?.kind === 'known' ? k.axes : undefined;
  }
}
