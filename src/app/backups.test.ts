/**
 * Backups: a phone caches the blocks it is told to, one at a time, only while it runs no answer, never
 * evicting anything, and a later load of those blocks moves no network bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDecoder, type Sharded, shardInMemory } from '../core/graph/test-graphs';
import { MemoryBlockStore } from '../core/memory-block-store';
import { Backups } from './backups';
import { type FileSource, fetchStageFiles } from './block-fetch';

let s: Sharded;
beforeAll(async () => {
  s = await shardInMemory(buildDecoder({ layers: 3, external: true }));
});

function source() {
  const read: string[] = [];
  const src: FileSource = {
    async read(ref, onBytes) {
      read.push(ref.file);
      const bytes = s.files.get(ref.file)!;
      onBytes(bytes.length);
      return bytes.slice();
    },
  };
  return { src, read };
}

const settle = async (b: Backups) => {
  for (let i = 0; i < 200 && b.status().pending > 0 && !b.status().stopped; i++)
    await new Promise((r) => setTimeout(r, 5));
};

describe('Backups', () => {
  it('caches the named blocks, so loading them later downloads nothing', async () => {
    const store = new MemoryBlockStore();
    const { src, read } = source();
    const backups = new Backups({ store, idle: async () => {}, log: () => {} });
    backups.start('x:', s.manifest, src, [2, 1]);
    await settle(backups);
    expect(backups.status()).toEqual({ pending: 0, fetched: 2, stopped: null });
    expect(read.length).toBeGreaterThan(0);
    read.length = 0;
    const r = await fetchStageFiles('x:', s.manifest, 1, 2, () => {}, { store, source: src });
    expect(r.bytesFromNetwork).toBe(0);
    expect(read).toEqual([]);
  });

  it('skips what is cached already and waits while an answer runs', async () => {
    const store = new MemoryBlockStore();
    const { src, read } = source();
    await fetchStageFiles('x:', s.manifest, 1, 1, () => {}, { store, source: src });
    read.length = 0;
    let busy = true;
    const idle = async () => {
      while (busy) await new Promise((r) => setTimeout(r, 5));
    };
    const backups = new Backups({ store, idle, log: () => {} });
    backups.start('x:', s.manifest, src, [1, 2]);
    await new Promise((r) => setTimeout(r, 50));
    expect(read).toEqual([]); // block 1 was cached; block 2 waits for the answer to end
    expect(backups.status().pending).toBe(1);
    busy = false;
    await settle(backups);
    expect(backups.status()).toEqual({ pending: 0, fetched: 1, stopped: null });
  });

  it('stops, evicting nothing, when the cache is full', async () => {
    const first = [...s.files.values()][0]!.length;
    const store = new MemoryBlockStore({ quotaBytes: first + 64 });
    const { src } = source();
    const backups = new Backups({ store, idle: async () => {}, log: () => {} });
    backups.start('x:', s.manifest, src, [0, 1, 2]);
    await settle(backups);
    expect(backups.status().stopped).toMatch(/no room/);
    expect(backups.status().pending).toBeGreaterThan(0);
  });

  it('a stopped round fetches nothing more', async () => {
    const store = new MemoryBlockStore();
    const { src, read } = source();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const backups = new Backups({ store, idle: () => gate, log: () => {} });
    backups.start('x:', s.manifest, src, [1, 2]);
    backups.stop();
    release();
    await new Promise((r) => setTimeout(r, 30));
    expect(read).toEqual([]);
  });
});
