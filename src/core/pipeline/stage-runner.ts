/**
 * Runs one stage (a merged run of blocks) step after step for any number of requests, each with its own
 * KV cache that never leaves this stage. Step 0 of a request starts a fresh cache. The same class runs
 * inside the browser's inference worker and in Node tests; only the ModelSession differs.
 */
import { pairCacheTensors } from '../graph/cache-tensors';
import type { IOSpec } from '../graph/manifest';
import type { ModelSession } from '../ports';
import type { NamedTensors, Tensor } from '../tensor';
import { LengthAxes, rowOf, stackRows } from './batch-tensors';
import { emptyCache } from './model-inputs';

export interface StageSpec {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly cacheInputs: readonly string[];
  readonly cacheOutputs: readonly string[];
}

/** One sequence's step in a batched run. */
export interface BatchItem {
  readonly requestId: string;
  readonly step: number;
  readonly tensors: NamedTensors;
  /** The positions the step adds (1 when absent): a prefill chunk has many. */
  readonly tokens?: number;
}

/** A decode step: one position after the prompt. Only these run batched, and teach the length axes. */
export const isOneToken = (item: Pick<BatchItem, 'step' | 'tokens'>) =>
  item.step > 0 && (item.tokens ?? 1) === 1;

/** The axis of a cache tensor that is its past length: the symbolic dim that isn't the batch. */
function pastAxis(spec: IOSpec): number {
  const symbolic = spec.dims.map((d, a) => [d, a] as const).filter(([d]) => typeof d === 'string');
  const past = symbolic.find(([d]) => !/batch/i.test(String(d))) ?? symbolic[1];
  if (!past) throw new Error(`cache input ${spec.name} has no symbolic past-length dim`);
  return past[1];
}

export class StageRunner {
  private readonly pairs: [string, string][];
  private readonly caches = new Map<string, NamedTensors>();
  private readonly fetch: string[];
  private readonly lengths = new LengthAxes();

  /**
   * `prefillSession`, when given, runs every request's prompt steps (many tokens) and `session` the one-token
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

  async step(requestId: string, step: number, given: NamedTensors, tokens = 1): Promise<NamedTensors> {
    if (step === 0) this.caches.delete(requestId);
    const feeds = this.feedsOf({ requestId, step, tensors: given });
    const past = this.pastOf(feeds);
    const oneToken = isOneToken({ step, tokens });
    const session = !oneToken && this.prefillSession ? this.prefillSession : this.session;
    const out = await session.run(feeds, this.fetch);
    // One-token steps teach which outputs grow with the sequence, so later ones can run batched.
    if (oneToken && past !== null)
      for (const [name, t] of Object.entries(out)) this.lengths.observe(name, t.dims, past);
    return this.keep(requestId, out);
  }

  /**
   * Runs several sequences' one-token steps (distinct requests, past their prefill) as one batch in one
   * session run, padded to the longest. Each gets exactly its own outputs and cache, as if it ran
   * alone. Returns why not instead, running nothing, when this stage's tensors can't be batched (yet).
   */
  async stepMany(items: readonly BatchItem[]): Promise<NamedTensors[] | string> {
    if (new Set(items.map((i) => i.requestId)).size !== items.length) return 'a request appears twice';
    if (!items.every(isOneToken)) return 'a prefill (or a chunk of one) runs alone';
    const rows = items.map((i) => this.feedsOf(i));
    const pasts = rows.map((r) => this.pastOf(r));
    const ragged = pasts.some((p) => p !== pasts[0]);
    if (ragged && pasts.some((p) => p === null)) return 'this stage cannot tell its sequences’ lengths';
    const known = pasts as number[];
    const axes = new Map<string, readonly { axis: number; offset: number }[]>();
    for (const name of this.fetch) {
      const a = ragged ? this.lengths.axesOf(name) : [];
      if (!a) return `the length axes of ${name} are not known yet`;
      axes.set(name, a);
    }
    const cacheIn = new Set(this.spec.cacheInputs);
    const feeds: NamedTensors = {};
    for (const name of Object.keys(rows[0]!)) {
      const pasts = ragged ? known : known.map(() => 0);
      const t = stackRows(
        name,
        rows.map((r) => r[name]!),
        pasts,
        cacheIn.has(name),
      );
      if (typeof t === 'string') return t;
      feeds[name] = t;
    }
    const out = await this.session.run(feeds, this.fetch);
    return items.map((item, i) => {
      const own: NamedTensors = {};
      for (const [name, t] of Object.entries(out))
        own[name] = rowOf(t, i, known[i] ?? 0, axes.get(name) ?? []);
      return this.keep(item.requestId, own);
    });
  }

  /** The session feeds of one request's step: its data inputs and its past cache (empty at step 0). */
  private feedsOf({ requestId, step, tensors }: BatchItem): NamedTensors {
    const cache = this.caches.get(requestId);
    if (step > 0 && !cache) throw new Error(`request ${requestId}: step ${step} arrived before its prefill`);
    const feeds: NamedTensors = {};
    for (const name of this.dataInputs) {
      const t = tensors[name];
      if (!t) throw new Error(`request ${requestId} step ${step}: tensor ${name} is missing`);
      feeds[name] = t;
    }
    for (const [past] of this.pairs) feeds[past] = cache?.[past] ?? emptyCache(this.cacheSpecs.get(past)!);
    return feeds;
  }

  /**
   * The tokens already in a request's cache, read from its first cache tensor, or, on a stage without
   * caches, from the attention mask it is given (one longer than the past, in a one-token step).
   */
  private pastOf(feeds: NamedTensors): number | null {
    const first = this.pairs[0]?.[0];
    if (first) return feeds[first]!.dims[pastAxis(this.cacheSpecs.get(first)!)]!;
    const mask = feeds.attention_mask;
    return mask ? mask.dims[mask.dims.length - 1]! - 1 : null;
  }

  /** Keeps a step's present caches as the request's past, and returns its other outputs. */
  private keep(requestId: string, out: NamedTensors): NamedTensors {
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
