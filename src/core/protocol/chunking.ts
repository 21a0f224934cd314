/**
 * Splits frames into data-channel messages and joins them back. SCTP caps one message at 256 KiB
 * (262144 bytes) in practice, so every frame travels as ≥1 chunks — always, even when it would fit,
 * so the receiver has exactly one format to parse.
 *
 * Chunk layout (integers little-endian, u32):
 *
 *   offset  size  field
 *   0       4     magic "CHK1" (ASCII)
 *   4       4     messageId   (sender-chosen; unique among that sender's in-flight frames)
 *   8       4     chunkIndex  (0-based)
 *   12      4     chunkCount  (≥ 1)
 *   16      4     totalBytes  (length of the whole frame)
 *   20      …     payload: the frame's next bytes
 *
 * Message ids belong to one sender, so use one Reassembler per connection.
 */
import { DEFAULT_MAX_MESSAGE_BYTES } from './codec';
import { ProtocolError } from './protocol-error';

export const CHUNK_MAGIC = 'CHK1';
export const CHUNK_HEADER_BYTES = 20;
export const DEFAULT_MAX_CHUNK_BYTES = 256 * 1024;
export const DEFAULT_MAX_PENDING_MESSAGES = 16;

const MAGIC_BYTES = new TextEncoder().encode(CHUNK_MAGIC);
const U32_MAX = 0xffff_ffff;

export function splitFrame(
  frame: Uint8Array,
  messageId: number,
  maxChunkBytes: number = DEFAULT_MAX_CHUNK_BYTES,
): Uint8Array[] {
  if (!Number.isInteger(messageId) || messageId < 0 || messageId > U32_MAX) {
    throw new RangeError(`messageId must be a u32, got ${messageId}`);
  }
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes <= CHUNK_HEADER_BYTES) {
    throw new RangeError(
      `maxChunkBytes must be an integer above ${CHUNK_HEADER_BYTES}, got ${maxChunkBytes}`,
    );
  }
  if (frame.byteLength > U32_MAX) throw new RangeError(`frame of ${frame.byteLength} bytes is too large`);
  const payloadBytes = maxChunkBytes - CHUNK_HEADER_BYTES;
  const chunkCount = Math.max(1, Math.ceil(frame.byteLength / payloadBytes));
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < chunkCount; index++) {
    const payload = frame.subarray(index * payloadBytes, (index + 1) * payloadBytes);
    const chunk = new Uint8Array(CHUNK_HEADER_BYTES + payload.byteLength);
    const view = new DataView(chunk.buffer);
    chunk.set(MAGIC_BYTES, 0);
    view.setUint32(4, messageId, true);
    view.setUint32(8, index, true);
    view.setUint32(12, chunkCount, true);
    view.setUint32(16, frame.byteLength, true);
    chunk.set(payload, CHUNK_HEADER_BYTES);
    chunks.push(chunk);
  }
  return chunks;
}

export interface ReassemblerOptions {
  /** Largest frame accepted; checked against each chunk's totalBytes before buffering. Default 512 MiB. */
  maxMessageBytes?: number;
  /**
   * Most partially received messages kept at once. When a new message starts beyond this, the one
   * started longest ago is dropped (its later chunks then fail as out of sequence). Default 16.
   */
  maxPendingMessages?: number;
}

interface PendingMessage {
  chunkCount: number;
  totalBytes: number;
  nextIndex: number;
  receivedBytes: number;
  /** Copies of the payloads: the caller may reuse a chunk's buffer once push returns. */
  parts: Uint8Array[];
}

interface ChunkHeader {
  messageId: number;
  chunkIndex: number;
  chunkCount: number;
  totalBytes: number;
  payload: Uint8Array;
}

export class Reassembler {
  private readonly maxMessageBytes: number;
  private readonly maxPendingMessages: number;
  /** Map iteration order is insertion order, which makes "oldest started" the first key. */
  private readonly pending = new Map<number, PendingMessage>();

  constructor(options: ReassemblerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxPendingMessages = options.maxPendingMessages ?? DEFAULT_MAX_PENDING_MESSAGES;
    if (!(this.maxPendingMessages >= 1)) throw new RangeError('maxPendingMessages must be at least 1');
  }

