// HTTPS: self-signed certificate generation, reuse and renewal, user certificates, 'auto' mode.
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { lanIPv4Addresses } from './network';
import { startServer } from './server';
import { makeTempDir } from './test-helpers';
import { loadOrCreateCertificate, subjectAltNames } from './tls';

const quiet = { log: () => {} };

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  tmp = await makeTempDir('tls');
});
afterAll(async () => {
  await tmp?.remove();
});

/** GET over HTTPS accepting the self-signed certificate; reports the certificate the server showed. */
function httpsGet(url: string): Promise<{ status: number; body: string; fingerprint256: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint256 }));
    });
    req.on('error', reject);
  });
}

describe('https: on with a generated certificate', () => {
  it('creates the certificate once and reuses it on the next start', async () => {
    const certDir = path.join(tmp.dir, 'reuse');
    const certFile = path.join(certDir, 'cert.pem');

    const first = await startServer({ ...quiet, https: 'on', certDir, appDir: null });
    let firstPem: string;
    let firstMtime: number;
    try {
      expect(first.secure).toBe(true);
      expect(first.url).toBe(`https://127.0.0.1:${first.port}/`);
      firstPem = await readFile(certFile, 'utf8');
      firstMtime = (await stat(certFile)).mtimeMs;
      const onDisk = new X509Certificate(firstPem).fingerprint256;
      expect(first.certFingerprint256).toBe(onDisk);

      const res = await httpsGet(`${first.url}models/index.json`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual([]);
      expect(res.fingerprint256).toBe(onDisk);
    } finally {
      await first.close();
    }

    const second = await startServer({ ...quiet, https: 'on', certDir, appDir: null });
    try {
      expect(await readFile(certFile, 'utf8')).toBe(firstPem);
      expect((await stat(certFile)).mtimeMs).toBe(firstMtime);
      expect(second.certFingerprint256).toBe(first.certFingerprint256);
      expect((await httpsGet(second.url)).fingerprint256).toBe(first.certFingerprint256);
    } finally {
      await second.close();
    }
  });

  it('runs the signaling relay over wss:// on the same port', async () => {
    const server = await startServer({
      ...quiet,
      https: 'on',
      certDir: path.join(tmp.dir, 'wss'),
      appDir: null,
    });
    try {
      const id = (await httpsGet(`${server.url}peerjs/peerjs/id`)).body;
      const ws = new WebSocket(`wss://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=${id}&token=t`, {
        rejectUnauthorized: false,
      });
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      expect(JSON.parse(first)).toMatchObject({ type: 'OPEN' });
      ws.close();
    } finally {
      await server.close();
    }
  });

  it('keeps the private key readable by the owner only', async () => {
    const certDir = path.join(tmp.dir, 'mode');
    await loadOrCreateCertificate(certDir, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    expect((await stat(path.join(certDir, 'key.pem'))).mode & 0o077).toBe(0);
  });
});

describe('loadOrCreateCertificate', () => {
  it('covers localhost, 127.0.0.1 and the LAN addresses it is given', async () => {
    const names = { dnsNames: ['localhost'], ips: ['127.0.0.1', '192.168.77.5'] };
    const tlsMaterial = await loadOrCreateCertificate(path.join(tmp.dir, 'sans'), names);
    const sans = subjectAltNames(new X509Certificate(tlsMaterial.cert));
    expect(sans).toEqual(new Set(['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:192.168.77.5']));
  });

  it('regenerates when a new LAN address appears, reuses when already covered', async () => {
    const dir = path.join(tmp.dir, 'ips');
    const a = await loadOrCreateCertificate(dir, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const b = await loadOrCreateCertificate(dir, { dnsNames: ['localhost'], ips: ['127.0.0.1', '10.1.2.3'] });
    expect(a.generated).toBe(true);
    expect(b.generated).toBe(true);
    expect(b.fingerprint256).not.toBe(a.fingerprint256);
    const c = await loadOrCreateCertificate(dir, { dnsNames: ['localhost'], ips: ['10.1.2.3'] });
    expect(c.generated).toBe(false);
    expect(c.fingerprint256).toBe(b.fingerprint256);
  });

  it('regenerates a certificate that has expired or is about to', async () => {
    const dir = path.join(tmp.dir, 'expiry');
    const names = { dnsNames: ['localhost'], ips: ['127.0.0.1'] };
    const longAgo = new Date(Date.now() - 400 * 24 * 3600 * 1000);
    const old = await loadOrCreateCertificate(dir, names, longAgo); // valid for 365 days from then
    const now = await loadOrCreateCertificate(dir, names);
    expect(now.generated).toBe(true);
    expect(now.fingerprint256).not.toBe(old.fingerprint256);
    expect(Date.parse(new X509Certificate(now.cert).validTo)).toBeGreaterThan(Date.now());
  });

  it('replaces an unreadable or mismatched pair', async () => {
    const dir = path.join(tmp.dir, 'broken');
    const names = { dnsNames: ['localhost'], ips: ['127.0.0.1'] };
    await loadOrCreateCertificate(dir, names);
    await writeFile(path.join(dir, 'cert.pem'), 'not a certificate');
    const fixed = await loadOrCreateCertificate(dir, names);
    expect(fixed.generated).toBe(true);
    expect(await readFile(path.join(dir, 'cert.pem'), 'utf8')).toBe(fixed.cert);
  });
});

describe('user certificate and auto mode', () => {
  it('serves a user-given certificate and key', async () => {
    const made = await loadOrCreateCertificate(path.join(tmp.dir, 'user-src'), {
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
    });
    const certFile = path.join(tmp.dir, 'user.crt');
    const keyFile = path.join(tmp.dir, 'user.key');
    await writeFile(certFile, made.cert);
    await writeFile(keyFile, made.key);
    const certDir = path.join(tmp.dir, 'user-unused');
    // 'auto' on loopback would be HTTP, but a given certificate means HTTPS was intended.
    const server = await startServer({ ...quiet, certFile, keyFile, certDir, appDir: null });
    try {
      expect(server.secure).toBe(true);
      expect((await httpsGet(server.url)).fingerprint256).toBe(made.fingerprint256);
      await expect(stat(certDir)).rejects.toThrow(); // nothing generated
    } finally {
      await server.close();
    }
  });

  it('rejects a key that does not match the certificate', async () => {
    const one = await loadOrCreateCertificate(path.join(tmp.dir, 'mm1'), {
      dnsNames: ['localhost'],
      ips: [],
    });
    const two = await loadOrCreateCertificate(path.join(tmp.dir, 'mm2'), {
      dnsNames: ['localhost'],
      ips: [],
    });
    const certFile = path.join(tmp.dir, 'mm.crt');
    const keyFile = path.join(tmp.dir, 'mm.key');
    await writeFile(certFile, one.cert);
    await writeFile(keyFile, two.key);
    await expect(startServer({ ...quiet, certFile, keyFile, appDir: null })).rejects.toThrow(
      /does not match/,
    );
  });

  it("'auto' uses HTTP on loopback", async () => {
    const server = await startServer({ ...quiet, host: '127.0.0.1', https: 'auto', appDir: null });
    try {
      expect(server.secure).toBe(false);
      expect((await fetch(`${server.url}models/index.json`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("'auto' uses HTTPS on all interfaces and lists one URL per LAN address", async () => {
    const certDir = path.join(tmp.dir, 'auto');
    const server = await startServer({ ...quiet, host: '0.0.0.0', https: 'auto', certDir, appDir: null });
    try {
      expect(server.secure).toBe(true);
      expect(server.url).toBe(`https://localhost:${server.port}/`);
      expect(server.lanUrls).toEqual(lanIPv4Addresses().map((ip) => `https://${ip}:${server.port}/`));
      const sans = subjectAltNames(
        new X509Certificate(await readFile(path.join(certDir, 'cert.pem'), 'utf8')),
      );
      for (const ip of ['127.0.0.1', ...lanIPv4Addresses()]) expect(sans.has(`IP Address:${ip}`)).toBe(true);
      expect((await httpsGet(`https://127.0.0.1:${server.port}/models/index.json`)).status).toBe(200);
      const config = await httpsGet(`https://127.0.0.1:${server.port}/config.json`);
      expect(JSON.parse(config.body)).toEqual({ lanUrls: server.lanUrls });
    } finally {
      await server.close();
    }
  });
});
