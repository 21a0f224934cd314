// The Chorus local server: the built app, model folders and the peerjs signaling relay, on one
// HTTP(S) origin. Used by the CLI (main.ts), the tests and the room simulator.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { crossOriginIsolation, errorHandler, notFound } from './headers';
import { type ModelMount, modelsRouter, validateModelMounts } from './models';
import { baseUrl, isIPv4, isLoopbackHost, isWildcardHost, lanIPv4Addresses } from './network';
import { mountPeerRelay, PEERJS_PATH } from './peer-relay';
import { appStatic, validateAppDir } from './static-app';
import { loadOrCreateCertificate, loadUserCertificate, type TlsMaterial } from './tls';

export type { ModelMount } from './models';

export type HttpsMode = 'auto' | 'on' | 'off';

export interface ServerOptions {
  /** Interface to bind. Default '127.0.0.1'; use '0.0.0.0' to let phones on the LAN connect. */
  host?: string;
  /** Port; 0 picks a free one (see RunningServer.port). Default 0. */
  port?: number;
  /** 'auto' (default): HTTP on loopback hosts, HTTPS otherwise (or whenever certFile is given). */
  https?: HttpsMode;
  /** PEM certificate and key to use instead of a generated self-signed pair (both or neither). */
  certFile?: string;
  keyFile?: string;
  /** Where the generated self-signed pair is kept. Default `<repo>/.chorus/certs`. */
  certDir?: string;
  /** Built app directory. Default `<repo>/dist`. null serves no app (signaling and models only). */
  appDir?: string | null;
  /** Model folders served at /models/<name>/. */
  models?: ModelMount[];
  /** Receives human-readable status lines. Default console.log. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** Base URL for this machine, e.g. http://127.0.0.1:5173/ (always ends with '/'). */
  url: string;
  port: number;
  secure: boolean;
  /** One base URL per LAN IPv4 address when bound to all interfaces (or the bound LAN address). */
  lanUrls: string[];
  /** SHA-256 fingerprint of the certificate served, when secure. */
  certFingerprint256?: string;
  /** Phones currently holding a signaling socket. */
  connectedPeers(): number;
  /** Disconnects peers, stops the relay and closes the port. Safe to call twice. */
  close(): Promise<void>;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_APP_DIR = path.join(REPO_ROOT, 'dist');
export const DEFAULT_CERT_DIR = path.join(REPO_ROOT, '.chorus', 'certs');

export function useHttps(mode: HttpsMode, host: string, hasUserCert: boolean): boolean {
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  return hasUserCert || !isLoopbackHost(host);
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const log = opts.log ?? ((line: string) => console.log(line));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${port}`);
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    throw new Error('a certificate needs its key: pass both certFile and keyFile (--cert and --key)');
  }
  const hasUserCert = opts.certFile !== undefined;
  const secure = useHttps(opts.https ?? 'auto', host, hasUserCert);
  if (!secure && hasUserCert) throw new Error('certFile/keyFile given but HTTPS is off');

  // Validate everything before binding, so a bad flag never leaves a half-started server.
  const appDir = opts.appDir === null ? null : await validateAppDir(opts.appDir ?? DEFAULT_APP_DIR);
  const models = await validateModelMounts(opts.models ?? []);
  const tls = secure ? await tlsFor(opts, host) : undefined;
  if (tls?.generated) log(`generated a self-signed certificate in ${opts.certDir ?? DEFAULT_CERT_DIR}`);

  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, app) : http.createServer(app);

  app.use(crossOriginIsolation); // first, so every response below carries it
  const relay = mountPeerRelay(app, server, log);
  app.use('/models', modelsRouter(models));
  // What a page can't know by itself. A leader opened on this machine's loopback origin makes its join
  // link and QR code from the LAN URL (src/core/room/join-link.ts). Filled in once the port is bound.
  const pageConfig: { lanUrls: string[] } = { lanUrls: [] };
  app.get('/config.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(pageConfig);
  });
  if (appDir) app.use(appStatic(appDir));
  app.use(notFound);
  app.use(errorHandler(log));

  try {
    await listen(server, host, port);
  } catch (e) {
    relay.close();
    throw e;
  }
  const actualPort = (server.address() as AddressInfo).port;
  const localHost = isWildcardHost(host) ? 'localhost' : host;
  const url = baseUrl(secure, localHost, actualPort);
  const lanUrls = lanAddressesFor(host).map((ip) => baseUrl(secure, ip, actualPort));
  pageConfig.lanUrls = lanUrls;

  log(`Chorus server on ${secure ? 'HTTPS' : 'HTTP'}; open:`);
  log(`  this machine: ${url}`);
  for (const lanUrl of lanUrls) log(`  LAN:          ${lanUrl}`);
  if (tls && !hasUserCert && lanUrls.length > 0) {
    log(
      `  (self-signed certificate: accept the browser warning once per device; sha256 ${tls.fingerprint256})`,
    );
  }
  log(`  signaling: ${PEERJS_PATH}   app: ${appDir ?? '(none)'}`);
  for (const m of models) log(`  model ${m.name}: /models/${m.name}/ -> ${m.dir}`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      relay.close();
      server.close((err) => (err ? reject(err) : resolve()));
      // Keep-alive and in-flight connections would otherwise hold close() open.
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url,
    port: actualPort,
    secure,
    lanUrls,
    ...(tls ? { certFingerprint256: tls.fingerprint256 } : {}),
    connectedPeers: () => relay.connectedPeers(),
    close,
  };
}

function lanAddressesFor(host: string): string[] {
  if (isWildcardHost(host)) return lanIPv4Addresses();
  if (isIPv4(host) && !isLoopbackHost(host)) return [host];
  return [];
}

async function tlsFor(opts: ServerOptions, host: string): Promise<TlsMaterial> {
  if (opts.certFile !== undefined && opts.keyFile !== undefined) {
    return loadUserCertificate(opts.certFile, opts.keyFile);
  }
  const ips = ['127.0.0.1', ...lanIPv4Addresses()];
  const dnsNames = ['localhost'];
  if (!isWildcardHost(host)) {
    if (isIPv4(host)) ips.push(host);
    else if (!host.includes(':')) dnsNames.push(host);
  }
  return loadOrCreateCertificate(opts.certDir ?? DEFAULT_CERT_DIR, {
    ips: [...new Set(ips)],
    dnsNames: [...new Set(dnsNames)],
  });
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(new Error(listenErrorMessage(err, host, port), { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function listenErrorMessage(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; pick another with --port (0 = any free port)`;
    case 'EACCES':
      return `no permission to listen on ${host}:${port}; use a port above 1023`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `cannot listen on ${host}: not an address of this machine`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}
