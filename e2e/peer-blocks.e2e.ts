/**
 * Peer-to-peer block delivery between two real Chromium pages over WebRTC (peerjs, the server's
 * PeerServer): a 24 MB file arrives whole and sha256-verified, every message under the 256 KB SCTP
 * limit, and the sender's data-channel queue stays bounded by backpressure instead of growing to the
 * file's size (Chromium's channel throws at 16 MB queued).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {} from './pages/peer-blocks-page'; // window.peerTest
import { startTestPages, type TestPages } from './pages/serve-pages';

let pages: TestPages;
beforeAll(async () => {
  pages = await startTestPages();
});
afterAll(() => pages?.close());

describe('peer-to-peer block transfer', () => {
  it('moves a 24 MB block from the leader page to a phone page with bounded buffering', async () => {
    const bytes = 24 * 1024 * 1024;
    const [leader, phone] = await Promise.all(
      [0, 1].map(async () => {
        const page = await (await pages.browser.newContext()).newPage();
        page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
        await page.goto(`${pages.server.url}peer.html`);
        await page.waitForFunction(() => 'peerTest' in window);
        return page;
      }),
    );
    const id = `leader-${Date.now()}`;
    await leader!.evaluate(([i, n]) => window.peerTest!.serve(i, n), [id, bytes] as const);
    const r = await phone!.evaluate(([i, n]) => window.peerTest!.fetch(i, n), [id, bytes] as const);
    const maxBuffered = await leader!.evaluate(() => window.peerTest!.maxBuffered());
    console.log(
      `24 MB over WebRTC in ${(r.ms / 1000).toFixed(2)} s (${(bytes / r.ms / 1000).toFixed(1)} MB/s), ` +
        `sender queue peaked at ${(maxBuffered / 1024).toFixed(0)} KB`,
    );
    expect(r.bytes).toBe(bytes);
    expect(r.sha).toBe(r.expected);
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(1024 * 1024 + 256 * 1024);
  });
});