  /** Number of messages with some but not all chunks received. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Takes one chunk; returns the whole frame when this was its last chunk, else null. Throws
   * ProtocolError on a malformed or out-of-sequence chunk, after dropping that message's partial
   * state, so the connection can keep going with later messages.
   */
  push(chunk: Uint8Array | ArrayBuffer): Uint8Array | null {
    const bytes = chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : chunk;
    const header = this.parseHeader(bytes);
    try {
      return this.accept(header);
    } catch (e) {
      this.pending.delete(header.messageId);
      throw e;
    }
  }

  /** Forgets every partial message whose id is below `messageId` (ids increase per sender). */
  dropOlderThan(messageId: number): number {
    let dropped = 0;
    for (const id of [...this.pending.keys()]) {
      if (id < messageId) {
        this.pending.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  reset(): void {
    this.pending.clear();
  }

  private parseHeader(bytes: Uint8Array): ChunkHeader {
    if (!(bytes instanceof Uint8Array)) throw new ProtocolError('chunk must be a Uint8Array or ArrayBuffer');
    if (bytes.byteLength < CHUNK_HEADER_BYTES) {
      throw new ProtocolError(`chunk too short: ${bytes.byteLength} bytes`);
    }
    for (let i = 0; i < MAGIC_BYTES.length; i++) {
      if (bytes[i] !== MAGIC_BYTES[i]) throw new ProtocolError('bad chunk magic (expected "CHK1")');
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, CHUNK_HEADER_BYTES);
    return {
      messageId: view.getUint32(4, true),
      chunkIndex: view.getUint32(8, true),
      chunkCount: view.getUint32(12, true),
      totalBytes: view.getUint32(16, true),
      payload: bytes.subarray(CHUNK_HEADER_BYTES),
    };
  }

  private accept(c: ChunkHeader): Uint8Array | null {
    const where = `chunk ${c.chunkIndex}/${c.chunkCount} of message ${c.messageId}`;
    if (c.chunkCount === 0) throw new ProtocolError(`${where}: chunkCount is 0`);
    if (c.chunkIndex >= c.chunkCount) throw new ProtocolError(`${where}: index out of range`);
    if (c.totalBytes > this.maxMessageBytes) {
      throw new ProtocolError(
        `${where}: ${c.totalBytes} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
      );
    }
    // Senders never emit empty chunks, except the single chunk of an empty frame; refusing them
    // stops a peer from parking a message forever with billions of zero-byte chunks.
    if (c.payload.byteLength === 0 && c.totalBytes > 0) throw new ProtocolError(`${where}: empty payload`);

    let p = this.pending.get(c.messageId);
    if (p === undefined) {
      if (c.chunkIndex !== 0) throw new ProtocolError(`${where}: out of sequence (expected chunk 0)`);
      p = { chunkCount: c.chunkCount, totalBytes: c.totalBytes, nextIndex: 0, receivedBytes: 0, parts: [] };
    } else {
      if (c.chunkCount !== p.chunkCount || c.totalBytes !== p.totalBytes) {
        throw new ProtocolError(`${where}: chunkCount/totalBytes differ from the message's first chunk`);
      }
      if (c.chunkIndex !== p.nextIndex) {
        throw new ProtocolError(`${where}: out of sequence (expected chunk ${p.nextIndex})`);
      }
    }

    const received = p.receivedBytes + c.payload.byteLength;
    if (received > p.totalBytes)
      throw new ProtocolError(`${where}: payload overflows totalBytes ${p.totalBytes}`);
    const isLast = c.chunkIndex === c.chunkCount - 1;
    if (isLast && received !== p.totalBytes) {
      throw new ProtocolError(`${where}: last chunk leaves the frame ${p.totalBytes - received} bytes short`);
    }

    if (isLast) {
      this.pending.delete(c.messageId);
      return concat(p.parts, c.payload, p.totalBytes);
    }
    if (!this.pending.has(c.messageId)) this.makeRoomForOneMore();
    p.parts.push(c.payload.slice());
    p.receivedBytes = received;
    p.nextIndex++;
    this.pending.set(c.messageId, p);
    return null;
  }

  private makeRoomForOneMore(): void {
    while (this.pending.size >= this.maxPendingMessages) {
      const oldest = this.pending.keys().next();
      if (oldest.done) return;
      this.pending.delete(oldest.value);
    }
  }
}

function concat(parts: readonly Uint8Array[], last: Uint8Array, totalBytes: number): Uint8Array {
  // A fresh buffer at offset 0 keeps the frame's 8-byte tensor alignment, so decoding needs no copies.
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  out.set(last, offset);
  return out;
}
