/**
 * WorkerConnection in Node, over a MessageChannel standing in for a Worker: calls and their errors, and
 * above all what plain Comlink gets wrong — a worker that dies must fail every pending and later call
 * instead of leaving them hanging.
 */
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { asError, WorkerConnection, type WorkerLike } from './worker-rpc';

interface TestApi {
  echo(x: number): Promise<number>;
  fail(): Promise<never>;
  throwString(): Promise<never>;
  hang(): Promise<never>;
  bytes(n: number): Promise<Uint8Array>;
}

const api: TestApi = {
  echo: async (x) => x * 2,
  fail: () => asError(async () => Promise.reject(new Error('boom'))),
  throwString: () => asError(async () => Promise.reject('abort(7)')),
  hang: () => new Promise<never>(() => {}),
  bytes: async (n) => {
    const b = new Uint8Array(n);
    return Comlink.transfer(b, [b.buffer]);
  },
};

const ports: MessagePort[] = [];

/** A "worker" whose far end exposes `api`; terminating it closes the channel. */
function fakeWorker(): WorkerLike & { terminated: boolean; port: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  Comlink.expose(api, port2);
  const worker = Object.assign(port1, {
    terminated: false,
    port: port1,
    terminate() {
      worker.terminated = true;
      port2.close();
    },
  });
  return worker;
}

function errorEvent(message: string): Event {
  return Object.assign(new Event('error', { cancelable: true }), { message, filename: 'w.js', lineno: 3 });
}

afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

describe('WorkerConnection', () => {
  it('calls the worker and names failures', async () => {
    const rpc = new WorkerConnection<TestApi>(fakeWorker(), 'test worker');
    expect(await rpc.call('echo', (w) => w.echo(21))).toBe(42);
    await expect(rpc.call('fail', (w) => w.fail())).rejects.toThrow('fail failed in the test worker: boom');
    await expect(rpc.call('abort', (w) => w.throwString())).rejects.toThrow(
      'abort failed in the test worker: abort(7)',
    );
    // The worker stays usable after a failed call.
    expect(await rpc.call('echo', (w) => w.echo(1))).toBe(2);
    expect((await rpc.call('bytes', (w) => w.bytes(16))).byteLength).toBe(16);
    const uncloneable = (() => 1) as unknown as number;
    await expect(rpc.call('post', (w) => w.echo(uncloneable))).rejects.toThrow(
      /^post: could not post to the test worker/,
    );
  });

  it('a worker that dies fails every pending and later call, and is terminated', async () => {
    const worker = fakeWorker();
    const rpc = new WorkerConnection<TestApi>(worker, 'test worker');
    const pending = rpc.call('hang 1', (w) => w.hang());
    const pending2 = rpc.call('hang 2', (w) => w.hang());
    await new Promise((r) => setTimeout(r, 20));
    worker.port.dispatchEvent(errorEvent('Failed to fetch the script'));
    await expect(pending).rejects.toThrow('hang 1: test worker failed: Failed to fetch the script (w.js:3)');
    await expect(pending2).rejects.toThrow(/^hang 2: test worker failed/);
    await expect(rpc.call('echo', (w) => w.echo(1))).rejects.toThrow(/^echo: test worker failed/);
    expect(worker.terminated).toBe(true);
    expect(rpc.dead?.message).toMatch(/test worker failed/);
  });

  it('a reply that cannot be deserialised kills it too; kill() rejects with its own reason', async () => {
    const worker = fakeWorker();
    const rpc = new WorkerConnection<TestApi>(worker, 'test worker');
    const pending = rpc.call('hang', (w) => w.hang());
    worker.port.dispatchEvent(new Event('messageerror'));
    await expect(pending).rejects.toThrow('hang: test worker sent a reply that could not be deserialised');

    const other = new WorkerConnection<TestApi>(fakeWorker(), 'test worker');
    const waiting = other.call('hang', (w) => w.hang());
    other.kill(new Error('disposed'));
    await expect(waiting).rejects.toThrow('hang: disposed');
  });
});
