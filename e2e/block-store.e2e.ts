/**
 * The IndexedDB block store in real Chromium: blocks survive a page reload, persist() is asked once,
 * least recently used blocks are evicted first (never pinned ones; the order survives a reload), and
 * a corrupt or truncated stored value is detected on read, reported, deleted, and nothing else lost.
 * The adapter runs in a dedicated test page (e2e/pages/), built here with vite.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockStorePageApi } from './pages/block-store-page';
import { startTestPages, type TestPages } from './pages/serve-pages';

let pages: TestPages;
let page: Page;

type Api = BlockStorePageApi;
/** Calls one page API method with JSON arguments. */
function call<K extends keyof Api>(
  name: K,
  ...args: Parameters<Api[K]>
): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const method = window.blockStoreTest![n as keyof Api] as (...x: unknown[]) => unknown;
      return method.apply(window.blockStoreTest, a as unknown[]);
    },
    [name, args] as const,
  ) as Promise<Awaited<ReturnType<Api[K]>>>;
}

async function load(): Promise<void> {
  await page.goto(pages.server.url);
  await page.waitForFunction(() => 'blockStoreTest' in window);
}

beforeAll(async () => {
  pages = await startTestPages();
  page = await (await pages.browser.newContext()).newPage();
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  await load();
});

afterAll(() => pages?.close());

describe('IndexedDB block store', () => {
  const shas: string[] = [];

  it('round-trips blocks, stores a shared block once, and asks for persistence once', async () => {
    await call('open', 'rt-', null);
    for (const seed of [1, 2, 3]) {
      const r = await call('put', seed, 300_000, 'model-a', `block-00${seed}.weights`);
      expect(r.stored).toBe(true);
      shas.push(r.sha);
    }
    expect((await call('put', 1, 300_000, 'model-b', 'block-000.weights')).sha).toBe(shas[0]);
    for (const sha of shas) expect(await call('get', sha)).toEqual({ found: true, sha, corrupt: [] });
    expect(await call('usage')).toMatchObject({ blocks: 3, bytes: 900_000 });
    expect((await call('list')).map((m) => [m.model, m.files, m.bytes]).sort()).toEqual([
      ['model-a', 3, 900_000],
      ['model-b', 1, 300_000],
    ]);
    expect(await call('persistCalls')).toBe(1);
    const usage = await call('usage');
    expect(typeof usage.persisted).toBe('boolean');
    expect(usage.quota).toBeGreaterThan(0);
  });

  it('keeps the blocks across a page reload', async () => {
    await load();
    await call('open', 'rt-', null);
    for (const sha of shas) expect(await call('get', sha)).toEqual({ found: true, sha, corrupt: [] });
    expect(await call('usage')).toMatchObject({ blocks: 3, bytes: 900_000 });
  });

  it.each([
    ['flip', /content hash/],
    ['truncate', /truncated: 150000 of 300000 bytes/],
    ['string', /not bytes/],
  ] as const)(
    'detects a corrupt stored value (%s), reports it, deletes it, keeps the rest',
    async (how, why) => {
      await call('open', `bad-${how}-`, null);
      const a = await call('put', 11, 300_000, 'm', 'a');
      const b = await call('put', 12, 300_000, 'm', 'b');
      await call('corrupt', a.sha, how);
      const r = await call('get', a.sha);
      expect(r.found).toBe(false);
      expect(r.corrupt).toHaveLength(1);
      expect(r.corrupt[0]).toMatch(why);
      expect((await call('storeWideCorruptReports')).at(-1)).toEqual([a.sha, r.corrupt[0]]);
      expect(await call('get', a.sha)).toEqual({ found: false, sha: null, corrupt: [] }); // gone: a plain miss now
      expect(await call('get', b.sha)).toEqual({ found: true, sha: b.sha, corrupt: [] });
      expect(await call('usage')).toMatchObject({ blocks: 1 });
      expect((await call('put', 11, 300_000, 'm', 'a')).stored).toBe(true); // refetched and cached again
      expect((await call('get', a.sha)).found).toBe(true);
    },
  );

  it('evicts least recently used blocks first, never pinned ones, with the order kept across a reload', async () => {
    await call('open', 'lru-', 1000); // room for three 300-byte blocks (5% of the quota stays free)
    const [a, b, c] = [
      await call('put', 21, 300, 'm', 'a'),
      await call('put', 22, 300, 'm', 'b'),
      await call('put', 23, 300, 'm', 'c'),
    ];
    const d = await call('put', 24, 300, 'm', 'd');
    expect(d.evicted).toEqual([a.sha]);
    await call('get', b.sha); // b is now used more recently than c
    const e = await call('put', 25, 300, 'm', 'e');
    expect(e.evicted).toEqual([c.sha]);
    const f = await call('put', 26, 300, 'm', 'f', [b.sha, d.sha, e.sha]);
    expect(f).toMatchObject({ stored: false, evicted: [] });
    await load();
    await call('open', 'lru-', 1000);
    const g = await call('put', 27, 300, 'm', 'g');
    expect(g.evicted).toEqual([d.sha]); // d, then b (touched), then e: the oldest use goes first
    for (const x of [b, e, g]) expect((await call('get', x.sha)).found).toBe(true);
    expect((await call('get', d.sha)).found).toBe(false);
  });

  it('clears one model, keeping blocks another model shares, then everything', async () => {
    await call('open', 'rt-', null);
    expect(await call('clearModel', 'model-a')).toBe(600_000);
    expect((await call('get', shas[0]!)).found).toBe(true); // model-b still uses it
    expect((await call('list')).map((m) => m.model)).toEqual(['model-b']);
    await call('clearAll');
    expect(await call('usage')).toMatchObject({ blocks: 0, bytes: 0 });
  });
});
