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
import { CHROMIUM, CHROMIUM_ARGS } from '../../tools/room/simulator';

// Launch settings shared with the room simulator (see browser-stack-facts: no background networking).

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
