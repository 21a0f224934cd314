import { describe, expect, it } from 'vitest';
import { BYTES_PER_ELEMENT, type Tensor } from '../tensor';
import { decodeMessage, encodeMessage, FRAME_PREFIX_BYTES } from './codec';
import { KIND_CODES, type Message } from './messages';
import { ProtocolError } from './protocol-error';
import { comparable, messagesOfEveryKind, readRawHeader, tensorsOfEveryDtype } from './test-fixtures';

function roundTrip(m: Message): Message {
  return decodeMessage(encodeMessage(m));
}

describe('encodeMessage / decodeMessage round trip', () => {
  it('the fixtures cover every message kind', () => {
    const kinds = new Set(messagesOfEveryKind().map((m) => m.kind));
    expect([...kinds].sort()).toEqual(Object.keys(KIND_CODES).sort());
  });

  for (const m of messagesOfEveryKind()) {
    it(`preserves a ${m.kind} message exactly`, () => {
      expect(comparable(roundTrip(m))).toStrictEqual(comparable(m));
    });
  }

  it('preserves every dtype bit for bit, with the right typed array', () => {
    const tensors = tensorsOfEveryDtype();
    const decoded = roundTrip({
      kind: 'activations',
      planId: 'p',
      requestId: 'r',
      step: 0,
      tensors,
      stageTimesMs: [],
      residentMs: [],
    });
    if (decoded.kind !== 'activations') throw new Error('wrong kind');
    expect(decoded.tensors.i64?.data).toBeInstanceOf(BigInt64Array);
    expect(decoded.tensors.f16?.data).toBeInstanceOf(Uint16Array);
    expect([...(decoded.tensors.i64?.data ?? [])]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 42n]);
    const f32 = decoded.tensors.f32?.data as Float32Array;
    expect(Number.isNaN(f32[1])).toBe(true);
    expect(Object.is(f32[2], -0)).toBe(true);
    expect(f32[3]).toBe(Number.POSITIVE_INFINITY);
    expect(new DataView(f32.buffer, f32.byteOffset).getUint32(4, true)).toBe(0x7fc0_1234);
    expect(decoded.tensors.empty?.dims).toEqual([2, 0, 3]);
    expect(decoded.tensors.empty?.data.length).toBe(0);
    expect(decoded.tensors.scalarI64?.dims).toEqual([]);
    expect(decoded.tensors.scalarI64?.data[0]).toBe(7n);
  });

  it('keeps a tensor named __proto__ as an ordinary entry', () => {
    const t: Tensor = { dtype: 'int32', dims: [1], data: new Int32Array([5]) };
    const tensors = Object.fromEntries([['__proto__', t]]);
    const decoded = roundTrip({
      kind: 'activations',
      planId: 'p',
      requestId: 'r',
      step: 0,
      tensors,
      stageTimesMs: [],
      residentMs: [],
    });
    if (decoded.kind !== 'activations') throw new Error('wrong kind');
    expect(Object.keys(decoded.tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(decoded.tensors)).toBe(Object.prototype);
  });

  it('accepts an ArrayBuffer as well as a Uint8Array', () => {
    const frame = encodeMessage({ kind: 'release', planId: 'p', requestId: 'r' });
    expect(decodeMessage(frame.slice().buffer)).toEqual({ kind: 'release', planId: 'p', requestId: 'r' });
  });

  it('drops unknown header fields instead of passing them through', () => {
    const frame = encodeMessage({ kind: 'refused', reason: 'full' });
    const header = JSON.stringify({ kind: 'refused', reason: 'full', extra: 1 });
    const bytes = new TextEncoder().encode(header);
    const edited = new Uint8Array(Math.ceil((FRAME_PREFIX_BYTES + bytes.length) / 8) * 8);
    edited.set(frame.subarray(0, 8));
    new DataView(edited.buffer).setUint32(8, bytes.length, true);
    edited.set(bytes, FRAME_PREFIX_BYTES);
    expect(decodeMessage(edited)).toStrictEqual({ kind: 'refused', reason: 'full' });
  });
});

