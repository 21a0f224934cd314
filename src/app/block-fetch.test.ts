/**
 * fetchStageFiles with a cache: a second load moves zero network bytes, a corrupt cache entry is
 * detected, refetched and reported, a corrupt download is refused and never cached, and progress
 * carries a rate and time left. Files are served by a fake fetch that counts the bytes it sends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDecoder, type Sharded, shardInMemory } from '../core/graph/test-graphs';
import { MemoryBlockStore } from '../core/memory-block-store';
import { type FetchProgress, type FileSource, fetchStageFiles } from './block-fetch';

const BASE = 'http://models.test/tiny/';

function fakeServer(files: ReadonlyMap<string, Uint8Array>) {
  const served = { bytes: 0, requests: 0 };
  let spoil: ((file: string, b: Uint8Array) => Uint8Array) | null = null;
  const fetchFn = async (url: string) => {
    const file = url.slice(BASE.length);
    const bytes = files.get(file);
    served.requests++;
    if (!bytes) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const body = spoil ? spoil(file, bytes) : bytes;
    served.bytes += body.length;
    return new Response(body.slice());
  };
  return { fetchFn, served, setSpoil: (f: typeof spoil) => (spoil = f) };
}

let s: Sharded;
let all: number;
beforeAll(async () => {
  s = await shardInMemory(buildDecoder({ layers: 3, external: true }));
  all = [...s.files.values()].reduce((n, b) => n + b.length, 0);
});

/** Bytes compared by content (protobufjs gives Buffers in Node, fetch gives Uint8Arrays). */
const b64 = (xs: readonly Uint8Array[]) => xs.map((x) => Buffer.from(x).toString('base64'));
const last = () => s.manifest.blocks.length - 1;
const noProgress = () => {};

describe('fetchStageFiles', () => {
  it('without a store: every byte from the network, verified', async () => {
    const server = fakeServer(s.files);
    const r = await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, { fetchFn: server.fetchFn });
    expect(b64(r.graphs)).toEqual(b64(s.graphs));
    expect(r.bytesFromNetwork).toBe(all);
    expect(r.bytesFromCache).toBe(0);
    expect(server.served.bytes).toBe(all);
  });

  it('keeps working with the old five-argument call', async () => {
    const server = fakeServer(s.files);
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((input: string | URL) => server.fetchFn(String(input))) as typeof fetch;
    try {
      const r = await fetchStageFiles(BASE, s.manifest, 1, 2, noProgress);
      expect(b64(r.graphs)).toEqual(b64(s.graphs.slice(1, 3)));
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('a second load with the same store moves zero bytes over the network', async () => {
    const server = fakeServer(s.files);
    const store = new MemoryBlockStore();
    const cold = await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, {
      store,
      fetchFn: server.fetchFn,
    });
    expect(cold.bytesFromNetwork).toBe(all);
    const servedCold = server.served.bytes;
    const warm = await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, {
      store,
      fetchFn: server.fetchFn,
    });
    expect(server.served.bytes).toBe(servedCold); // not one byte more
    expect(warm.bytesFromNetwork).toBe(0);
    expect(warm.bytesFromCache).toBe(all);
    expect(warm.graphs).toEqual(cold.graphs);
    expect(warm.weights).toEqual(cold.weights);
    expect((await store.list())[0]).toMatchObject({
      model: s.manifest.name,
      files: s.files.size,
      bytes: all,
    });
  });

  it('a corrupt cached block is detected, reported, refetched and cached again', async () => {
    const server = fakeServer(s.files);
    const store = new MemoryBlockStore();
    await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, { store, fetchFn: server.fetchFn });
    const victim = s.manifest.blocks[1]!.weights!;
    if (victim.sha256 === null) throw new Error('expected a hashed weights file');
    const stored = store.memory.data.get(victim.sha256) as Uint8Array;
    store.memory.data.set(
      victim.sha256,
      Uint8Array.from(stored, (x, i) => (i === 3 ? x ^ 0xff : x)),
    );
    const seen: string[] = [];
    const before = server.served.bytes;
    const r = await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, {
      store,
      fetchFn: server.fetchFn,
      onCorrupt: (file) => seen.push(file),
    });
    expect(r.corruptEntries).toBe(1);
    expect(r.corrupt[0]!.file).toBe(victim.file);
    expect(r.corrupt[0]!.reason).toMatch(/content hash/);
    expect(seen).toEqual([victim.file]);
    expect(r.bytesFromNetwork).toBe(victim.bytes);
    expect(server.served.bytes - before).toBe(victim.bytes);
    expect(b64([r.weights[victim.file]!])).toEqual(b64([s.files.get(victim.file)!]));
    const again = await fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, {
      store,
      fetchFn: server.fetchFn,
    });
    expect(again).toMatchObject({ bytesFromNetwork: 0, corruptEntries: 0 });
  });

  it('a corrupt download is refused and never cached', async () => {
    const server = fakeServer(s.files);
    const store = new MemoryBlockStore();
    server.setSpoil((file, b) => (file === 'block-001.weights' ? Uint8Array.from(b, (x) => x ^ 1) : b));
    await expect(
      fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, { store, fetchFn: server.fetchFn }),
    ).rejects.toThrow(/block-001.weights failed its sha256 check/);
    expect((await store.list())[0]?.files ?? 0).toBeLessThan(s.files.size);
    expect([...store.memory.index.values()].some((e) => e.refs[0]!.file === 'block-001.weights')).toBe(false);
  });

  it('a missing file names the URL and status', async () => {
    const files = new Map(s.files);
    files.delete('block-002.onnx');
    await expect(
      fetchStageFiles(BASE, s.manifest, 0, last(), noProgress, { fetchFn: fakeServer(files).fetchFn }),
    ).rejects.toThrow(/block-002.onnx answered 404/);
  });

  it('reads from a given FileSource (the leader, for a model it opened) instead of HTTP', async () => {
    const source: FileSource = { read: async (ref) => s.files.get(ref.file)!.slice() };
    const manifest = { ...s.manifest, blockSource: 'leader' as const };
    const r = await fetchStageFiles(BASE, manifest, 0, last(), noProgress, { source });
    expect(b64(r.graphs)).toEqual(b64(s.graphs));
    await expect(fetchStageFiles(BASE, manifest, 0, last(), noProgress)).rejects.toThrow(
      /come from the leader/,
    );
  });

  it('reports bytes, rate and time left', async () => {
    let t = 0;
    const slow = fakeServer(s.files);
    const fetchFn = async (url: string) => {
      t += 500; // each file takes half a second on this fake clock
      return slow.fetchFn(url);
    };
    const seen: FetchProgress[] = [];
    await fetchStageFiles(BASE, s.manifest, 0, last(), (p) => seen.push(p), { fetchFn, now: () => t });
    const lastSeen = seen.at(-1)!;
    expect(lastSeen).toMatchObject({
      loadedBytes: all,
      totalBytes: all,
      filesDone: s.files.size,
      secondsLeft: 0,
    });
    const mid = seen.find((p) => p.loadedBytes > 0 && p.loadedBytes < all && p.bytesPerSecond > 0);
    expect(mid).toBeDefined();
    expect(mid!.secondsLeft).toBeCloseTo((all - mid!.loadedBytes) / mid!.bytesPerSecond);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i]!.loadedBytes).toBeGreaterThanOrEqual(seen[i - 1]!.loadedBytes);
  });
});
