/**
 * Downloads a model's manifest and one stage's blocks. Every file is checked before use and before it
 * is cached: hashed files against the manifest's sha256, hub byte ranges by status, Content-Range and
 * length (see delivery/remote-ranges.ts). With a BlockStore, a cached block costs no network at all;
 * a corrupt cache entry is dropped by the store, counted here, and fetched again.
 *
 * Where the bytes come from: graph files and hashed weights from a FileSource (HTTP relative to the
 * model's base by default; the leader over the data channel for a model it opened itself, see
 * delivery/peer-blocks.ts), hub ranges always from their own URLs.
 */
import type { BlockStore } from '../core/block-store';
import {
  type FileRef,
  isRemoteWeights,
  type Manifest,
  parseManifest,
  type RemoteWeightsRef,
} from '../core/graph/manifest';
import { sha256Hex } from '../core/sha256';
import { type FetchProgress, RateMeter, secondsLeft } from './delivery/progress';
import { type FetchFn, fetchRemoteWeights, remoteWeightsKey } from './delivery/remote-ranges';

export type { FetchProgress } from './delivery/progress';

export async function fetchManifest(base: string, options: { fetchFn?: FetchFn } = {}): Promise<Manifest> {
  const url = new URL('manifest.json', base).href;
  const res = await (options.fetchFn ?? fetch)(url);
  if (!res.ok) throw new Error(`model not found: ${url} answered ${res.status} ${res.statusText}`);
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new Error(`${url} is not JSON`);
  }
  return parseManifest(json, url);
}

/** Where a manifest's own files come from. Returns the raw bytes; the caller checks size and hash. */
export interface FileSource {
  read(ref: FileRef, onBytes: (n: number) => void): Promise<Uint8Array>;
}

/** The files beside manifest.json on a server (the signaling server's /models/<name>/). */
export function httpFileSource(base: string, fetchFn: FetchFn = fetch): FileSource {
  return {
    async read(ref, onBytes) {
      const url = new URL(ref.file, base).href;
      const res = await fetchFn(url);
      if (!res.ok || !res.body) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
      const out = new Uint8Array(ref.bytes);
      let at = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.length > out.length) {
          await reader.cancel();
          throw new Error(`${ref.file} is larger than the manifest says (${ref.bytes} bytes)`);
        }
        out.set(value, at);
        at += value.length;
        onBytes(value.length);
      }
      return at === out.length ? out : out.subarray(0, at);
    },
  };
}

export interface StageFetchOptions {
  /** The block cache; without one every file comes from the network. */
  readonly store?: BlockStore | null;
  /** Where graph files and hashed weights come from. Default: HTTP relative to `base`. */
  readonly source?: FileSource;
  /** Used by the default source and for hub ranges (tests pass a fake). */
  readonly fetchFn?: FetchFn;
  /** Told about each corrupt cache entry found (and refetched), for the UI. */
  readonly onCorrupt?: (file: string, reason: string) => void;
  /** Cache only what fits without evicting anything (backups). */
  readonly noEvict?: boolean;
  readonly now?: () => number;
}

export interface StageFiles {
  readonly graphs: Uint8Array[];
  readonly weights: Record<string, Uint8Array>;
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
  readonly corruptEntries: number;
  /** Each corrupt cache entry: which file, and what was wrong. */
  readonly corrupt: readonly { readonly file: string; readonly reason: string }[];
  /** Files that could not be cached (no space, storage error); the stage still loads. */
  readonly notCached: readonly { readonly file: string; readonly reason: string }[];
}

/** The name blocks are cached under (what the "cached models" list shows). */
export function cacheModelName(manifest: Manifest): string {
  return manifest.hub ? `${manifest.hub.modelId} (${manifest.hub.dtype})` : manifest.name;
}

const sizeOf = (ref: FileRef | RemoteWeightsRef) =>
  isRemoteWeights(ref) ? ref.ranges.reduce((s, r) => s + r.length, 0) : ref.bytes;

const REPORT_EVERY_MS = 100;

