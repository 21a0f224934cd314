/**
 * The only importer of peerjs. A PeerNode is this browser's identity on the room's own PeerServer; a
 * Link is one reliable, ordered data channel to another phone carrying Chorus messages. Messages are
 * encoded by the core codec and chunked to ≤ 256 KB (the SCTP limit; a larger send would make peerjs
 * close the connection). A malformed frame is reported and dropped; the link keeps working.
 */
import Peer, { type DataConnection } from 'peerjs';
import type { Link } from '../../core/ports';
import { Reassembler, splitFrame } from '../../core/protocol/chunking';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec';
import type { Message } from '../../core/protocol/messages';

export type { Link };

export interface SignalingServer {
  host: string;
  port: number;
  path: string;
  secure: boolean;
}

export class PeerLink implements Link {
  private readonly reassembler = new Reassembler();
  private nextMessageId = 1;
  private readonly messageHandlers: ((m: Message) => void)[] = [];
  private readonly closeHandlers: (() => void)[] = [];
  private readonly rejectHandlers: ((e: Error) => void)[] = [];

  constructor(private readonly conn: DataConnection) {
    conn.on('data', (data) => this.receive(data));
    conn.on('close', () => {
      for (const h of this.closeHandlers) h();
    });
    conn.on('error', (e) => {
      for (const h of this.rejectHandlers) h(e instanceof Error ? e : new Error(String(e)));
    });
  }

  get remoteId(): string {
    return this.conn.peer;
  }

  get bufferedAmount(): number {
    return this.conn.dataChannel?.bufferedAmount ?? 0;
  }

  /**
   * Resolves when the data channel has at most `lowBytes` queued and peerjs's own queue (it buffers
   * above 8 MB instead of sending) is empty, or when the link closes. `bufferedamountlow` fires on the
   * way down; the timer also covers peerjs's queue, which drains on timers, not events.
   */
  waitForDrain(lowBytes: number): Promise<void> {
    const dc = this.conn.dataChannel;
    const peerQueue = () => (this.conn as { bufferSize?: number }).bufferSize ?? 0;
    const drained = () => !this.conn.open || !dc || (dc.bufferedAmount <= lowBytes && peerQueue() === 0);
    if (drained()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!drained()) return;
        clearInterval(timer);
        dc.removeEventListener('bufferedamountlow', check);
        this.conn.off('close', check);
        resolve();
      };
      dc.bufferedAmountLowThreshold = lowBytes;
      dc.addEventListener('bufferedamountlow', check);
      this.conn.on('close', check);
      const timer = setInterval(check, 50);
    });
  }

  private receive(data: unknown): void {
    try {
      const bytes =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : ArrayBuffer.isView(data)
            ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
            : null;
      if (!bytes) throw new Error(`non-binary data channel message (${typeof data})`);
      const frame = this.reassembler.push(bytes);
      if (!frame) return;
      const message = decodeMessage(frame);
      for (const h of this.messageHandlers) h(message);
    } catch (e) {
      for (const h of this.rejectHandlers) h(e instanceof Error ? e : new Error(String(e)));
    }
  }

  send(message: Message): void {
    const frame = encodeMessage(message);
    const id = this.nextMessageId;
    this.nextMessageId = (id + 1) >>> 0; // ids are u32 on the wire: wrap, never overflow
    for (const chunk of splitFrame(frame, id)) {
      // peerjs 'raw' sends ArrayBuffers as they are; hand it exactly the chunk's bytes.
      this.conn.send(
        chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
          ? chunk.buffer
          : chunk.slice().buffer,
      );
    }
  }

  /** Sends raw bytes as they are (tests use this to deliver a garbage frame). */
  sendRaw(bytes: Uint8Array): void {
    this.conn.send(bytes.slice().buffer);
  }

  close(): void {
    this.conn.close();
  }

  onMessage(handler: (m: Message) => void): void {
    this.messageHandlers.push(handler);
  }

  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }

  onRejected(handler: (e: Error) => void): void {
    this.rejectHandlers.push(handler);
  }
}

export class PeerNode {
  private constructor(private readonly peer: Peer) {}

  /** Registers with the room's PeerServer. `id` is random when omitted. No public STUN/TURN: LAN only. */
  static open(server: SignalingServer, id?: string): Promise<PeerNode> {
    const options = { ...server, debug: 1 as const, config: { iceServers: [] } };
    const peer = id ? new Peer(id, options) : new Peer(options);
    return new Promise((resolve, reject) => {
      peer.once('open', () => resolve(new PeerNode(peer)));
      peer.once('error', (e) => reject(new Error(`signaling server: ${e.message}`)));
    });
  }

  get id(): string {
    return this.peer.id;
  }

  connect(remoteId: string, timeoutMs = 15_000): Promise<Link> {
    const conn = this.peer.connect(remoteId, { reliable: true, serialization: 'raw' });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not reach phone ${remoteId}`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(new Error(`could not reach phone ${remoteId}: ${e.message}`));
      };
      this.peer.once('error', fail);
      conn.once('open', () => {
        clearTimeout(timer);
        this.peer.off('error', fail);
        resolve(new PeerLink(conn));
      });
    });
  }

  onConnection(handler: (link: Link) => void): void {
    this.peer.on('connection', (conn) => conn.once('open', () => handler(new PeerLink(conn))));
  }

  onError(handler: (e: Error) => void): void {
    this.peer.on('error', handler);
  }

  destroy(): void {
    this.peer.destroy();
  }
}
