/**
 * Weights that stay byte ranges of a hub file (see RemoteWeightsRef in core/graph/manifest.ts): one
 * HTTP Range request per range, each answer written straight into the block's weights buffer at its
 * `at` offset, so a phone moves only its own blocks' bytes and never holds the whole file.
 *
 * There is no per-block hash to check against, so this checks everything else the answer carries: a
 * 206 status (a 200 means the server ignored Range and is sending the whole file: abort), a
 * Content-Range equal to the range asked for with the total the leader saw (when the server exposes
 * it), and exactly `length` body bytes. URLs are pinned to a commit, so the bytes cannot change
 * under us between the leader's look and the phone's download.
 */
import type { RemoteWeightsRef } from '../../core/graph/manifest';
import { sha256Hex } from '../../core/sha256';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface RangeReadOptions {
  readonly fetchFn?: FetchFn;
  /** Called with each body chunk's size as it arrives (for progress). */
  readonly onBytes?: (n: number) => void;
  /** Total size the file should have (Content-Range's "/total"), when known. */
  readonly expectedTotal?: number;
}

/** Reads `length` bytes at `offset` of `url` into `into` (or a new buffer), checking the answer. */
export async function fetchRange(
  url: string,
  offset: number,
  length: number,
  options: RangeReadOptions = {},
  into: Uint8Array = new Uint8Array(length),
): Promise<Uint8Array> {
  if (into.length !== length) throw new RangeError(`target holds ${into.length} bytes, range is ${length}`);
  if (length === 0) return into;
  const fetchFn = options.fetchFn ?? fetch;
  const last = offset + length - 1;
  const res = await fetchFn(url, { headers: { Range: `bytes=${offset}-${last}` } });
  const what = `${url} bytes ${offset}–${last}`;
  if (res.status === 200) {
    await res.body?.cancel();
    throw new Error(
      `${url} ignored the Range request and started sending the whole file; cannot fetch a part`,
    );
  }
  if (res.status === 416) throw new Error(`${what}: beyond the end of the file (was it replaced?)`);
  if (res.status !== 206 || !res.body) throw new Error(`${what}: answered ${res.status} ${res.statusText}`);
  const contentRange = res.headers.get('Content-Range');
  if (contentRange) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim());
    if (!m || Number(m[1]) !== offset || Number(m[2]) !== last) {
      await res.body.cancel();
      throw new Error(`${what}: the server sent ${contentRange} instead`);
    }
    if (options.expectedTotal !== undefined && m[3] !== '*' && Number(m[3]) !== options.expectedTotal) {
      await res.body.cancel();
      throw new Error(
        `${url} is ${m[3]} bytes now, the model's graph was read when it had ${options.expectedTotal}: ` +
          'the file changed; open the model again',
      );
    }
  }
  let at = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > length) {
      await reader.cancel();
      throw new Error(`${what}: the server sent more than ${length} bytes`);
    }
    into.set(value, at);
    at += value.length;
    options.onBytes?.(value.length);
  }
  if (at !== length) throw new Error(`${what}: truncated, got ${at} of ${length} bytes`);
  return into;
}

/** Fetches every range of a block and returns its packed weights buffer (what the graph expects). */
export async function fetchRemoteWeights(
  ref: RemoteWeightsRef,
  options: Omit<RangeReadOptions, 'expectedTotal'> = {},
): Promise<Uint8Array> {
  const out = new Uint8Array(ref.bytes);
  for (const r of ref.ranges) {
    const expectedTotal = ref.sourceBytes[r.url];
    await fetchRange(
      r.url,
      r.offset,
      r.length,
      { ...options, ...(expectedTotal === undefined ? {} : { expectedTotal }) },
      out.subarray(r.at, r.at + r.length),
    );
  }
  return out;
}

/** Places already fetched ranges (in `ref.ranges` order) into the block's weights buffer. */
export function packRanges(ref: RemoteWeightsRef, parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length !== ref.ranges.length) {
    throw new RangeError(`${ref.file} has ${ref.ranges.length} ranges, got ${parts.length} parts`);
  }
  const out = new Uint8Array(ref.bytes);
  ref.ranges.forEach((r, i) => {
    const part = parts[i]!;
    if (part.length !== r.length)
      throw new RangeError(`${ref.file} range ${i}: ${part.length} of ${r.length} bytes`);
    out.set(part, r.at);
  });
  return out;
}

/**
 * The cache alias of a remote block: what its bytes are (pinned URLs, ranges, layout), not its name,
 * so the same weights reached from two manifests are one cache entry.
 */
export async function remoteWeightsKey(ref: RemoteWeightsRef): Promise<string> {
  const what = JSON.stringify({
    bytes: ref.bytes,
    ranges: ref.ranges.map((r) => [r.url, r.offset, r.length, r.at]),
  });
  return `ranges:${await sha256Hex(new TextEncoder().encode(what))}`;
}
