/**
 * Peer-to-peer block delivery: when the leader opened a model itself (a folder from its disk, or a hub
 * graph with inline weights), it holds the blocks in memory and serves them to phones over their
 * existing links. A phone sends `block-request {file}`; the leader answers with `block-chunk`s in
 * order (≤ 192 KiB of payload, so each frame plus its JSON header stays one ≤ 256 KB data-channel
 * message) or one `block-error`. The phone reassembles into a buffer of the announced size, checks
 * the size against the manifest and the sha256 when it has one (fetchStageFiles always checks it).
 *
 * Backpressure: a data channel throws at 16 MB queued and peerjs silently buffers above 8 MB, so the
 * server stops sending while the link reports more than `highWater` bytes queued and resumes when it
 * has drained to `lowWater` (`Link.waitForDrain`, i.e. `bufferedamountlow`; polling when a link only
 * reports `bufferedAmount`). In-memory links report nothing; the server then yields to the event loop
 * now and then so a big transfer never starves the tab. Measured between two headless Chromium pages
 * (e2e/peer-blocks.e2e.ts, 24 MB): ~13 MB/s with 1 MB / 256 KB marks, and no faster with 4 MB / 1 MB
 * or 8 MB / 2 MB, so the small queue costs nothing.
 *
 * One request at a time per link (a phone's files come in order, which is also the order its stage
 * needs them); different phones are served concurrently. Only links the room has greeted should be
 * passed to `handle`/`serve`: the leader's dispatch runs after the secret check.
 */
import type { FileRef } from '../../core/graph/manifest';
import { type Manifest, parseManifest } from '../../core/graph/manifest';
import type { Link } from '../../core/ports';
import type { Message, MessageOf } from '../../core/protocol/messages';
import { sha256Hex } from '../../core/sha256';
import type { FileSource } from '../block-fetch';

export const BLOCK_CHUNK_BYTES = 192 * 1024;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Largest file a phone accepts from a peer (a bound on what a confused leader can make it allocate). */
const MAX_FILE_BYTES = 2 ** 31;

export type BlockLookup = (
  file: string,
) => Uint8Array | null | undefined | Promise<Uint8Array | null | undefined>;

export interface BlockServerOptions {
  readonly chunkBytes?: number;
  readonly highWater?: number;
  readonly lowWater?: number;
  /** Told when a file was sent in full (for the leader's log and the room's byte counts). */
  readonly onServed?: (remoteId: string, file: string, bytes: number) => void;
}

export class PeerBlockServer {
  private readonly lookup: BlockLookup;
  private readonly queues = new WeakMap<Link, Promise<void>>();
  private readonly closed = new WeakSet<Link>();
  private readonly watched = new WeakSet<Link>();

  constructor(
    files: ReadonlyMap<string, Uint8Array> | BlockLookup,
    private readonly options: BlockServerOptions = {},
  ) {
    this.lookup = typeof files === 'function' ? files : (file) => files.get(file);
  }

  /** Serves `link`'s requests from now on (registers its own message handler). */
  serve(link: Link): void {
    link.onMessage((m) => this.handle(m, link));
  }

  /** For a caller with its own dispatch: handles block requests, returns false for other kinds. */
  handle(m: Message, link: Link): boolean {
    if (m.kind !== 'block-request') return false;
    if (!this.watched.has(link)) {
      this.watched.add(link);
      link.onClose(() => this.closed.add(link));
    }
    const previous = this.queues.get(link) ?? Promise.resolve();
    const next = previous.then(() => this.send(link, m.file)).catch(() => {});
    this.queues.set(link, next);
    return true;
  }

