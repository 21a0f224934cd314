// Helpers shared by the signaling-server tests.

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET with the path and headers sent byte for byte. fetch() and URL normalise "..", "%2e%2e" and friends on
 * the client side, so traversal attempts would never reach the server through them; and fetch()
 * adds `Cache-Control: no-cache` to any request carrying If-None-Match (Fetch spec), which rightly
 * makes servers skip the 304 a browser's own revalidation would get.
 */
export function rawGet(
  port: number,
  rawPath: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `chorus-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic, position-dependent bytes, so a wrong offset shows up as wrong content. */
export function patternBytes(length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = (i * 7 + 3) % 251;
  return buf;
}

export function expectIsolationHeaders(headers: Headers | http.IncomingHttpHeaders): void {
  const get = (name: string): string | null | undefined =>
    headers instanceof Headers ? headers.get(name) : (headers[name.toLowerCase()] as string | undefined);
  const missing = [
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ['Cross-Origin-Embedder-Policy', 'require-corp'],
    ['Cross-Origin-Resource-Policy', 'same-origin'],
  ].filter(([name, value]) => get(name ?? '') !== value);
  if (missing.length > 0) throw new Error(`missing isolation headers: ${JSON.stringify(missing)}`);
}