describe('frame layout', () => {
  it('writes the documented prefix', () => {
    const frame = encodeMessage({ kind: 'ping', nonce: 1, sentAt: 2 });
    const view = new DataView(frame.buffer);
    expect(new TextDecoder().decode(frame.subarray(0, 4))).toBe('CHR1');
    expect(view.getUint8(4)).toBe(1);
    expect(view.getUint8(5)).toBe(KIND_CODES.ping);
    expect(view.getUint16(6, true)).toBe(0);
    const headerLength = view.getUint32(8, true);
    expect(readRawHeader(frame)).toEqual({ kind: 'ping', nonce: 1, sentAt: 2 });
    expect(frame.length).toBe(Math.ceil((FRAME_PREFIX_BYTES + headerLength) / 8) * 8);
  });

  it('puts every tensor at an 8-aligned offset and sends raw bytes, not JSON', () => {
    const big: Tensor = {
      dtype: 'float32',
      dims: [1, 256, 1024],
      data: new Float32Array(256 * 1024).fill(0.1),
    };
    const tensors = { ...tensorsOfEveryDtype(), big };
    const frame = encodeMessage({
      kind: 'activations',
      planId: 'p',
      requestId: 'r',
      step: 0,
      tensors,
      stageTimesMs: [],
      residentMs: [],
    });
    const header = readRawHeader(frame) as {
      tensors: Record<string, { offset: number; byteLength: number }>;
    };
    const dataStart = Math.ceil((FRAME_PREFIX_BYTES + new DataView(frame.buffer).getUint32(8, true)) / 8) * 8;
    for (const d of Object.values(header.tensors)) expect((dataStart + d.offset) % 8).toBe(0);
    expect(frame.length).toBeLessThan(big.data.byteLength + 4096);
  });

  it('decodes aligned tensors as views of the frame, without copying', () => {
    const frame = encodeMessage({
      kind: 'logits',
      planId: 'p',
      requestId: 'r',
      step: 0,
      logits: { dtype: 'float32', dims: [3], data: new Float32Array([1, 2, 3]) },
      stageTimesMs: [],
      residentMs: [],
    });
    const decoded = decodeMessage(frame);
    if (decoded.kind !== 'logits') throw new Error('wrong kind');
    expect(decoded.logits.data.buffer).toBe(frame.buffer);
  });

  it('copies to aligned arrays when the frame sits at an odd offset', () => {
    const m: Message = {
      kind: 'activations',
      planId: 'p',
      requestId: 'r',
      step: 0,
      tensors: tensorsOfEveryDtype(),
      stageTimesMs: [],
      residentMs: [],
    };
    const frame = encodeMessage(m);
    const shifted = new Uint8Array(new ArrayBuffer(frame.length + 3), 3, frame.length);
    shifted.set(frame);
    const decoded = decodeMessage(shifted);
    if (decoded.kind !== 'activations') throw new Error('wrong kind');
    for (const t of Object.values(decoded.tensors)) {
      expect(t.data.byteOffset % BYTES_PER_ELEMENT[t.dtype]).toBe(0);
    }
    expect(comparable(decoded)).toStrictEqual(comparable(m));
  });
});

describe('encodeMessage refuses what the receiver would reject', () => {
  it.each<[string, Message]>([
    ['a NaN number (JSON would turn it into null)', { kind: 'ping', nonce: Number.NaN, sentAt: 0 }],
    ['a fractional step', { ...logits(), step: 1.5 }],
    [
      'a stage index past the stage count',
      { kind: 'assign', assignment: { ...assignment(), stageIndex: 2, stageCount: 2 } },
    ],
  ])('%s', (_label, m) => {
    expect(() => encodeMessage(m)).toThrow(ProtocolError);
  });

  it('a tensor whose data does not match its dims', () => {
    const m: Message = { ...logits(), logits: { dtype: 'float32', dims: [4], data: new Float32Array(3) } };
    expect(() => encodeMessage(m)).toThrow(/expected 16/);
  });

  it('a frame over maxMessageBytes', () => {
    expect(() => encodeMessage(logits(), { maxMessageBytes: 64 })).toThrow(/limit/);
  });
});

function logits(): Extract<Message, { kind: 'logits' }> {
  return {
    kind: 'logits',
    planId: 'p',
    requestId: 'r',
    step: 1,
    logits: { dtype: 'float32', dims: [2], data: new Float32Array(2) },
    stageTimesMs: [],
    residentMs: [],
  };
}

function assignment() {
  return {
    stageIndex: 0,
    stageCount: 1,
    modelBase: '/m/',
    firstBlock: 0,
    lastBlock: 1,
    nextPeer: null,
    prevPeer: null,
    forward: [],
    planId: 'p',
  };
}
