/**
 * Test page for peer-to-peer block delivery over real WebRTC (peerjs + the server's PeerServer):
 * one page serves a generated file, another fetches it. The serving side wraps each link to record
 * the data channel's bufferedAmount after every send, so the test can see backpressure hold.
 */
import { type Link, PeerNode } from '../../src/adapters/peer/peer-node';
import { PeerBlockClient, PeerBlockServer } from '../../src/app/delivery/peer-blocks';
import type { Message } from '../../src/core/protocol/messages';
import { sha256Hex } from '../../src/core/sha256';

export interface PeerPageApi {
  serve(id: string, bytes: number): Promise<string>;
  maxBuffered(): number;
  fetch(
    leaderId: string,
    bytes: number,
  ): Promise<{ ms: number; bytes: number; sha: string; expected: string }>;
}

function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 7;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const server = () => ({
  host: location.hostname,
  port: Number(location.port) || 80,
  path: '/peerjs',
  secure: location.protocol === 'https:',
});

let maxBuffered = 0;

/** The same link, with every send followed by a look at how much is queued. */
function watched(link: Link): Link {
  return {
    get remoteId() {
      return link.remoteId;
    },
    get bufferedAmount() {
      return link.bufferedAmount;
    },
    send(m: Message) {
      link.send(m);
      maxBuffered = Math.max(maxBuffered, link.bufferedAmount ?? 0);
    },
    close: () => link.close(),
    onMessage: (h) => link.onMessage(h),
    onClose: (h) => link.onClose(h),
    onRejected: (h) => link.onRejected(h),
    waitForDrain: (low: number) => link.waitForDrain?.(low) ?? Promise.resolve(),
  };
}

const api: PeerPageApi = {
  async serve(id, bytes) {
    const file = pattern(bytes);
    const node = await PeerNode.open(server(), id);
    const blocks = new PeerBlockServer(new Map([['block-000.weights', file]]));
    node.onConnection((link) => blocks.serve(watched(link)));
    return sha256Hex(file);
  },
  maxBuffered: () => maxBuffered,
  async fetch(leaderId, bytes) {
    const node = await PeerNode.open(server());
    const link = await node.connect(leaderId);
    const expected = await sha256Hex(pattern(bytes));
    const t0 = performance.now();
    const got = await new PeerBlockClient(link).fetch('block-000.weights', { sha256: expected, bytes });
    const ms = performance.now() - t0;
    return { ms, bytes: got.length, sha: await sha256Hex(got), expected };
  },
};

declare global {
  interface Window {
    peerTest?: PeerPageApi;
  }
}

window.peerTest = api;
