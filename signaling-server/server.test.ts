// The app and model routes, over real HTTP against a server on an ephemeral port.
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from './server';
import { expectIsolationHeaders, makeTempDir, patternBytes, rawGet } from './test-helpers';

const WEIGHTS = patternBytes(1000);
const SECRET = 'top secret, outside every mount';
const INDEX_HTML = '<!doctype html><title>Chorus test</title>';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
let server: RunningServer;
const logLines: string[] = [];

beforeAll(async () => {
  tmp = await makeTempDir('server');
  const app = path.join(tmp.dir, 'app');
  await mkdir(path.join(app, 'assets'), { recursive: true });
  await writeFile(path.join(app, 'index.html'), INDEX_HTML);
  await writeFile(path.join(app, 'assets', 'main-3f2a9c.js'), 'export const x = 1;');
  await writeFile(path.join(app, 'assets', 'ort-1a2b.wasm'), Buffer.from([0, 97, 115, 109]));
  await writeFile(path.join(app, 'worker.mjs'), 'self.onmessage = () => {};');
  await writeFile(path.join(tmp.dir, 'secret.txt'), SECRET);
  const m1 = path.join(tmp.dir, 'models', 'm1');
  await mkdir(path.join(m1, 'sub'), { recursive: true });
  await writeFile(path.join(m1, 'weights.bin'), WEIGHTS);
  await writeFile(path.join(m1, 'model.onnx'), Buffer.from('onnx-bytes'));
  await writeFile(path.join(m1, 'sub', 'config.json'), '{"layers":2}');
  const m2 = path.join(tmp.dir, 'models', 'm2');
  await mkdir(m2, { recursive: true });
  await writeFile(path.join(m2, 'other.bin'), 'm2 data');

  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    https: 'off',
    appDir: app,
    models: [
      { name: 'm1', dir: m1 },
      { name: 'm2', dir: m2 },
    ],
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await server?.close();
  await tmp?.remove();
});

const get = (p: string, init?: RequestInit): Promise<Response> => fetch(new URL(p, server.url), init);

describe('startServer basics', () => {
  it('reports the real port for port 0 and logs the URL to open', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.secure).toBe(false);
    expect(server.lanUrls).toEqual([]);
    expect(logLines.some((l) => l.includes(server.url))).toBe(true);
  });

  it('hands pages its LAN URLs at /config.json (none when it serves loopback only), never cached', async () => {
    const res = await get('/config.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ lanUrls: [] });
  });
});

describe('app files', () => {
  it('serves index.html for / with isolation headers and no-cache', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX_HTML);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expectIsolationHeaders(res.headers);
  });

  it('serves hashed assets as immutable JavaScript', async () => {
    const res = await get('/assets/main-3f2a9c.js');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('export const x = 1;');
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expectIsolationHeaders(res.headers);
  });

  it('uses application/wasm for .wasm and text/javascript for .mjs', async () => {
    const wasm = await get('/assets/ort-1a2b.wasm');
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    const mjs = await get('/worker.mjs');
    expect(mjs.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(mjs.headers.get('cache-control')).toBe('no-cache'); // not under assets/: stable URL
  });

  it('answers unknown paths with a plain-text 404 that still carries isolation headers', async () => {
    const res = await get('/nope.js');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expectIsolationHeaders(res.headers);
  });
});

describe('model files', () => {
  it('serves a whole file with validators and range support advertised', async () => {
    const res = await get('/models/m1/weights.bin');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(WEIGHTS)).toBe(true);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expectIsolationHeaders(res.headers);
  });

  it('serves .onnx as octet-stream and nested .json as JSON', async () => {
    expect((await get('/models/m1/model.onnx')).headers.get('content-type')).toBe('application/octet-stream');
    const json = await get('/models/m1/sub/config.json');
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toEqual({ layers: 2 });
  });

  it('answers a closed range with 206 and exactly those bytes', async () => {
    const res = await get('/models/m1/weights.bin', { headers: { Range: 'bytes=10-19' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(WEIGHTS.subarray(10, 20))).toBe(true);
    expectIsolationHeaders(res.headers);
  });

  it('answers a suffix range with the last n bytes', async () => {
    const res = await get('/models/m1/weights.bin', { headers: { Range: 'bytes=-7' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 993-999/1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(WEIGHTS.subarray(993))).toBe(true);
  });

  it('answers an open range with the rest of the file', async () => {
    const res = await get('/models/m1/weights.bin', { headers: { Range: 'bytes=990-' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 990-999/1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(WEIGHTS.subarray(990))).toBe(true);
  });

  it('answers an unsatisfiable range with 416 and the file size', async () => {
    const res = await get('/models/m1/weights.bin', { headers: { Range: 'bytes=5000-6000' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */1000');
    expectIsolationHeaders(res.headers);
  });

  it('revalidates with ETag: 304 while unchanged, new ETag after the file changes', async () => {
    const file = path.join(tmp.dir, 'models', 'm1', 'weights.bin');
    const first = await get('/models/m1/weights.bin');
    const etag = first.headers.get('etag') ?? '';
    await first.arrayBuffer();
    expect(etag).not.toBe('');
    const again = await rawGet(server.port, '/models/m1/weights.bin', { 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expectIsolationHeaders(again.headers);

    await utimes(file, new Date(), new Date(Date.now() + 60_000));
    const changed = await rawGet(server.port, '/models/m1/weights.bin', { 'If-None-Match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('supports HEAD: headers and length, no body', async () => {
    const res = await get('/models/m1/weights.bin', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1000');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('gives a clear plain-text 404 for a missing model file', async () => {
    const res = await get('/models/m1/missing.bin');
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('model file not found: /models/m1/missing.bin\n');
    expectIsolationHeaders(res.headers);
    expect((await get('/models/nomodel/x.bin')).status).toBe(404);
  });

  it.each([
    '/models/m1/../../secret.txt',
    '/models/m1/%2e%2e/%2e%2e/secret.txt',
    '/models/m1/%2E%2E%2F%2E%2E%2Fsecret.txt',
    '/models/m1/..%5c..%5csecret.txt',
    '/models/m1/../m2/other.bin',
    '/models/m1/sub/%2e%2e/%2e%2e/m2/other.bin',
  ])('rejects traversal %s', async (rawPath) => {
    const res = await rawGet(server.port, rawPath);
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toContain('m2 data');
  });

  it('lists the mounts at /models/index.json', async () => {
    const res = await get('/models/index.json');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { name: 'm1', url: '/models/m1/' },
      { name: 'm2', url: '/models/m2/' },
    ]);
    expectIsolationHeaders(res.headers);
  });
});
