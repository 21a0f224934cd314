import { describe, expect, it } from 'vitest';
import { CHUNK_HEADER_BYTES, Reassembler, splitFrame } from './chunking';
import { decodeMessage, encodeMessage } from './codec';
import type { Message } from './messages';
import { bytesKey, comparable, expectProtocolError, tensorsOfEveryDtype } from './test-fixtures';

const MAX = 256 * 1024;

/** A ~1 MB activations message: a [1, 256, 1024] float32 hidden state plus every dtype. */
function bigActivations(): Message {
  const hidden = new Float32Array(256 * 1024).map((_, i) => Math.sin(i));
  return {
    kind: 'activations',
    planId: 'p',
    requestId: 'req-1',
    step: 0,
    tensors: {
      hidden_states: { dtype: 'float32', dims: [1, 256, 1024], data: hidden },
      ...tensorsOfEveryDtype(),
    },
    stageTimesMs: [3.5, 4.25],
    residentMs: [3.5, 4.25],
  };
}

const bytesOf = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function chunkWith(
  fields: { id?: number; index: number; count: number; total: number },
  payload: Uint8Array,
) {
  const chunk = new Uint8Array(CHUNK_HEADER_BYTES + payload.length);
  const view = new DataView(chunk.buffer);
  chunk.set(new TextEncoder().encode('CHK1'));
  view.setUint32(4, fields.id ?? 1, true);
  view.setUint32(8, fields.index, true);
  view.setUint32(12, fields.count, true);
  view.setUint32(16, fields.total, true);
  chunk.set(payload, CHUNK_HEADER_BYTES);
  return chunk;
}

describe('splitFrame', () => {
  it('splits a ~1 MB activations frame into chunks no larger than 256 KiB, which reassemble exactly', () => {
    const m = bigActivations();
    const frame = encodeMessage(m);
    expect(frame.length).toBeGreaterThan(1024 * 1024);
    const chunks = splitFrame(frame, 42);
    expect(chunks.length).toBe(Math.ceil(frame.length / (MAX - CHUNK_HEADER_BYTES)));
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(MAX);

    const reassembler = new Reassembler();
    const results = chunks.map((c) => reassembler.push(c));
    expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
    const whole = results.at(-1);
    expect(whole).toBeInstanceOf(Uint8Array);
    expect(bytesKey(whole!)).toBe(bytesKey(frame));
    expect(comparable(decodeMessage(whole!))).toStrictEqual(comparable(m));
    expect(reassembler.pendingCount).toBe(0);
  });

  it('writes the documented chunk header', () => {
    const [chunk] = splitFrame(bytesOf(10), 0xdead_beef);
    const view = new DataView(chunk!.buffer);
    expect(new TextDecoder().decode(chunk!.subarray(0, 4))).toBe('CHK1');
    expect(view.getUint32(4, true)).toBe(0xdead_beef);
    expect(view.getUint32(8, true)).toBe(0);
    expect(view.getUint32(12, true)).toBe(1);
    expect(view.getUint32(16, true)).toBe(10);
    expect(chunk!.subarray(CHUNK_HEADER_BYTES)).toEqual(bytesOf(10));
  });

  it('uses one chunk for a frame that fits and two for one byte more, at the exact boundary', () => {
    const fits = MAX - CHUNK_HEADER_BYTES;
    expect(splitFrame(bytesOf(fits), 1).map((c) => c.length)).toEqual([MAX]);
    expect(splitFrame(bytesOf(fits + 1), 1).map((c) => c.length)).toEqual([MAX, CHUNK_HEADER_BYTES + 1]);
  });

  it('sends an empty frame as one empty chunk', () => {
    const chunks = splitFrame(new Uint8Array(0), 3);
    expect(chunks.length).toBe(1);
    expect(new Reassembler().push(chunks[0]!)).toEqual(new Uint8Array(0));
  });

  it('rejects a chunk size with no room for payload and ids that are not u32', () => {
    expect(() => splitFrame(bytesOf(4), 1, CHUNK_HEADER_BYTES)).toThrow(/maxChunkBytes/);
    expect(() => splitFrame(bytesOf(4), -1)).toThrow(/messageId/);
    expect(() => splitFrame(bytesOf(4), 2 ** 32)).toThrow(/messageId/);
  });
});

