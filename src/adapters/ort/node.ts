/**
 * The only importer of onnxruntime-node: Node-side tools and tests run the same graphs the browser
 * runs, on the CPU execution provider.
 */
import * as ort from 'onnxruntime-node';
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

/** Loads a model from a file path; external data files are resolved relative to it. */
export async function createNodeSession(path: string, opts: NodeSessionOptions = {}): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionProviders: ['cpu'],
  });
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
