/**
 * The only importer of onnxruntime-node: Node-side tools and tests run the same graphs the browser
 * runs, on the CPU execution provider.
 */
import * as ort from 'onnxruntime-node';
import type { SessionFactory } from '../../core/pipeline/local-stage';
import type { ModelSession } from '../../core/ports';
import { modelSession } from '../../core/runtime-session';
import type { DType, Tensor, TensorData } from '../../core/tensor';

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as ort.Tensor.DataType, [...t.dims]);
}

function fromOrt(t: ort.Tensor): Tensor {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TensorData };
}

export interface NodeSessionOptions {
  /** Intra-op threads; 1 keeps runs deterministic and tests fair on small machines. */
  threads?: number;
  /** Graph optimisation level; 'all' is what production would use. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

function sessionOptions(opts: NodeSessionOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionProviders: ['cpu'],
  };
}

/** Loads a model from a file path; external data files are resolved relative to it. */
export async function createNodeSession(path: string, opts: NodeSessionOptions = {}): Promise<ModelSession> {
  return wrap(await ort.InferenceSession.create(path, sessionOptions(opts)));
}

/**
 * Loads an encoded graph whose initializers live in external data files, given as bytes by the names the
 * graph uses — the browser's way (adapters/ort/web.ts), so a stage needs no files on disk. The native
 * binding takes `externalData` entries of { path, data: Uint8Array } (checked with onnxruntime-node 1.30).
 */
export async function createNodeSessionFromBytes(
  graph: Uint8Array,
  externalData: Readonly<Record<string, Uint8Array>>,
  opts: NodeSessionOptions = {},
): Promise<ModelSession> {
  return wrap(
    await ort.InferenceSession.create(graph, {
      ...sessionOptions(opts),
      externalData: Object.entries(externalData).map(([path, data]) => ({ path, data })),
    }),
  );
}

/**
 * The SessionFactory for a LocalStageBackend in Node (tests, tools): onnxruntime-node runs on the CPU
 * only, so 'wasm' means the CPU provider and WebGPU is refused rather than silently run on the CPU.
 */
export const nodeSessionFactory: SessionFactory = (graph, weights, executionProvider) => {
  if (executionProvider !== 'wasm')
    return Promise.reject(new Error(`onnxruntime-node has no ${executionProvider} here, only the CPU`));
  return createNodeSessionFromBytes(graph, weights);
};

function wrap(session: ort.InferenceSession): ModelSession {
  return modelSession<ort.Tensor>(
    {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds, fetch) => (fetch ? session.run(feeds, [...fetch]) : session.run(feeds)),
      release: () => session.release(),
    },
    toOrt,
    (_name, t) => fromOrt(t),
  );
}
