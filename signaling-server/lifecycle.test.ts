// Starting and stopping: clear startup errors, and a close() that really lets the process exit.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './server';
import { makeTempDir } from './test-helpers';

const here = path.dirname(fileURLToPath(import.meta.url));
const quiet = { log: () => {} };

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  tmp = await makeTempDir('lifecycle');
});
afterAll(async () => {
  await tmp?.remove();
});

describe('startup errors', () => {
  it('says to build the app when the app directory is missing', async () => {
    await expect(
      startServer({ ...quiet, https: 'off', appDir: path.join(tmp.dir, 'no-such-dist') }),
    ).rejects.toThrow(/npm run build/);
  });

  it('says to build the app when index.html is missing', async () => {
    await expect(startServer({ ...quiet, https: 'off', appDir: tmp.dir })).rejects.toThrow(/index\.html/);
  });

  it('names the busy port', async () => {
    const first = await startServer({ ...quiet, https: 'off', appDir: null });
    try {
      await expect(startServer({ ...quiet, https: 'off', appDir: null, port: first.port })).rejects.toThrow(
        new RegExp(`port ${first.port} .*already in use`),
      );
    } finally {
      await first.close();
    }
  });

  it('rejects a missing model folder and bad or duplicate model names', async () => {
    const base = { ...quiet, https: 'off' as const, appDir: null };
    await expect(
      startServer({ ...base, models: [{ name: 'm', dir: path.join(tmp.dir, 'x') }] }),
    ).rejects.toThrow(/model folder for "m" not found/);
    await expect(startServer({ ...base, models: [{ name: '../m', dir: tmp.dir }] })).rejects.toThrow(
      /invalid model name/,
    );
    await expect(
      startServer({
        ...base,
        models: [
          { name: 'm', dir: tmp.dir },
          { name: 'm', dir: tmp.dir },
        ],
      }),
    ).rejects.toThrow(/mounted twice/);
  });

  it('refuses a certificate without its key', async () => {
    await expect(
      startServer({ ...quiet, appDir: null, certFile: path.join(tmp.dir, 'c.pem') }),
    ).rejects.toThrow(/both certFile and keyFile/);
  });
});

describe('close()', () => {
  it('can be called twice', async () => {
    const server = await startServer({ ...quiet, https: 'off', appDir: null });
    await server.close();
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });

  it('leaves nothing running: a process that used the relay exits on its own', () => {
    // The fixture uses the relay long enough for peer's housekeeping timers to re-arm, then
    // closes. Without close() stopping them the child would hang until the timeout kills it.
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures', 'close-then-exit.ts')],
      {
        cwd: path.resolve(here, '..'),
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(child.error).toBeUndefined();
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('closed');
  });
});
