/**
 * Peer-to-peer block delivery over an in-memory link pair that behaves like a data channel where it
 * matters: every message is encoded, chunked (≤ 256 KB) and reassembled, and sent bytes sit in a
 * queue (`bufferedAmount`) that drains at a fixed rate, so backpressure is observable.
 */
import { describe, expect, it } from 'vitest';
import { buildDecoder, shardInMemory } from '../../core/graph/test-graphs';
import { MemoryBlockStore } from '../../core/memory-block-store';
import type { Link } from '../../core/ports';
import { DEFAULT_MAX_CHUNK_BYTES, Reassembler, splitFrame } from '../../core/protocol/chunking';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec';
import type { Message } from '../../core/protocol/messages';
import { sha256Hex } from '../../core/sha256';
import { fetchStageFiles } from '../block-fetch';
import { loopbackPair } from '../loopback-link';
import { PeerBlockClient, PeerBlockServer } from './peer-blocks';

interface WireStats {
  maxBuffered: number;
  maxChunk: number;
  framesOverOneChunk: number;
}

/** A link whose sent chunks wait in a queue that delivers `bytesPerTick` per timer tick. */
class WireEnd implements Link {
  other!: WireEnd;
  bufferedAmount = 0;
  private readonly handlers: ((m: Message) => void)[] = [];
  private readonly closeHandlers: (() => void)[] = [];
  private readonly reassembler = new Reassembler();
  private readonly drainWaiters: { low: number; resolve: () => void }[] = [];
  private readonly queue: Uint8Array[] = [];
  private pumping = false;
  private nextId = 1;
  private open = true;
  tamper: ((m: Message) => Message) | null = null;

  constructor(
    readonly remoteId: string,
    private readonly stats: WireStats,
    private readonly bytesPerTick: number,
  ) {}

  send(message: Message): void {
    if (!this.open) throw new Error('channel closed');
    const chunks = splitFrame(encodeMessage(this.tamper ? this.tamper(message) : message), this.nextId++);
    if (chunks.length > 1) this.stats.framesOverOneChunk++;
    for (const chunk of chunks) {
      this.stats.maxChunk = Math.max(this.stats.maxChunk, chunk.length);
      this.bufferedAmount += chunk.length;
      this.stats.maxBuffered = Math.max(this.stats.maxBuffered, this.bufferedAmount);
      this.queue.push(chunk);
    }
    if (!this.pumping) {
      this.pumping = true;
      setTimeout(() => this.pump(), 0);
    }
  }

  private pump(): void {
    let budget = this.bytesPerTick;
    while (this.queue.length > 0 && budget > 0) {
      const chunk = this.queue.shift()!;
      budget -= chunk.length;
      this.bufferedAmount -= chunk.length;
      if (!this.other.open) continue;
      const frame = this.other.reassembler.push(chunk);
      if (frame) for (const h of this.other.handlers) h(decodeMessage(frame));
    }
    for (const w of this.drainWaiters.splice(0)) {
      if (this.bufferedAmount <= w.low) w.resolve();
      else this.drainWaiters.push(w);
    }
    if (this.queue.length > 0) setTimeout(() => this.pump(), 0);
    else this.pumping = false;
  }

  waitForDrain(lowBytes: number): Promise<void> {
    if (this.bufferedAmount <= lowBytes || !this.open) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ low: lowBytes, resolve }));
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.other.open = false;
    for (const h of [...this.closeHandlers, ...this.other.closeHandlers]) h();
    for (const w of this.drainWaiters.splice(0)) w.resolve();
  }
  onMessage(handler: (m: Message) => void): void {
    this.handlers.push(handler);
  }
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }
  onRejected(): void {}
}

function wirePair(bytesPerTick = 256 * 1024) {
  const stats: WireStats = { maxBuffered: 0, maxChunk: 0, framesOverOneChunk: 0 };
  const leader = new WireEnd('phone', stats, bytesPerTick);
  const phone = new WireEnd('leader', stats, bytesPerTick);
  leader.other = phone;
  phone.other = leader;
  return { leader, phone, stats };
}

