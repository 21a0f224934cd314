/** The block delivery kinds: a chunk carries 1-D uint8 bytes that fit inside the file's total. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CHUNK_BYTES, splitFrame } from './chunking';
import { decodeMessage, encodeMessage } from './codec';
import { ProtocolError } from './protocol-error';

const chunk = (offset: number, total: number, data: Uint8Array) =>
  ({
    kind: 'block-chunk',
    file: 'block-001.weights',
    offset,
    total,
    data: { dtype: 'uint8', dims: [data.length], data },
  }) as const;

describe('block-chunk frames', () => {
  it('a 192 KiB chunk is one data-channel message', () => {
    const frame = encodeMessage(chunk(0, 10_000_000, new Uint8Array(192 * 1024)));
    expect(splitFrame(frame, 1)).toHaveLength(1);
    expect(frame.length).toBeLessThan(DEFAULT_MAX_CHUNK_BYTES - 20);
    const back = decodeMessage(frame);
    expect(back.kind === 'block-chunk' && back.data.data.length).toBe(192 * 1024);
  });

  it('refuses bytes past the total, and data that is not 1-D uint8', () => {
    expect(() => encodeMessage(chunk(8, 10, new Uint8Array(3)))).toThrow(ProtocolError);
    expect(() => encodeMessage(chunk(8, 10, new Uint8Array(3)))).toThrow(/run past total 10/);
    const floats = {
      ...chunk(0, 100, new Uint8Array(0)),
      data: { dtype: 'float32', dims: [2], data: new Float32Array(2) },
    } as const;
    expect(() => encodeMessage(floats)).toThrow(/1-D uint8 tensor, got float32\[2\]/);
    const square = {
      ...chunk(0, 100, new Uint8Array(0)),
      data: { dtype: 'uint8', dims: [2, 2], data: new Uint8Array(4) },
    } as const;
    expect(() => encodeMessage(square)).toThrow(/1-D uint8/);
  });
});
