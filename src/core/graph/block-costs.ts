/**
 * Static cost estimates of a block, from the graph alone: parameters, FLOPs per token, KV-cache bytes
 * per token. These feed the cost model that predicts stage times; they are estimates (elementwise ops
 * are ignored), calibrated later against measured step times.
 */
import type { GraphIndex } from './graph-index';
import type { IOSpec } from './manifest';
import { readModelConfig } from './model-config';
import { attr, elemTypeBytes, type NodeProto, tensorDims, toNumber } from './onnx-proto';

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Weight matrix of a MatMul-like node, if one of its inputs is an initializer: [K, N] flattened. */
export function weightFlops(g: GraphIndex, node: NodeProto): number {
  const op = node.opType ?? '';
  const inputs = node.input ?? [];
  if (op === 'MatMulNBits') {
    return 2 * toNumber(attr(node, 'K')?.i) * toNumber(attr(node, 'N')?.i);
  }
  if (op === 'MatMul' || op === 'Gemm' || op === 'Attention' || op === 'MatMulInteger') {
    for (const name of inputs.slice(0, 2)) {
      const dims = staticWeightDims(g, name, 0);
      if (dims) return 2 * product(dims);
    }
  }
  return 0;
}

/**
 * Dims of the weight behind `name`: an initializer, or one reached through static ops (a tied LM head
 * written as Transpose(embedding), DequantizeLinear of quantized weights). Null for activations.
 */
function staticWeightDims(g: GraphIndex, name: string, depth: number): number[] | null {
  const w = g.initializers.get(name);
  if (w) return tensorDims(w).length >= 2 ? tensorDims(w) : null;
  const p = g.producer.get(name);
  if (p === undefined || !g.isStatic[p] || depth > 4) return null;
  for (const input of g.nodeInputs[p]!) {
    const dims = staticWeightDims(g, input, depth + 1);
    if (dims) return dims;
  }
  return null;
}

export interface BlockCosts {
  params: number;
  flopsPerToken: number;
  kvBytesPerToken: number;
  /** Weight bytes one decode step reads: all of them, except tables only gathered from (embeddings). */
  streamedBytesPerToken: number;
}

export function blockCosts(
  g: GraphIndex,
  nodes: readonly number[],
  initializers: readonly string[],
  cacheInputs: readonly IOSpec[],
): BlockCosts {
  let flops = 0;
  const quantized = new Map<string, number>(); // packed 4-bit weights → their K×N
  const quantAux = new Set<string>(); // scales and zero points: not parameters
  for (const i of nodes) {
    const node = g.nodes[i]!;
    flops += weightFlops(g, node);
    if (node.opType === 'MatMulNBits') {
      const [, b, ...aux] = node.input ?? [];
      if (b) quantized.set(b, toNumber(attr(node, 'K')?.i) * toNumber(attr(node, 'N')?.i));
      for (const a of aux) if (a) quantAux.add(a);
    }
  }
  let params = 0;
  for (const name of initializers) {
    if (quantAux.has(name)) continue;
    params += quantized.get(name) ?? product(tensorDims(g.initializers.get(name)!));
  }
  // Within this block: a tied table is gathered in the prologue but streamed by the LM head.
  const own = new Set(nodes);
  const gatheredOnly = (name: string) => {
    const readers = (g.consumers.get(name) ?? []).filter((c) => own.has(c)).map((c) => g.nodes[c]!);
    return readers.length > 0 && readers.every((n) => n.opType === 'Gather' && n.input?.[0] === name);
  };
  let streamed = 0;
  for (const name of initializers) {
    if (gatheredOnly(name)) continue;
    const t = g.initializers.get(name)!;
    streamed += product(tensorDims(t)) * elemTypeBytes(t.dataType ?? 1);
  }
  let kv = 0;
  for (const spec of cacheInputs) {
    const fixed = spec.dims.filter((d): d is number => typeof d === 'number');
    kv += product(fixed) * elemTypeBytes(spec.elemType);
  }
  return { params, flopsPerToken: flops, kvBytesPerToken: kv, streamedBytesPerToken: streamed };
}

/** Hidden size from the model config (see model-config.ts for where it is looked for), for attention FLOPs. */
export function hiddenSizeOf(config: Record<string, unknown> | null): number | null {
  return readModelConfig(config)?.hiddenSize ?? null;
}