function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('peer-to-peer block transfer', () => {
  it('moves a ≥ 20 MB file in ≤ 256 KB messages with bounded buffering, sha256 verified', async () => {
    const big = pattern(21 * 1024 * 1024 + 12345);
    const sha = await sha256Hex(big);
    const { leader, phone, stats } = wirePair(64 * 1024); // the channel drains slower than we send
    const served: [string, number][] = [];
    new PeerBlockServer(new Map([['block-001.weights', big]]), {
      onServed: (_, file, bytes) => served.push([file, bytes]),
    }).serve(leader);
    const client = new PeerBlockClient(phone);
    let progress = 0;
    const got = await client.fetch('block-001.weights', { sha256: sha, bytes: big.length }, (n) => {
      progress += n;
    });
    expect(got.length).toBe(big.length);
    expect(await sha256Hex(got)).toBe(sha);
    expect(progress).toBe(big.length);
    expect(served).toEqual([['block-001.weights', big.length]]);
    expect(stats.framesOverOneChunk).toBe(0);
    expect(stats.maxChunk).toBeLessThanOrEqual(DEFAULT_MAX_CHUNK_BYTES);
    // Never more than the high-water mark plus one message in flight, although the file is 21 MB.
    expect(stats.maxBuffered).toBeLessThanOrEqual(1024 * 1024 + DEFAULT_MAX_CHUNK_BYTES);
  });

  it('polls for drain when a link reports bufferedAmount but cannot wait for it', async () => {
    const file = pattern(5_000_000, 4);
    const { leader, phone, stats } = wirePair(64 * 1024);
    Object.defineProperty(leader, 'waitForDrain', { value: undefined });
    new PeerBlockServer(new Map([['w', file]])).serve(leader);
    const got = await new PeerBlockClient(phone).fetch('w', { sha256: await sha256Hex(file) });
    expect(got.length).toBe(file.length);
    expect(stats.maxBuffered).toBeLessThanOrEqual(1024 * 1024 + DEFAULT_MAX_CHUNK_BYTES);
  });

  it('is a FileSource for fetchStageFiles: a warm load moves nothing over the link', async () => {
    const s = await shardInMemory(buildDecoder({ layers: 2, external: true }));
    const manifest = { ...s.manifest, blockSource: 'leader' as const };
    const { leader, phone } = wirePair();
    let servedBytes = 0;
    new PeerBlockServer(s.files, { onServed: (_, __, n) => (servedBytes += n) }).serve(leader);
    const source = new PeerBlockClient(phone);
    const store = new MemoryBlockStore();
    const last = manifest.blocks.length - 1;
    const all = [...s.files.values()].reduce((n, b) => n + b.length, 0);
    const cold = await fetchStageFiles('', manifest, 0, last, () => {}, { source, store });
    expect(cold.bytesFromNetwork).toBe(all);
    expect(servedBytes).toBe(all);
    const warm = await fetchStageFiles('', manifest, 0, last, () => {}, { source, store });
    expect(warm).toMatchObject({ bytesFromNetwork: 0, bytesFromCache: all });
    expect(servedBytes).toBe(all);
  });

  it('a corrupted chunk fails the sha256 check', async () => {
    const file = pattern(1_000_000);
    const { leader, phone } = wirePair();
    leader.tamper = (m) => {
      if (m.kind !== 'block-chunk' || m.offset === 0) return m;
      const data = (m.data.data as Uint8Array).slice();
      data[10] = data[10]! ^ 0x40;
      return { ...m, data: { ...m.data, data } };
    };
    new PeerBlockServer(new Map([['block-002.weights', file]])).serve(leader);
    const client = new PeerBlockClient(phone);
    await expect(client.fetch('block-002.weights', { sha256: await sha256Hex(file) })).rejects.toThrow(
      /block-002.weights from the leader failed its sha256 check/,
    );
  });

  it('an unknown file gets a block-error, and the link keeps working', async () => {
    const { leader, phone } = wirePair();
    new PeerBlockServer(new Map([['block-000.onnx', pattern(10)]])).serve(leader);
    const client = new PeerBlockClient(phone);
    await expect(client.fetch('block-099.onnx')).rejects.toThrow(
      /the leader could not send block-099.onnx: the leader has no file block-099.onnx/,
    );
    expect(await client.fetch('block-000.onnx')).toEqual(pattern(10));
  });

  it('refuses a file whose size differs from the manifest before receiving it', async () => {
    const { leader, phone } = wirePair();
    new PeerBlockServer(new Map([['a', pattern(1000)]])).serve(leader);
    await expect(
      new PeerBlockClient(phone).read({ file: 'a', sha256: '0'.repeat(64), bytes: 999 }, () => {}),
    ).rejects.toThrow(/offers a with 1000 bytes, the manifest says 999/);
  });

  it('serves several files and an empty one, in order, over a plain loopback link', async () => {
    const [toPhone, toLeader] = loopbackPair('phone', 'leader');
    const files = new Map([
      ['x', pattern(500_000, 2)],
      ['empty', new Uint8Array(0)],
      ['y', pattern(3, 3)],
    ]);
    new PeerBlockServer(files).serve(toPhone);
    const client = new PeerBlockClient(toLeader);
    const [x, empty, y, again] = await Promise.all([
      client.fetch('x'),
      client.fetch('empty'),
      client.fetch('y'),
      client.fetch('x'),
    ]);
    expect(await sha256Hex(x)).toBe(await sha256Hex(files.get('x')!));
    expect(again).toBe(x); // one transfer for two concurrent requests
    expect(empty.length).toBe(0);
    expect(y).toEqual(files.get('y'));
  });

  it('fails transfers in flight when the link closes, and when the leader stalls', async () => {
    const { leader, phone } = wirePair(16 * 1024);
    new PeerBlockServer(new Map([['big', pattern(4_000_000)]])).serve(leader);
    const client = new PeerBlockClient(phone);
    const pending = client.fetch('big');
    setTimeout(() => phone.close(), 5);
    await expect(pending).rejects.toThrow(/link to the leader closed while fetching big/);

    const [, silent] = loopbackPair('phone', 'leader'); // nobody serves on the other end
    await expect(new PeerBlockClient(silent, { stallMs: 50 }).fetch('z')).rejects.toThrow(
      /no data from the leader/,
    );
  });

  it('fetches the manifest from the leader', async () => {
    const [toPhone, toLeader] = loopbackPair('phone', 'leader');
    const bad = new TextEncoder().encode('{"format":"nope"}');
    new PeerBlockServer(new Map([['manifest.json', bad]])).serve(toPhone);
    await expect(new PeerBlockClient(toLeader).fetchManifest()).rejects.toThrow(/format is nope/);
  });
});
