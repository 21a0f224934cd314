import { describe, expect, it } from 'vitest';
import { CachingBlockStore } from './block-store';
import { MemoryBackend, MemoryBlockStore } from './memory-block-store';
import { sha256Hex } from './sha256';

function block(seed: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

async function entry(seed: number, length = 400) {
  const bytes = block(seed, length);
  return { bytes, sha: await sha256Hex(bytes) };
}

describe('CachingBlockStore', () => {
  it('round-trips by content hash and misses on unknown hashes', async () => {
    const store = new MemoryBlockStore();
    const a = await entry(1);
    expect(await store.get(a.sha)).toBeNull();
    expect((await store.put(a.sha, a.bytes, { model: 'm', file: 'block-000.weights' })).stored).toBe(true);
    expect(await store.get(a.sha)).toEqual(a.bytes);
  });

  it('stores a view exactly, not the buffer around it', async () => {
    const store = new MemoryBlockStore();
    const big = block(2, 1000);
    const view = big.subarray(100, 300);
    const sha = await sha256Hex(view);
    await store.put(sha, view, { model: 'm', file: 'f' });
    expect((store.memory.data.get(sha) as Uint8Array).buffer.byteLength).toBe(200);
  });

  it.each([
    ['flipped byte', (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 7 ? x ^ 1 : x)), /content hash/],
    ['truncated', (b: Uint8Array) => b.slice(0, 100), /truncated: 100 of 400/],
    ['not bytes', () => 'garbage', /not bytes/],
  ] as const)(
    'detects a corrupt entry (%s): reports it, deletes it, keeps the rest',
    async (_, spoil, why) => {
      const reported: [string, string][] = [];
      const store = new MemoryBlockStore({ onCorrupt: (sha, reason) => reported.push([sha, reason]) });
      const a = await entry(1);
      const b = await entry(2);
      await store.put(a.sha, a.bytes, { model: 'm', file: 'a' });
      await store.put(b.sha, b.bytes, { model: 'm', file: 'b' });
      store.memory.data.set(a.sha, spoil(a.bytes));
      const perCall: string[] = [];
      expect(await store.get(a.sha, (r) => perCall.push(r))).toBeNull();
      expect(perCall).toHaveLength(1);
      expect(perCall[0]).toMatch(why);
      expect(reported).toEqual([[a.sha, perCall[0]]]);
      expect(store.memory.data.has(a.sha)).toBe(false);
      expect(store.memory.index.has(a.sha)).toBe(false);
      expect(await store.get(a.sha)).toBeNull(); // now a plain miss, reported once
      expect(reported).toHaveLength(1);
      expect(await store.get(b.sha)).toEqual(b.bytes);
    },
  );

  it('stores a no-evict put only where it fits, evicting nothing; has() sees what is cached', async () => {
    const store = new MemoryBlockStore({ quotaBytes: 1000 });
    const [a, b, c] = await Promise.all([1, 2, 3].map((s) => entry(s)));
    const meta = { model: 'm', file: 'x' };
    await store.put(a!.sha, a!.bytes, meta);
    expect((await store.put(b!.sha, b!.bytes, meta, { noEvict: true })).stored).toBe(true);
    const r = await store.put(c!.sha, c!.bytes, meta, { noEvict: true });
    expect(r).toMatchObject({ stored: false, evicted: [] });
    expect(await store.has(a!.sha)).toBe(true);
    expect(await store.has(b!.sha)).toBe(true);
    expect(await store.has(c!.sha)).toBe(false);
  });

  it('evicts least recently used blocks when the quota is reached, never pinned ones', async () => {
    const store = new MemoryBlockStore({ quotaBytes: 1000 });
    const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map((s) => entry(s)));
    const meta = { model: 'm', file: 'x' };
    await store.put(a!.sha, a!.bytes, meta);
    await store.put(b!.sha, b!.bytes, meta);
    expect((await store.put(c!.sha, c!.bytes, meta)).evicted).toEqual([a!.sha]);
    await store.get(b!.sha); // b is now more recent than c
    expect((await store.put(d!.sha, d!.bytes, meta)).evicted).toEqual([c!.sha]);
    const r = await store.put(e!.sha, e!.bytes, meta, { pinned: new Set([b!.sha, d!.sha]) });
    expect(r).toMatchObject({ stored: false, evicted: [] });
    expect(r.reason).toMatch(/space/);
    expect(await store.get(b!.sha)).toEqual(b!.bytes);
    expect(await store.get(d!.sha)).toEqual(d!.bytes);
  });

  it('frees more space and retries when the storage refuses a write for quota', async () => {
    class Refusing extends MemoryBackend {
      refusals = 1;
      override async writeData(sha: string, bytes: Uint8Array): Promise<void> {
        if (this.refusals-- > 0) throw new DOMException('full', 'QuotaExceededError');
        await super.writeData(sha, bytes);
      }
    }
    const backend = new Refusing();
    const store = new CachingBlockStore(backend);
    const a = await entry(1);
    const b = await entry(2);
    backend.refusals = 0;
    await store.put(a.sha, a.bytes, { model: 'm', file: 'a' });
    backend.refusals = 1;
    expect(await store.put(b.sha, b.bytes, { model: 'm', file: 'b' })).toMatchObject({
      stored: true,
      evicted: [a.sha],
    });
    backend.refusals = 1;
    const c = await entry(3);
    const r = await store.put(c.sha, c.bytes, { model: 'm', file: 'c' }, { pinned: new Set([b.sha]) });
    expect(r.stored).toBe(false);
    expect(r.reason).toMatch(/refused/);
  });

  it('asks for persistent storage once, and reports it', async () => {
    let asked = 0;
    const store = new MemoryBlockStore({ persist: async () => ++asked > 0 });
    expect((await store.usage()).persisted).toBeNull();
    for (const s of [1, 2, 3]) {
      const x = await entry(s);
      await store.put(x.sha, x.bytes, { model: 'm', file: `f${s}` });
    }
    expect(asked).toBe(1);
    expect(await store.usage()).toMatchObject({ persisted: true, blocks: 3, bytes: 1200 });
  });

  it('stores a block shared by two models once; lists and clears per model', async () => {
    const store = new MemoryBlockStore();
    const shared = await entry(1, 100);
    const onlyA = await entry(2, 200);
    const onlyB = await entry(3, 300);
    await store.put(shared.sha, shared.bytes, { model: 'A', file: 'block-000.onnx' });
    await store.put(onlyA.sha, onlyA.bytes, { model: 'A', file: 'block-001.onnx' });
    await store.put(shared.sha, shared.bytes, { model: 'B', file: 'block-000.onnx' });
    await store.put(onlyB.sha, onlyB.bytes, { model: 'B', file: 'block-001.onnx' });
    expect(store.memory.data.size).toBe(3);
    const list = await store.list();
    expect(list.map(({ model, files, bytes }) => ({ model, files, bytes }))).toEqual([
      { model: 'B', files: 2, bytes: 400 },
      { model: 'A', files: 2, bytes: 300 },
    ]);
    expect(await store.clearModel('A')).toBe(200);
    expect(await store.get(shared.sha)).toEqual(shared.bytes); // B still uses it
    expect(await store.get(onlyA.sha)).toBeNull();
    expect((await store.list()).map((m) => m.model)).toEqual(['B']);
    await store.clearAll();
    expect(await store.usage()).toMatchObject({ blocks: 0, bytes: 0 });
  });

  it('remembers aliases for blocks hashed after download', async () => {
    const store = new MemoryBlockStore();
    expect(await store.getAlias('ranges:x')).toBeNull();
    await store.setAlias('ranges:x', 'ab'.repeat(32));
    expect(await store.getAlias('ranges:x')).toBe('ab'.repeat(32));
  });
});
