/**
 * Builds the test pages (this folder) with vite, serves them with the real Chorus server (COOP/COEP
 * headers, PeerServer relay) and launches Debian Chromium with the flags the room simulator uses.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';
import { type RunningServer, startServer } from '../../signaling-server/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestPages {
  readonly server: RunningServer;
  readonly browser: Browser;
  close(): Promise<void>;
}

export async function startTestPages(): Promise<TestPages> {
  const outDir = mkdtempSync(path.join(tmpdir(), 'chorus-test-pages-'));
  await build({ configFile: path.join(import.meta.dirname, 'vite.config.ts'), build: { outDir } });
  const server = await startServer({ appDir: outDir, https: 'off', log: () => {} });
  const browser = await chromium
    .launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    .catch(async (e) => {
      await server.close();
      throw e;
    });
  return {
    server,
    browser,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
