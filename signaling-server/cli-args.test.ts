// Flag parsing for the CLI (main.ts): defaults and user-facing errors.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliCommand, DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT, parseCliArgs } from './cli-args';
import type { ServerOptions } from './server';

function serve(argv: string[]): ServerOptions {
  const cmd: CliCommand = parseCliArgs(argv);
  if (cmd.kind !== 'serve') throw new Error(`expected serve, got ${cmd.kind}`);
  return cmd.options;
}

describe('parseCliArgs', () => {
  it('defaults to every interface, HTTPS auto, port 8443 and the default app dir', () => {
    const o = serve([]);
    expect(o).toEqual({ host: '0.0.0.0', port: DEFAULT_HTTPS_PORT, https: 'auto', models: [] });
    expect('appDir' in o).toBe(false); // the server picks dist/
  });

  it('uses the HTTP port when the chosen host or mode means plain HTTP', () => {
    expect(serve(['--host', '127.0.0.1']).port).toBe(DEFAULT_HTTP_PORT);
    expect(serve(['--https', 'off']).port).toBe(DEFAULT_HTTP_PORT);
    expect(serve(['--host', 'localhost', '--https', 'on']).port).toBe(DEFAULT_HTTPS_PORT);
    expect(serve(['--port', '0']).port).toBe(0);
  });

  it('collects repeated --model flags as absolute directories', () => {
    const o = serve(['--model', 'qwen=models/qwen', '--model', 'tiny=/m/tiny']);
    expect(o.models).toEqual([
      { name: 'qwen', dir: path.resolve('models/qwen') },
      { name: 'tiny', dir: '/m/tiny' },
    ]);
  });

  it('passes app, cert, key and cert dir as absolute paths', () => {
    const o = serve(['--app', 'build', '--cert', 'c.pem', '--key', 'k.pem', '--cert-dir', 'certs']);
    expect(o.appDir).toBe(path.resolve('build'));
    expect(o.certFile).toBe(path.resolve('c.pem'));
    expect(o.keyFile).toBe(path.resolve('k.pem'));
    expect(o.certDir).toBe(path.resolve('certs'));
    expect(serve(['--no-app']).appDir).toBeNull();
  });

  it('recognises --help and -h', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['-h'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--https', 'maybe'], /--https must be auto, on or off/],
    [['--port', '70000'], /--port must be 0-65535/],
    [['--port', 'abc'], /--port must be/],
    [['--model', 'noequals'], /--model expects name=dir/],
    [['--model', '=dir'], /--model expects name=dir/],
    [['--cert', 'c.pem'], /--cert and --key go together/],
    [['--app', 'x', '--no-app'], /contradict/],
    [['--bogus'], /bogus/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});
