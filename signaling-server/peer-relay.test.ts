// The peerjs relay mounted at /peerjs: id endpoint, WebSocket handshake and message forwarding.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startServer } from './server';
import { expectIsolationHeaders } from './test-helpers';

interface PeerMessage {
  type: string;
  src?: string;
  dst?: string;
  payload?: unknown;
}

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ host: '127.0.0.1', port: 0, https: 'off', appDir: null, log: () => {} });
});

afterAll(async () => {
  await server?.close();
});

async function newId(): Promise<string> {
  const res = await fetch(new URL('peerjs/peerjs/id', server.url));
  expect(res.status).toBe(200);
  return res.text();
}

/** Opens a peerjs signaling socket and collects what the server sends. */
function connect(id: string, token = `token-${id}`): { ws: WebSocket; next(): Promise<PeerMessage> } {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=${id}&token=${token}`);
  const queue: PeerMessage[] = [];
  const waiters: Array<(m: PeerMessage) => void> = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as PeerMessage;
    const waiter = waiters.shift();
    if (waiter) waiter(msg);
    else queue.push(msg);
  });
  return {
    ws,
    next: () => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

describe('peerjs relay', () => {
  it('hands out ids at /peerjs/peerjs/id, with isolation headers', async () => {
    const res = await fetch(new URL('peerjs/peerjs/id', server.url));
    const id = await res.text();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expectIsolationHeaders(res.headers);
    expect(await newId()).not.toBe(id);
  });

  it('does not list connected peers (discovery is off)', async () => {
    const res = await fetch(new URL('peerjs/peerjs/peers', server.url));
    expect(res.status).toBe(401);
  });

  it('accepts a signaling socket with an OPEN message', async () => {
    const a = connect(await newId());
    expect((await a.next()).type).toBe('OPEN');
    a.ws.close();
  });

  it('rejects a socket with the wrong key', async () => {
    const id = await newId();
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=wrong&id=${id}&token=t`);
    const msg = await new Promise<PeerMessage>((resolve) =>
      ws.once('message', (d) => resolve(JSON.parse(String(d)) as PeerMessage)),
    );
    expect(msg.type).toBe('ERROR');
  });

  it('forwards an offer from one peer to another', async () => {
    const idA = await newId();
    const idB = await newId();
    const a = connect(idA);
    const b = connect(idB);
    expect((await a.next()).type).toBe('OPEN');
    expect((await b.next()).type).toBe('OPEN');
    const payload = { sdp: { type: 'offer', sdp: 'v=0 fake' }, type: 'data', connectionId: 'dc_1' };
    a.ws.send(JSON.stringify({ type: 'OFFER', dst: idB, payload }));
    const got = await b.next();
    expect(got).toMatchObject({ type: 'OFFER', src: idA, dst: idB, payload });
    a.ws.close();
    b.ws.close();
  });

  it('disconnects open sockets on close()', async () => {
    const own = await startServer({ host: '127.0.0.1', port: 0, https: 'off', appDir: null, log: () => {} });
    const idRes = await fetch(new URL('peerjs/peerjs/id', own.url));
    const id = await idRes.text();
    const ws = new WebSocket(`ws://127.0.0.1:${own.port}/peerjs/peerjs?key=peerjs&id=${id}&token=t`);
    await new Promise((resolve) => ws.once('message', resolve));
    expect(own.connectedPeers()).toBe(1);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await own.close();
    await closed;
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});
