/**
 * Shards: each phone moves only its blocks, once. A second join with the same model moves zero block
 * bytes (counted at the phones and on the wire), a corrupted cached block is detected and refetched,
 * a model opened from the leader's disk reaches the phones peer-to-peer, and a model from the hub
 * (a local mimic of its URL layout and Range behaviour) loads — or fails with a clear message.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubMimic, startHubMimic } from '../tools/hub-mimic/hub-mimic';
import { REPO } from '../tools/room/prepare-models';
import { SimulatedRoom } from '../tools/room/simulator';
import { SHARED_MODELS, storiesReference, testModels } from './fixtures';

const log = (line: string) => process.stderr.write(`${line}\n`);
const reference = storiesReference().prompts[0]!;

describe('a returning room starts from its cache', () => {
  let room: SimulatedRoom;
  const blockRequests: string[] = [];
  const count = (r: Request) => {
    if (/\/models\/[^/]+\/block-/.test(r.url())) blockRequests.push(r.url());
  };
  beforeAll(async () => {
    room = await SimulatedRoom.open({ devices: 3, models: await testModels(), log });
    for (const c of room.contexts) c.on('request', count);
  });
  afterAll(() => room?.close());

  it('a second join with the same model moves zero block bytes (time-to-ready: npm run bench -- join)', async () => {
    let t0 = performance.now();
    await room.loadModel('stories260k');
    const cold = performance.now() - t0;
    const coldStats = await room.loadStats();
    expect(coldStats.every((s) => s.bytesFromNetwork > 0 && s.bytesFromCache === 0)).toBe(true);
    expect(blockRequests.length).toBeGreaterThan(0);
    // Idle, the room measures its phones and they cache their backups: a second visit then downloads
    // nothing at all.
    await room.waitForMeasured();
    await room.waitForBackups();

    await room.reform();
    blockRequests.length = 0;
    t0 = performance.now();
    await room.loadModel('stories260k');
    const warm = performance.now() - t0;
    const warmStats = await room.loadStats();
    log(`time-to-ready: cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms`);
    expect(warmStats.map((s) => s.bytesFromNetwork)).toEqual([0, 0, 0]);
    expect(warmStats.every((s) => s.bytesFromCache > 0)).toBe(true);
    expect(blockRequests).toEqual([]);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: 16 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 16));
  });

  it('a corrupted cached block is detected, discarded and downloaded again', async () => {
    // Flip bytes of one block of phone 2's own stage, straight in its IndexedDB.
    const phone = room.pages[2]!;
    const stage = (await room.leader.evaluate(() => window.__chorus!.plan()!.stages))[2]!;
    const manifest = await phone.evaluate(
      async () =>
        (await (await fetch('/models/stories260k/manifest.json')).json()) as {
          blocks: { graph: { sha256: string } }[];
        },
    );
    const target = manifest.blocks[stage.firstBlock]!.graph.sha256;
    const corrupted = await phone.evaluate(async (key) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('chorus-blocks');
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const tx = db.transaction('data', 'readwrite');
      const store = tx.objectStore('data');
      const keys = await new Promise<IDBValidKey[]>((resolve) => {
        const r = store.getAllKeys();
        r.onsuccess = () => resolve(r.result);
      });
      if (!keys.includes(key)) return 0;
      const value = await new Promise<unknown>((resolve) => {
        const r = store.get(key);
        r.onsuccess = () => resolve(r.result);
      });
      const bytes = new Uint8Array(
        value instanceof ArrayBuffer ? value : (value as Uint8Array).buffer,
      ).slice();
      const mid = bytes.length >> 1;
      bytes[mid] = bytes[mid]! ^ 0xff;
      store.put(bytes, key);
      await new Promise((resolve) => {
        tx.oncomplete = resolve;
      });
      return keys.length;
    }, target);
    expect(corrupted).toBeGreaterThan(0);
    await room.reform();
    blockRequests.length = 0;
    await room.loadModel('stories260k');
    const stats = await room.loadStats();
    expect(stats[2]!.corrupt).toHaveLength(1);
    expect(stats[2]!.bytesFromNetwork).toBeGreaterThan(0);
    expect(stats[0]!.bytesFromNetwork).toBe(0);
    expect(blockRequests).toHaveLength(1);
    const notice = await room.pages[2]!.getByTestId('cache-notice').textContent();
    expect(notice).toMatch(/corrupt/);
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: 16 });
    expect(r.generatedIds).toEqual(reference.generated_ids.slice(0, 16));
  });
});

describe('a model from the leader’s own disk', () => {
  const dir = path.join(REPO, '.models', 'p2p-34mb');
  beforeAll(() => {
    execFileSync(
      process.execPath,
      [
        path.join(REPO, 'node_modules/tsx/dist/cli.mjs'),
        'tools/gen-model/main.ts',
        '--preset',
        'tiny',
        '--hidden',
        '256',
        '--layers',
        '6',
        '--heads',
        '4',
        '--kv-heads',
        '2',
        '--intermediate',
        '688',
        '--vocab',
        '8000',
        '--dtype',
        'fp32',
        '--out',
        dir,
      ],
      { cwd: REPO, stdio: 'ignore' },
    );
  });

  it('reaches the phones peer-to-peer (34 MB), and runs as it does on one phone', async () => {
    const ids: number[][] = [];
    for (const devices of [1, 2]) {
      const room = await SimulatedRoom.open({ devices, models: [], log });
      const served: string[] = [];
      for (const c of room.contexts)
        c.on('request', (r) => r.url().includes('/models/') && served.push(r.url()));
      try {
        await room.loadLocalModel(dir);
        const stats = await room.loadStats();
        if (devices === 2) expect(stats[1]!.bytesFromNetwork).toBeGreaterThan(10e6); // over the data channel
        expect(served).toEqual([]);
        ids.push((await room.generate({ promptIds: [1, 2, 3, 4], maxNewTokens: 8 })).generatedIds);
      } finally {
        await room.close();
      }
    }
    expect(ids[1]).toEqual(ids[0]);
  });
});

describe('a model from the hub', () => {
  let hub: HubMimic;
  let room: SimulatedRoom;
  beforeAll(async () => {
    hub = await startHubMimic({
      models: [{ id: 'onnx-community/stories260k', dir: path.join(SHARED_MODELS, 'stories260k') }],
    });
    room = await SimulatedRoom.open({ devices: 2, models: [], log });
  });
  afterAll(async () => {
    await room?.close();
    await hub?.close();
  });

  it('loads by model id and dtype and reproduces the reference', async () => {
    await room.loadHubModel(hub.url, 'onnx-community/stories260k', 'fp32');
    const r = await room.generate({ prompt: reference.prompt, maxNewTokens: reference.generated_ids.length });
    expect(r.generatedIds).toEqual(reference.generated_ids);
  });

  it('a wrong model id says so clearly', async () => {
    await expect(room.loadHubModel(hub.url, 'onnx-community/no-such-model', 'fp32')).rejects.toThrow(
      /no model onnx-community\/no-such-model/,
    );
  });
});
