/**
 * Runs one stage (a merged run of blocks) step after step for any number of requests, each with its own
 * KV cache that never leaves this stage. Step 0 of a request starts a fresh cache. The same class runs
 * inside the browser's inference worker and in Node tests; only the ModelSession differs.
 */
import { pairCacheTensors } from '../graph/cache-tensors';
import type { IOSpec } from '../graph/manifest';
import type { ModelSession } from '../ports';
import type { NamedTensors, Tensor } from '../tensor';
import { emptyCache } from './model-inputs';

export interface StageSpec {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
}

export class StageRunner {
  private readonly pairs: [string, string][];
  private readonly caches = new Map<string, NamedTensors>();
  private readonly fetch: string[];

  /**
   * `prefillSession`, when given, runs every request's step 0 (the prompt) and `session` the one-token
   * steps after it: the same graph on another runtime (e.g. WebGPU for prefill, WASM for decode). Both
   * take and give CPU tensors, so the KV cache passes from one to the other as it is.
   */
  constructor(
    private readonly session: ModelSession,
    readonly spec: StageSpec,
    private readonly cacheSpecs: ReadonlyMap<string, IOSpec>,
    private readonly prefillSession?: ModelSession,
  ) {
    this.pairs = pairCacheTensors(spec.cacheInputs, spec.cacheOutputs);
    this.fetch = [...spec.outputs];
  }

  /** Names of the non-cache tensors this stage must be given. */
  get dataInputs(): string[] {
    const cache = new Set(this.spec.cacheInputs);
    return this.spec.inputs.filter((n) => !cache.has(n));
  }

  async step(requestId: string, step: number, given: NamedTensors): Promise<NamedTensors> {
    if (step === 0) this.caches.delete(requestId);
    const cache = this.caches.get(requestId);
    if (step > 0 && !cache) throw new Error(`request ${requestId}: step ${step} arrived before its prefill`);
    const feeds: NamedTensors = {};
    for (const name of this.dataInputs) {
      const t = given[name];
      if (!t) throw new Error(`request ${requestId} step ${step}: tensor ${name} is missing`);
      feeds[name] = t;
    }
    for (const [past] of this.pairs) feeds[past] = cache?.[past] ?? emptyCache(this.cacheSpecs.get(past)!);
    const session = step === 0 && this.prefillSession ? this.prefillSession : this.session;
    const out = await session.run(feeds, this.fetch);
    const next: NamedTensors = {};
    for (const [past, present] of this.pairs) next[past] = out[present]!;
    this.caches.set(requestId, next);
    const result: NamedTensors = {};
    const cacheOut = new Set(this.spec.cacheOutputs);
    for (const [name, t] of Object.entries(out)) if (!cacheOut.has(name)) result[name] = t;
    return result;
  }

  /** Present tensors of a request's cache (for tests comparing against a whole-model run). */
  cacheOf(requestId: string): ReadonlyMap<string, Tensor> {
    const c = this.caches.get(requestId) ?? {};
    return new Map(this.pairs.map(([past, present]) => [present, c[past]!]));
  }

  release(requestId: string): void {
    this.caches.delete(requestId);
  }

  /** Requests that hold a KV cache here now. */
  get activeRequests(): number {
    return this.caches.size;
  }

  /** Bytes held by every request's KV cache: what this stage costs in memory beyond its weights. */
  get kvBytes(): number {
    let bytes = 0;
    for (const cache of this.caches.values())
      for (const t of Object.values(cache)) bytes += t.data.byteLength;
    return bytes;
  }

  async close(): Promise<void> {
    this.caches.clear();
    await Promise.all([this.session.release(), this.prefillSession?.release()]);
  }
}

/** The last row of logits [1, S, V] → [V]: all the leader needs to sample. */
export function lastLogitsRow(logits: Tensor): Float32Array {
  if (logits.dtype !== 'float32' && logits.dtype !== 'float16')
    throw new Error(`logits of dtype ${logits.dtype}`);
  const v = logits.dims[logits.dims.length - 1]!;
  const rows = logits.data.length / v;
  const start = (rows - 1) * v;
  if (logits.dtype === 'float32') return (logits.data as Float32Array).slice(start, start + v);
  const half = logits.data as Uint16Array;
  return Float32Array.from({ length: v }, (_, i) => halfToFloat(half[start + i]!));
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
