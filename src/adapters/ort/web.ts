/**
 * The only importer of onnxruntime-web: the browser twin of ./node.ts. It runs inside the inference
 * worker, so onnxruntime's own proxy worker stays off (a worker inside a worker only adds copies).
 */
import * as ort from 'onnxruntime-web';
import type { ModelSession } from '../../core/ports';
import { modelSession } from '../../core/runtime-session';
import { elementCount, type Tensor } from '../../core/tensor';

export type WebExecutionProvider = 'wasm' | 'webgpu';

export interface OrtConfig {
  /** Folder (URL prefix, ending in '/') serving ort-wasm-simd-threaded.jsep.{mjs,wasm}. */
  readonly wasmPaths: string;
  /** Wanted intra-op threads; 1 when the page is not cross-origin isolated. */
  readonly threads: number;
}

export interface AppliedOrtConfig {
  readonly wasmPaths: string;
  readonly threads: number;
}

let applied: AppliedOrtConfig | null = null;

/**
 * Sets onnxruntime's wasm environment. onnxruntime reads `env.wasm.*` only when its first session
 * initialises the runtime, so only the first call has an effect; later calls return what is in force.
 */
export function configureOrt(config: OrtConfig): AppliedOrtConfig {
  if (applied) return applied;
  // Without cross-origin isolation there is no SharedArrayBuffer: asking for threads would only make
  // onnxruntime warn and fall back, so say 1 and report it truthfully.
  const isolated = typeof globalThis.crossOriginIsolated === 'boolean' && globalThis.crossOriginIsolated;
  const threads = isolated ? Math.max(1, Math.floor(config.threads)) : 1;
  // Serving the runtime from a fixed folder is what makes threads work in a vite production build: the
  // thread workers then start from the self-contained .jsep.mjs instead of the app's chunk.
  ort.env.wasm.wasmPaths = config.wasmPaths;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  applied = { wasmPaths: config.wasmPaths, threads };
  return applied;
}

/** The configuration in force, or null before `configureOrt`. */
export function ortConfig(): AppliedOrtConfig | null {
  return applied;
}

interface GpuLike {
  requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null>;
}

/**
 * The WebGPU adapter here, as "vendor architecture", or null when there is none (headless Chromium has
 * `navigator.gpu` but no adapter unless started with --enable-unsafe-webgpu; then a software one).
 */
export async function webGpuAdapter(): Promise<string | null> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const name = [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ');
    return name || 'unnamed adapter';
  } catch {
    return null;
  }
}

function toOrt(t: Tensor): ort.Tensor {
  // float16 goes in as raw Uint16Array bits, which onnxruntime accepts (and wraps if it prefers
  // Float16Array); bool as one byte per element in a Uint8Array.
  return new ort.Tensor(t.dtype, t.data as ort.Tensor.DataType, [...t.dims]);
}

function fromOrt(name: string, t: ort.Tensor): Tensor {
  const dims = [...t.dims];
  const d = t.data;
  switch (t.type) {
    case 'float32':
      if (d instanceof Float32Array) return { dtype: 'float32', dims, data: d };
      break;
    case 'float16':
      // Where the browser has Float16Array (Chromium ≥ 135) onnxruntime returns one; the core carries
      // half floats as raw bits, so view the same bytes as Uint16Array (no copy).
      if (ArrayBuffer.isView(d))
        return { dtype: 'float16', dims, data: new Uint16Array(d.buffer, d.byteOffset, elementCount(dims)) };
      break;
    case 'int64':
      if (d instanceof BigInt64Array) return { dtype: 'int64', dims, data: d };
      break;
    case 'int32':
      if (d instanceof Int32Array) return { dtype: 'int32', dims, data: d };
      break;
    case 'int8':
      if (d instanceof Int8Array) return { dtype: 'int8', dims, data: d };
      break;
    case 'uint8':
    case 'bool':
      if (d instanceof Uint8Array) return { dtype: t.type, dims, data: d };
      break;
    default:
      throw new Error(`output ${name} has dtype ${t.type}, which Chorus cannot carry`);
  }
  throw new Error(
    `output ${name} (${t.type}) came back as ${d?.constructor?.name ?? typeof d}, not a CPU array`,
  );
}

export interface WebSessionOptions {
  /** In order of preference; onnxruntime falls back along the list. Default ['wasm']. */
  readonly executionProviders?: readonly WebExecutionProvider[];
}

/**
 * Creates a session from an encoded graph whose initializers live in external data files, given here
 * as bytes by the names the graph uses. Costs 0.5–1 s: create a stage's session once, not per request.
 */
export async function createWebSession(
  graph: Uint8Array,
  externalData: Readonly<Record<string, Uint8Array>>,
  opts: WebSessionOptions = {},
): Promise<ModelSession> {
  if (!applied) throw new Error('configureOrt() must run before the first onnxruntime-web session');
  const session = await ort.InferenceSession.create(graph, {
    externalData: Object.entries(externalData).map(([path, data]) => ({ path, data })),
    executionProviders: [...(opts.executionProviders ?? ['wasm'])],
    graphOptimizationLevel: 'all',
  });
  return modelSession<ort.Tensor>(
    {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds, fetch) => (fetch ? session.run(feeds, [...fetch]) : session.run(feeds)),
      release: () => session.release(),
    },
    toOrt,
    fromOrt,
  );
}
