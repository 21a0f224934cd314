/**
 * Builds the graph inputs the leader feeds for one step (ids, attention mask, positions) and the empty
 * KV cache a stage starts from, in the dtypes and layouts the model's own input specs declare.
 */
import type { IOSpec } from '../graph/manifest';
import { type DType, elementCount, type NamedTensors, type Tensor } from '../tensor';

function intTensor(dtype: DType, dims: number[], values: (i: number) => number): Tensor {
  const n = elementCount(dims);
  if (dtype === 'int64')
    return { dtype, dims, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(values(i))) };
  if (dtype === 'int32') return { dtype, dims, data: Int32Array.from({ length: n }, (_, i) => values(i)) };
  throw new Error(`an id/mask/position input of dtype ${dtype} is not supported`);
}

/** Inputs for `ids` new tokens after `past` tokens already in the cache (batch of one). */
export function stepInputs(specs: readonly IOSpec[], ids: readonly number[], past: number): NamedTensors {
  const out: NamedTensors = {};
  for (const spec of specs) {
    const dtype = spec.dtype ?? 'int64';
    if (spec.name === 'input_ids') out[spec.name] = intTensor(dtype, [1, ids.length], (i) => ids[i]!);
    else if (spec.name === 'attention_mask')
      out[spec.name] = intTensor(dtype, [1, past + ids.length], () => 1);
    else if (spec.name === 'position_ids')
      out[spec.name] = intTensor(dtype, [1, ids.length], (i) => past + i);
  }
  return out;
}

/** An empty cache tensor: batch dims become 1, the other symbolic dim (the past length) 0. */
export function emptyCache(spec: IOSpec): Tensor {
  const symbolic = spec.dims.filter((d) => typeof d === 'string');
  const batchName = symbolic.find((d) => /batch/i.test(d)) ?? (symbolic.length > 1 ? symbolic[0] : undefined);
  const dims = spec.dims.map((d) => (typeof d === 'number' ? d : d === batchName ? 1 : 0));
  const dtype = spec.dtype;
  if (dtype === 'float32') return { dtype, dims, data: new Float32Array(0) };
  if (dtype === 'float16') return { dtype, dims, data: new Uint16Array(0) };
  throw new Error(`cache input ${spec.name} has unsupported element type ${spec.elemType}`);
}