  private async send(link: Link, file: string): Promise<void> {
    const fail = (message: string) => {
      if (!this.closed.has(link)) link.send({ kind: 'block-error', file, message });
    };
    let bytes: Uint8Array | null | undefined;
    try {
      bytes = await this.lookup(file);
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
    if (!bytes) return fail(`the leader has no file ${file} for this model`);
    const chunk = this.options.chunkBytes ?? BLOCK_CHUNK_BYTES;
    let sent = 0;
    try {
      // An empty file still gets one (empty) chunk, so the phone sees it complete.
      for (let offset = 0; offset < bytes.length || (offset === 0 && sent === 0); offset += chunk) {
        if (this.closed.has(link)) return;
        const data = bytes.subarray(offset, Math.min(offset + chunk, bytes.length));
        link.send({
          kind: 'block-chunk',
          file,
          offset,
          total: bytes.length,
          data: { dtype: 'uint8', dims: [data.length], data },
        });
        sent++;
        await this.backpressure(link, sent);
      }
    } catch (e) {
      // A send on a closing channel throws: the phone is gone, nothing to answer.
      if (!this.closed.has(link))
        fail(`sending ${file} failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.options.onServed?.(link.remoteId, file, bytes.length);
  }

  private async backpressure(link: Link, sent: number): Promise<void> {
    const high = this.options.highWater ?? HIGH_WATER;
    const low = this.options.lowWater ?? LOW_WATER;
    if (link.bufferedAmount === undefined) {
      if (sent % 16 === 0) await new Promise((r) => setTimeout(r, 0));
      return;
    }
    if (link.bufferedAmount <= high) return;
    if (link.waitForDrain) {
      await link.waitForDrain(low);
      return;
    }
    while (!this.closed.has(link) && (link.bufferedAmount ?? 0) > low)
      await new Promise((r) => setTimeout(r, 20));
  }
}

export interface BlockClientOptions {
  /** Fail a transfer when no chunk arrived for this long. Default 30 s. */
  readonly stallMs?: number;
  /** Register a message handler on the link (default); false when the caller dispatches to `handle`. */
  readonly listen?: boolean;
}

interface Pending {
  readonly promise: Promise<Uint8Array>;
  readonly expectBytes: number | null;
  readonly listeners: ((n: number) => void)[];
  resolve(bytes: Uint8Array): void;
  reject(e: Error): void;
  buffer: Uint8Array | null;
  received: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/** A phone's side: fetches files from the leader over `link`. Also a FileSource for fetchStageFiles. */
export class PeerBlockClient implements FileSource {
  private readonly pending = new Map<string, Pending>();
  private closedReason: string | null = null;

  constructor(
    private readonly link: Link,
    private readonly options: BlockClientOptions = {},
  ) {
    if (options.listen !== false) link.onMessage((m) => this.handle(m));
    link.onClose(() => this.close('the link to the leader closed'));
  }

  /** FileSource: the raw bytes (fetchStageFiles checks the sha256 itself). */
  read(ref: FileRef, onBytes: (n: number) => void): Promise<Uint8Array> {
    return this.fetch(ref.file, { bytes: ref.bytes }, onBytes);
  }

  /** The model's manifest.json as the leader has it. */
  async fetchManifest(): Promise<Manifest> {
    const bytes = await this.fetch('manifest.json');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new Error('the leader sent a manifest.json that is not JSON');
    }
    return parseManifest(json, "the leader's manifest.json");
  }

  /** Fetches `file`, checking its size and sha256 when given. Concurrent calls for one file share it. */
  async fetch(
    file: string,
    expect: { sha256?: string | null; bytes?: number } = {},
    onBytes?: (n: number) => void,
  ): Promise<Uint8Array> {
    const p = this.pending.get(file) ?? this.request(file, expect.bytes ?? null);
    if (onBytes) p.listeners.push(onBytes);
    const bytes = await p.promise;
    if (expect.sha256) {
      const got = await sha256Hex(bytes);
      if (got !== expect.sha256)
        throw new Error(`${file} from the leader failed its sha256 check: got ${got}`);
    }
    return bytes;
  }

  private request(file: string, expectBytes: number | null): Pending {
    let resolve!: (b: Uint8Array) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Uint8Array>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const p: Pending = {
      promise,
      expectBytes,
      listeners: [],
      resolve,
      reject,
      buffer: null,
      received: 0,
      timer: null,
    };
    if (this.closedReason) {
      reject(new Error(`cannot fetch ${file}: ${this.closedReason}`));
      return p;
    }
    this.pending.set(file, p);
    this.arm(file, p);
    this.link.send({ kind: 'block-request', file });
    return p;
  }

  private arm(file: string, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    const ms = this.options.stallMs ?? 30_000;
    p.timer = setTimeout(
      () => this.fail(file, `no data from the leader for ${ms / 1000} s while fetching ${file}`),
      ms,
    );
  }

  private fail(file: string, message: string): void {
    const p = this.pending.get(file);
    if (!p) return;
    this.pending.delete(file);
    if (p.timer) clearTimeout(p.timer);
    p.reject(new Error(message));
  }

  /** Handles block replies; returns false for any other kind. */
  handle(m: Message): boolean {
    if (m.kind === 'block-error') {
      this.fail(m.file, `the leader could not send ${m.file}: ${m.message}`);
      return true;
    }
    if (m.kind !== 'block-chunk') return false;
    const p = this.pending.get(m.file);
    if (p) this.accept(p, m);
    return true;
  }

  private accept(p: Pending, m: MessageOf<'block-chunk'>): void {
    const problem = this.problemWith(p, m);
    if (problem) {
      this.fail(m.file, problem);
      return;
    }
    p.buffer ??= new Uint8Array(m.total);
    const buffer = p.buffer;
    const data = m.data.data as Uint8Array;
    buffer.set(data, m.offset);
    p.received += data.length;
    for (const l of p.listeners) l(data.length);
    if (p.received < buffer.length) {
      this.arm(m.file, p);
      return;
    }
    this.pending.delete(m.file);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(buffer);
  }

  /** Why this chunk cannot be taken (wrong size, out of order), or null. */
  private problemWith(p: Pending, m: MessageOf<'block-chunk'>): string | null {
    if (!p.buffer) {
      if (p.expectBytes !== null && m.total !== p.expectBytes) {
        return `the leader offers ${m.file} with ${m.total} bytes, the manifest says ${p.expectBytes}`;
      }
      if (m.total > MAX_FILE_BYTES) return `${m.file} is too large (${m.total} bytes)`;
    } else if (m.total !== p.buffer.length) {
      return `${m.file}: a chunk says ${m.total} bytes in all, the first said ${p.buffer.length}`;
    }
    if (m.offset !== p.received) return `${m.file}: chunk at ${m.offset} does not follow byte ${p.received}`;
    return null;
  }

  /** Fails every transfer in flight (and later requests) with `reason`. */
  close(reason = 'closed'): void {
    this.closedReason = reason;
    for (const file of [...this.pending.keys()]) this.fail(file, `${reason} while fetching ${file}`);
  }
}

/** The leader's own stage reads its blocks straight from memory, with no link in between. */
export function memoryFileSource(files: ReadonlyMap<string, Uint8Array>): FileSource {
  return {
    async read(ref, onBytes) {
      const bytes = files.get(ref.file);
      if (!bytes) throw new Error(`the leader has no file ${ref.file} for this model`);
      onBytes(bytes.length);
      return bytes;
    },
  };
}
