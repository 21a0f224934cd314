/**
 * The laptop case: the server serves the LAN over HTTPS, the leader's page is opened on this machine's
 * loopback origin (the first URL the terminal prints), and the join link and its QR code must still point
 * at the server's LAN address, which a second page then joins through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jsQR from 'jsqr';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../signaling-server/server';
import { APP_DIR } from '../tools/app-build';
import { CHROMIUM, CHROMIUM_ARGS } from '../tools/room/simulator';

let server: RunningServer;
let browser: Browser;
const certDir = mkdtempSync(path.join(tmpdir(), 'chorus-join-certs-'));

beforeAll(async () => {
  server = await startServer({
    host: '0.0.0.0',
    port: 0,
    https: 'on',
    certDir,
    appDir: APP_DIR,
    log: () => {},
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(certDir, { recursive: true, force: true });
});

/** The QR code's pixels, read back through a canvas in the page, decoded in Node. */
async function decodeQr(page: Page): Promise<string | null> {
  const img = await page.locator('img[alt="QR code of the join link"]').evaluate(async (el) => {
    const image = el as HTMLImageElement;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(image, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return { width: data.width, height: data.height, pixels: Array.from(data.data) };
  });
  return jsQR(Uint8ClampedArray.from(img.pixels), img.width, img.height)?.data ?? null;
}

describe('join link from a leader on the laptop', () => {
  it('uses the server’s LAN URL in the link and QR code, and a second page joins through it', async () => {
    // Inside netns-run the LAN is the namespace's veth address; the server lists it.
    const lan = server.lanUrls[0];
    expect(lan, 'the server should list a LAN URL').toBeTruthy();
    expect(server.url).toMatch(/^https:\/\/localhost:/);

    const leaderContext = await browser.newContext({ ignoreHTTPSErrors: true });
    const phoneContext = await browser.newContext({ ignoreHTTPSErrors: true });
    const leader = await leaderContext.newPage();
    await leader.goto(server.url);
    await leader.getByTestId('create-room').click();
    const joinLink = leader.getByTestId('join-link');
    await expect
      .poll(() => joinLink.getAttribute('href'), { timeout: 30_000 })
      .toMatch(new RegExp(`^${lan}#room=`));
    const href = (await joinLink.getAttribute('href'))!;
    expect(new URLSearchParams(new URL(href).hash.slice(1)).get('secret')).toBeTruthy();

    await expect.poll(() => decodeQr(leader), { timeout: 30_000 }).toBe(href);

    const phone = await phoneContext.newPage();
    await phone.goto((await decodeQr(leader))!);
    const cards = leader.getByTestId('phone-card');
    await expect
      .poll(() => cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), {
        timeout: 60_000,
      })
      .toEqual(['idle', 'idle']);
    expect(new URL(phone.url()).origin).toBe(new URL(lan!).origin);
    await leaderContext.close();
    await phoneContext.close();
  });
});