describe('Reassembler', () => {
  it('reassembles interleaved messages', () => {
    const a = bytesOf(1000, 1);
    const b = bytesOf(700, 2);
    const chunksA = splitFrame(a, 1, 120);
    const chunksB = splitFrame(b, 2, 120);
    const reassembler = new Reassembler();
    const done: Uint8Array[] = [];
    for (let i = 0; i < Math.max(chunksA.length, chunksB.length); i++) {
      for (const chunk of [chunksA[i], chunksB[i]]) {
        const result = chunk && reassembler.push(chunk);
        if (result) done.push(result);
      }
    }
    expect(done).toEqual([b, a]);
  });

  it('accepts ArrayBuffers, and copies payloads so a reused chunk buffer cannot corrupt the frame', () => {
    const frame = bytesOf(300);
    const [first, second] = splitFrame(frame, 9, 200);
    const reassembler = new Reassembler();
    const firstBuffer = first!.slice().buffer;
    expect(reassembler.push(firstBuffer)).toBeNull();
    new Uint8Array(firstBuffer).fill(0);
    expect(reassembler.push(second!)).toEqual(frame);
  });

  const malformed: [string, Uint8Array[], RegExp][] = [
    ['a chunk shorter than its header', [new Uint8Array(19)], /too short/],
    ['bad magic', [new Uint8Array(24)], /magic/],
    ['chunkCount 0', [chunkWith({ index: 0, count: 0, total: 1 }, bytesOf(1))], /chunkCount is 0/],
    [
      'chunkIndex ≥ chunkCount',
      [chunkWith({ index: 2, count: 2, total: 2 }, bytesOf(1))],
      /index out of range/,
    ],
    [
      'a first chunk that is not chunk 0',
      [chunkWith({ index: 1, count: 2, total: 2 }, bytesOf(1))],
      /expected chunk 0/,
    ],
    [
      'a skipped chunk',
      [
        chunkWith({ index: 0, count: 3, total: 3 }, bytesOf(1)),
        chunkWith({ index: 2, count: 3, total: 3 }, bytesOf(1)),
      ],
      /expected chunk 1/,
    ],
    [
      'a repeated chunk 0',
      [
        chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(1)),
        chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(1)),
      ],
      /expected chunk 1/,
    ],
    [
      'a changed chunkCount',
      [
        chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(1)),
        chunkWith({ index: 1, count: 3, total: 2 }, bytesOf(1)),
      ],
      /differ/,
    ],
    [
      'a changed totalBytes',
      [
        chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(1)),
        chunkWith({ index: 1, count: 2, total: 3 }, bytesOf(1)),
      ],
      /differ/,
    ],
    ['payload beyond totalBytes', [chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(3))], /overflows/],
    [
      'a last chunk that leaves the frame short',
      [chunkWith({ index: 0, count: 1, total: 5 }, bytesOf(3))],
      /short/,
    ],
    [
      'an empty payload in a non-empty frame',
      [chunkWith({ index: 0, count: 2, total: 2 }, bytesOf(0))],
      /empty/,
    ],
    ['totalBytes over the limit', [chunkWith({ index: 0, count: 2, total: 2000 }, bytesOf(1))], /limit/],
  ];

  it.each(malformed)('rejects %s, then keeps working', (_label, chunks, pattern) => {
    const reassembler = new Reassembler({ maxMessageBytes: 1000 });
    for (const chunk of chunks.slice(0, -1)) expect(reassembler.push(chunk)).toBeNull();
    expectProtocolError(() => reassembler.push(chunks.at(-1)!), pattern);
    expect(reassembler.pendingCount).toBe(0);
    // The same message id, and another one, both go through afterwards.
    for (const id of [1, 2]) {
      const frame = bytesOf(250, id);
      const results = splitFrame(frame, id, 100).map((c) => reassembler.push(c));
      expect(results.at(-1)).toEqual(frame);
    }
  });

  it('drops the oldest partial message beyond maxPendingMessages', () => {
    const reassembler = new Reassembler({ maxPendingMessages: 2 });
    const frames = [1, 2, 3].map((id) => ({ id, chunks: splitFrame(bytesOf(150, id), id, 100) }));
    for (const { chunks } of frames) expect(reassembler.push(chunks[0]!)).toBeNull();
    expect(reassembler.pendingCount).toBe(2);
    expectProtocolError(() => reassembler.push(frames[0]!.chunks[1]!), /expected chunk 0/);
    expect(reassembler.push(frames[1]!.chunks[1]!)).toEqual(bytesOf(150, 2));
    expect(reassembler.push(frames[2]!.chunks[1]!)).toEqual(bytesOf(150, 3));
  });

  it('dropOlderThan and reset forget partial messages', () => {
    const reassembler = new Reassembler();
    for (const id of [3, 5, 8]) reassembler.push(splitFrame(bytesOf(150), id, 100)[0]!);
    expect(reassembler.dropOlderThan(6)).toBe(2);
    expect(reassembler.pendingCount).toBe(1);
    reassembler.reset();
    expect(reassembler.pendingCount).toBe(0);
  });

  it('rejects a non-positive maxPendingMessages', () => {
    expect(() => new Reassembler({ maxPendingMessages: 0 })).toThrow(/maxPendingMessages/);
  });
});