export async function fetchStageFiles(
  base: string,
  manifest: Manifest,
  first: number,
  last: number,
  onProgress: (p: FetchProgress) => void,
  options: StageFetchOptions = {},
): Promise<StageFiles> {
  const { store = null, fetchFn = fetch } = options;
  if (manifest.blockSource === 'leader' && !options.source) {
    throw new Error(`${manifest.name}: its blocks come from the leader, but no peer source was given`);
  }
  const source = options.source ?? httpFileSource(base, fetchFn);
  const now = options.now ?? (() => performance.now());
  const model = cacheModelName(manifest);
  const blocks = manifest.blocks.slice(first, last + 1);
  const refs = blocks.flatMap((b) => (b.weights ? [b.graph, b.weights] : [b.graph]));
  const totalBytes = refs.reduce((s, r) => s + sizeOf(r), 0);

  let loadedBytes = 0;
  let filesDone = 0;
  let bytesFromNetwork = 0;
  let bytesFromCache = 0;
  const corrupt: { file: string; reason: string }[] = [];
  const notCached: { file: string; reason: string }[] = [];
  const meter = new RateMeter(now);
  let lastReport = Number.NEGATIVE_INFINITY;
  const report = (force: boolean) => {
    const t = now();
    if (!force && t - lastReport < REPORT_EVERY_MS) return;
    lastReport = t;
    const bytesPerSecond = meter.bytesPerSecond();
    onProgress({
      loadedBytes,
      totalBytes,
      filesDone,
      filesTotal: refs.length,
      bytesPerSecond,
      secondsLeft: secondsLeft(totalBytes - loadedBytes, bytesPerSecond),
      bytesFromNetwork,
      bytesFromCache,
    });
  };
  const onNetwork = (n: number) => {
    loadedBytes += n;
    bytesFromNetwork += n;
    meter.add(n);
    report(false);
  };

  // The stage's own blocks must survive evictions made while caching its later blocks.
  const pinned = new Set<string>();
  const aliases = new Map<RemoteWeightsRef, string>();
  for (const ref of refs) {
    if (!isRemoteWeights(ref)) pinned.add(ref.sha256);
    else if (store) {
      const key = await remoteWeightsKey(ref);
      aliases.set(ref, key);
      const sha = await store.getAlias(key);
      if (sha) pinned.add(sha);
    }
  }

  /** A verified cache hit of `bytes` bytes, counted as `counts` bytes of progress. */
  const fromCache = async (sha: string, file: string, bytes: number, counts: number) => {
    if (!store) return null;
    const hit = await store.get(sha, (reason) => {
      corrupt.push({ file, reason });
      options.onCorrupt?.(file, reason);
    });
    if (!hit || hit.length !== bytes) return null;
    bytesFromCache += counts;
    loadedBytes += counts;
    return hit;
  };
  const keep = async (sha: string, file: string, bytes: Uint8Array) => {
    if (!store) return;
    const r = await store.put(sha, bytes, { model, file }, { pinned, noEvict: options.noEvict ?? false });
    if (!r.stored) notCached.push({ file, reason: r.reason ?? 'not stored' });
  };

  const load = async (ref: FileRef | RemoteWeightsRef): Promise<Uint8Array> => {
    if (isRemoteWeights(ref)) {
      const key = aliases.get(ref);
      const known = key && store ? await store.getAlias(key) : null;
      const hit = known ? await fromCache(known, ref.file, ref.bytes, sizeOf(ref)) : null;
      if (hit) return hit;
      const bytes = await fetchRemoteWeights(ref, { fetchFn, onBytes: onNetwork });
      const sha = await sha256Hex(bytes);
      pinned.add(sha);
      await keep(sha, ref.file, bytes);
      if (key && store) await store.setAlias(key, sha);
      return bytes;
    }
    const hit = await fromCache(ref.sha256, ref.file, ref.bytes, ref.bytes);
    if (hit) return hit;
    const before = loadedBytes;
    const bytes = await source.read(ref, onNetwork);
    if (bytes.length !== ref.bytes) {
      throw new Error(`${ref.file} is truncated: ${bytes.length} of ${ref.bytes} bytes`);
    }
    const hash = await sha256Hex(bytes);
    if (hash !== ref.sha256) {
      loadedBytes = before; // a failed file's bytes are not progress
      throw new Error(`${ref.file} failed its sha256 check (corrupt download): got ${hash}`);
    }
    await keep(ref.sha256, ref.file, bytes);
    return bytes;
  };

  report(true);
  const graphs: Uint8Array[] = [];
  const weights: Record<string, Uint8Array> = {};
  for (const b of blocks) {
    graphs.push(await load(b.graph));
    filesDone++;
    report(true);
    if (b.weights) {
      weights[b.weights.file] = await load(b.weights);
      filesDone++;
      report(true);
    }
  }
  return {
    graphs,
    weights,
    bytesFromNetwork,
    bytesFromCache,
    corruptEntries: corrupt.length,
    corrupt,
    notCached,
  };
}
