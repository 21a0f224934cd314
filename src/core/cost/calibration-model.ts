/**
 * The calibration kernel a phone times on joining: one decoder layer's weight matmuls at the chosen
 * model's own shapes (q, k, v, o projections and a SwiGLU MLP), plus a chain of tiny ops that measures
 * the fixed cost of dispatching one op. Built here as an ONNX model so every phone runs exactly the same
 * work through the same runtime path as its stage will; block times are then predicted from each
 * block's FLOPs and op count (cost-model.ts).
 */
import { readModelConfig } from '../graph/model-config';
import { ElemType, encodeModel } from '../graph/onnx-proto';

export interface LayerShape {
  readonly hidden: number;
  readonly kvDim: number;
  readonly intermediate: number;
}

/** Ops in the dispatch chain: enough to dominate the measurement when each is tiny. */
export const DISPATCH_CHAIN_OPS = 48;

export function kernelFlopsPerToken(s: LayerShape): number {
  return 2 * (2 * s.hidden * s.hidden + 2 * s.hidden * s.kvDim + 3 * s.hidden * s.intermediate);
}

/** Small random weights (activations stay finite), written into one buffer as ONNX external data. */
class KernelWeights {
  static readonly FILE = 'kernel.weights';
  readonly data: Float32Array;
  private at = 0;
  private x = 1;
  constructor(totalFloats: number) {
    this.data = new Float32Array(totalFloats);
  }
  add(name: string, rows: number, cols: number) {
    const offset = this.at;
    for (let i = 0; i < rows * cols; i++) {
      this.x = (Math.imul(this.x, 1664525) + 1013904223) >>> 0;
      this.data[this.at++] = ((this.x >>> 8) / 2 ** 24 - 0.5) * 0.04;
    }
    return {
      name,
      dims: [rows, cols],
      dataType: ElemType.FLOAT,
      dataLocation: 1, // EXTERNAL
      externalData: [
        { key: 'location', value: KernelWeights.FILE },
        { key: 'offset', value: String(offset * 4) },
        { key: 'length', value: String(rows * cols * 4) },
      ],
    };
  }
}

const io = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType: ElemType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

const node = (opType: string, input: string[], output: string[]) => ({
  opType,
  input,
  output,
  name: output[0],
});

function model(
  name: string,
  nodes: ReturnType<typeof node>[],
  initializer: object[],
  input: object[],
  output: object[],
) {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'chorus-calibration',
    graph: { name, node: nodes, initializer, input, output },
  } as Parameters<typeof encodeModel>[0]);
}

/** Weight bytes the layer kernel streams per token: past every cache, as a real stage's weights are. */
export const KERNEL_TARGET_BYTES = 128 * 2 ** 20;

export function layerBytes(s: LayerShape): number {
  return 4 * (2 * s.hidden * s.hidden + 2 * s.hidden * s.kvDim + 3 * s.hidden * s.intermediate);
}

/** How many distinct layers the kernel chains so its weights outgrow the caches (at least 1, at most 32). */
export function kernelCopies(s: LayerShape): number {
  return Math.min(32, Math.max(1, Math.ceil(KERNEL_TARGET_BYTES / layerBytes(s))));
}

/**
 * x [1, seq, hidden] → y: `kernelCopies` layers' weight matmuls at the model's shapes, each with its own
 * weights. Decode reads every weight once per token, so its time is set by memory bandwidth; a kernel
 * small enough to stay in cache would predict stages several times too fast.
 */
export function layerKernelModel(s: LayerShape): { graph: Uint8Array; weights: Record<string, Uint8Array> } {
  const h = s.hidden;
  const nodes: ReturnType<typeof node>[] = [];
  const initializers: object[] = [];
  const copies = kernelCopies(s);
  const w = new KernelWeights((copies * layerBytes(s)) / 4);
  let x = 'x';
  for (let c = 0; c < copies; c++) {
    const t = (n: string) => `${n}${c}`;
    const y = c === copies - 1 ? 'y' : t('y');
    nodes.push(
      node('MatMul', [x, t('wq')], [t('q')]),
      node('MatMul', [x, t('wk')], [t('k')]),
      node('MatMul', [x, t('wv')], [t('v')]),
      node('Add', [t('k'), t('v')], [t('kv')]),
      node('MatMul', [t('q'), t('wo')], [t('o')]),
      node('MatMul', [t('o'), t('wg')], [t('g')]),
      node('MatMul', [t('o'), t('wu')], [t('u')]),
      node('Sigmoid', [t('g')], [t('gs')]),
      node('Mul', [t('g'), t('gs')], [t('silu')]),
      node('Mul', [t('silu'), t('u')], [t('m')]),
      node('MatMul', [t('m'), t('wd')], [t('d')]),
      node('Add', [t('d'), x], [y]),
    );
    initializers.push(
      w.add(t('wq'), h, h),
      w.add(t('wk'), h, s.kvDim),
      w.add(t('wv'), h, s.kvDim),
      w.add(t('wo'), h, h),
      w.add(t('wg'), h, s.intermediate),
      w.add(t('wu'), h, s.intermediate),
      w.add(t('wd'), s.intermediate, h),
    );
    x = y;
  }
  const graph = model(
    'layer-kernel',
    nodes,
    initializers,
    [io('x', [1, 'seq', h])],
    [io('y', [1, 'seq', h])],
  );
  return { graph, weights: { [KernelWeights.FILE]: new Uint8Array(w.data.buffer) } };
}

/** Ops per kernel layer (see layerKernelModel). */
export const KERNEL_OPS_PER_LAYER = 12;

/** small [1, 1, 8] → z through a chain of tiny Adds: the fixed cost of one op, whatever its size. */
export function dispatchChainModel(): Uint8Array {
  const nodes = [];
  let prev = 'small';
  for (let i = 0; i < DISPATCH_CHAIN_OPS; i++) {
    const out = i === DISPATCH_CHAIN_OPS - 1 ? 'z' : `c${i}`;
    nodes.push(node('Add', [prev, 'one'], [out]));
    prev = out;
  }
  const one = { name: 'one', dims: [1], dataType: ElemType.FLOAT, floatData: [1] };
  return model('dispatch-chain', nodes, [one], [io('small', [1, 1, 8])], [io('z', [1, 1, 8])]);
}

/** The layer shape of a model from its config (see model-config.ts); null if its hidden size is unknown. */
export function layerShapeOf(config: Record<string, unknown> | null): LayerShape | null {
  const c = readModelConfig(config);
  return c && { hidden: c.hiddenSize, kvDim: c.kvDim, intermediate: c.intermediateSize };
}
