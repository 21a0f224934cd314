// Command-line flags of `signaling-server/main.ts`, parsed into ServerOptions.
// Kept apart from main.ts so it can be tested without starting anything.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isLoopbackHost } from './network';
import type { HttpsMode, ServerOptions } from './server';

export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_HTTPS_PORT = 8443;
export const DEFAULT_HTTP_PORT = 8080;

export const USAGE = `Usage: tsx signaling-server/main.ts [options]

Serves the built Chorus app, model folders and the peerjs signaling relay on one origin.

Options:
  --host <addr>       interface to bind (default ${DEFAULT_HOST}: every interface, so phones can join)
  --port <n>          port (default ${DEFAULT_HTTPS_PORT} with HTTPS, ${DEFAULT_HTTP_PORT} without; 0 = any free port)
  --https <mode>      auto | on | off (default auto: HTTP on 127.0.0.1/localhost, HTTPS otherwise)
  --cert <file>       PEM certificate to serve instead of the generated self-signed one (needs --key)
  --key <file>        PEM private key for --cert
  --cert-dir <dir>    where the self-signed certificate is kept (default .chorus/certs)
  --app <dir>         built app to serve (default dist/, built or rebuilt first when stale)
  --no-app            serve no app, only signaling and models
  --model <name=dir>  serve <dir> at /models/<name>/ (repeatable)
  -h, --help          show this help
`;

export type CliCommand = { kind: 'help' } | { kind: 'serve'; options: ServerOptions };

/** Parses argv (without the node and script entries). Throws Error with a user-facing message. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      https: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'cert-dir': { type: 'string' },
      app: { type: 'string' },
      'no-app': { type: 'boolean' },
      model: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { kind: 'help' };

  const host = values.host ?? DEFAULT_HOST;
  const mode = parseHttpsMode(values.https ?? 'auto');
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new Error('--cert and --key go together');
  }
  if (values.app !== undefined && values['no-app'])
    throw new Error('--app and --no-app contradict each other');
  // Same rule as the server's own: 'auto' means HTTPS unless loopback-only or a cert is given.
  const secure = mode === 'on' || (mode === 'auto' && (values.cert !== undefined || !isLoopbackHost(host)));
  const port =
    values.port === undefined ? (secure ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT) : parsePort(values.port);

  const options: ServerOptions = {
    host,
    port,
    https: mode,
    appDir: values['no-app'] ? null : values.app === undefined ? undefined : path.resolve(values.app),
    models: (values.model ?? []).map(parseModelFlag),
  };
  if (values.cert !== undefined) options.certFile = path.resolve(values.cert);
  if (values.key !== undefined) options.keyFile = path.resolve(values.key);
  if (values['cert-dir'] !== undefined) options.certDir = path.resolve(values['cert-dir']);
  if (options.appDir === undefined) delete options.appDir; // let the server apply its default
  return { kind: 'serve', options };
}

function parseHttpsMode(value: string): HttpsMode {
  if (value === 'auto' || value === 'on' || value === 'off') return value;
  throw new Error(`--https must be auto, on or off (got "${value}")`);
}

function parsePort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(port) || port > 65535) throw new Error(`--port must be 0-65535 (got "${value}")`);
  return port;
}

function parseModelFlag(spec: string): { name: string; dir: string } {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`--model expects name=dir (got "${spec}")`);
  return { name: spec.slice(0, eq), dir: path.resolve(spec.slice(eq + 1)) };
}
