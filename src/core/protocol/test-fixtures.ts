/**
 * Test-only helpers shared by the protocol's *.test.ts files: one valid message of every kind,
 * tensors of every dtype with awkward values, and a tensor-free comparable form of a message
 * (typed arrays compared byte for byte, so NaN payloads and -0 count).
 */
import { expect } from 'vitest';
import { type Tensor, tensorBytes } from '../tensor';
import { FRAME_PREFIX_BYTES } from './codec';
import type { Message } from './messages';
import { ProtocolError } from './protocol-error';

/** One tensor of every dtype, plus an empty one (a 0 dim) and scalars (dims []). */
export function tensorsOfEveryDtype(): Record<string, Tensor> {
  const f32 = new Float32Array([
    1.5,
    Number.NaN,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    3e-45,
  ]);
  // A NaN with a non-default payload: only a raw-byte copy preserves it.
  new DataView(f32.buffer).setUint32(4, 0x7fc0_1234, true);
  return {
    f32: { dtype: 'float32', dims: [2, 3], data: f32 },
    f16: { dtype: 'float16', dims: [5], data: new Uint16Array([0x3c00, 0x7e00, 0x8000, 0xfc00, 0xffff]) },
    i64: {
      dtype: 'int64',
      dims: [3],
      data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n]),
    },
    i32: { dtype: 'int32', dims: [1, 2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
    i8: { dtype: 'int8', dims: [3], data: new Int8Array([-128, 0, 127]) },
    u8: { dtype: 'uint8', dims: [3], data: new Uint8Array([0, 128, 255]) },
    flags: { dtype: 'bool', dims: [2, 1], data: new Uint8Array([1, 0]) },
    empty: { dtype: 'float32', dims: [2, 0, 3], data: new Float32Array(0) },
    scalarI64: { dtype: 'int64', dims: [], data: new BigInt64Array([7n]) },
    scalarF16: { dtype: 'float16', dims: [], data: new Uint16Array([0x4000]) },
  };
}

/** One message of every kind, optional fields both present and absent across the set. */
export function messagesOfEveryKind(): Message[] {
  return [
    {
      kind: 'hello',
      name: 'Ana’s phone 📱',
      secret: 's3cret',
      caps: { hardwareConcurrency: 8, deviceMemoryGB: 4, webgpu: true, userAgent: 'Mozilla/5.0' },
    },
    { kind: 'welcome', roomId: 'room-1', phoneId: 'p2' },
    { kind: 'refused', reason: 'wrong secret' },
    {
      kind: 'roster',
      phones: [
        { id: 'p1', name: 'leader', state: 'ready', blocks: [0, 11], measured: 'wasm: kernel 3.1 ms/token' },
        { id: 'p2', name: 'joiner', state: 'loading', loaded: 10, total: 100, detail: 'shard 3' },
      ],
      planId: null,
    },
    { kind: 'state', state: 'measuring' },
    { kind: 'state', state: 'loading', loaded: 1, total: 2, detail: 'x' },
    {
      kind: 'assign',
      assignment: {
        stageIndex: 1,
        stageCount: 2,
        modelBase: 'https://example.test/models/tiny/',
        firstBlock: 12,
        lastBlock: 23,
        nextPeer: null,
        prevPeer: 'phone-a',
        forward: ['hidden_states', 'attention_mask'],
        planId: 'plan-7',
        phases: { decode: 'wasm', prefill: 'webgpu' },
      },
    },
    {
      kind: 'activations',
      planId: 'plan-7',
      requestId: 'r1',
      step: 0,
      tensors: tensorsOfEveryDtype(),
      stageTimesMs: [12.5],
      residentMs: [12.5],
    },
    {
      kind: 'activations',
      planId: 'p',
      requestId: 'r1',
      step: 3,
      tensors: {},
      stageTimesMs: [],
      residentMs: [],
    },
    {
      kind: 'activations',
      planId: 'p',
      requestId: 'r1',
      step: 2,
      tokens: 64,
      tensors: {},
      stageTimesMs: [],
      residentMs: [],
    },
    {
      kind: 'logits',
      planId: 'plan-7',
      requestId: 'r1',
      step: 1,
      logits: { dtype: 'float32', dims: [1, 4], data: new Float32Array([0.1, -2, 3, Number.NaN]) },
      stageTimesMs: [1, 2.25],
      residentMs: [1, 2.25],
    },
    { kind: 'release', planId: 'plan-7', requestId: 'r1' },
    { kind: 'unload', planId: 'plan-8' },
    {
      kind: 'prefetch',
      assignment: {
        stageIndex: 0,
        stageCount: 2,
        modelBase: 'https://example.test/models/tiny/',
        firstBlock: 0,
        lastBlock: 11,
        nextPeer: 'phone-b',
        prevPeer: null,
        forward: ['hidden_states'],
        planId: 'plan-9',
      },
    },
    { kind: 'prefetched', planId: 'plan-9' },
    { kind: 'prefetched', planId: 'plan-9', error: 'block-003.weights failed its sha256 check' },
    { kind: 'state', state: 'ready', detail: 'wasm', planId: 'plan-8' },
    { kind: 'error', message: 'out of memory' },
    { kind: 'error', requestId: 'r9', message: 'stage failed' },
    { kind: 'ping', nonce: 17, sentAt: 1_700_000_000_000.5 },
    { kind: 'pong', nonce: 17, sentAt: 1_700_000_000_000.5 },
    { kind: 'block-request', file: 'block-003.weights' },
    {
      kind: 'block-chunk',
      file: 'block-003.weights',
      offset: 8,
      total: 13,
      data: { dtype: 'uint8', dims: [5], data: new Uint8Array([0, 1, 254, 255, 7]) },
    },
    { kind: 'block-error', file: 'block-009.onnx', message: 'no such file' },
    { kind: 'measure', shape: { hidden: 576, kvDim: 192, intermediate: 1536 } },
    {
      kind: 'profile',
      profile: {
        shape: { hidden: 576, kvDim: 192, intermediate: 1536 },
        decodeMs: 3.5,
        prefillMs: 40.25,
        prefillTokens: 32,
        perOpMs: 0.004,
        threads: 1,
        backend: 'wasm (1 thread)',
        prefillMsAllThreads: 25,
        allThreads: 2,
        memoryBudgetBytes: 2 ** 31,
        memorySource: 'navigator.deviceMemory',
        webgpu: true,
        webgpuTiming: {
          adapter: 'google swiftshader',
          decodeMs: 180,
          prefillMs: null,
          perOpMs: 0.2,
          note: 'slow',
        },
        decodeOn: 'wasm',
        prefillOn: 'webgpu',
        slowdown: 2,
      },
    },
    {
      kind: 'probe',
      nonce: 3,
      sentAt: 12.5,
      data: { dtype: 'uint8', dims: [4], data: new Uint8Array([9, 8, 7, 6]) },
    },
    {
      kind: 'ask',
      requestId: 'q-1',
      input: { text: 'And the LORD said' },
      params: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 7, maxNewTokens: 32 },
    },
    {
      kind: 'ask',
      requestId: 'q-2',
      input: { ids: [1, 2, 3] },
      params: { temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.1, seed: 1, maxNewTokens: 8 },
    },
    { kind: 'cancel', requestId: 'q-1' },
    { kind: 'answer-state', requestId: 'q-1', state: 'queued', position: 2 },
    { kind: 'answer-state', requestId: 'q-1', state: 'generating' },
    { kind: 'answer-text', requestId: 'q-1', text: ' LORD', ids: [261] },
    {
      kind: 'answer-end',
      requestId: 'q-1',
      outcome: 'done',
      promptIds: [1, 2],
      generatedIds: [3, 4],
      tokensPerSecond: 12.5,
      timeToFirstTokenMs: 80,
    },
    {
      kind: 'answer-end',
      requestId: 'q-2',
      outcome: 'refused',
      message: 'the room is busy',
      promptIds: [],
      generatedIds: [],
      tokensPerSecond: 0,
      timeToFirstTokenMs: null,
    },
  ];
}

// windows-1252 as WHATWG defines it maps each byte to a distinct code point, so equal strings mean
// equal bytes — and comparing one string is far faster than a megabyte-long array in expect().
const byteString = new TextDecoder('windows-1252');

/** Bytes as a string that is equal exactly when the bytes are. */
export function bytesKey(bytes: Uint8Array): string {
  return `${bytes.length}:${byteString.decode(bytes)}`;
}

function comparableTensor(t: Tensor): unknown {
  return {
    dtype: t.dtype,
    dims: [...t.dims],
    array: t.data.constructor.name,
    bytes: bytesKey(tensorBytes(t)),
  };
}

/** The message with every tensor replaced by its dtype, dims, array type and exact bytes. */
export function comparable(m: Message): unknown {
  switch (m.kind) {
    case 'activations':
      return {
        ...m,
        tensors: Object.fromEntries(Object.entries(m.tensors).map(([k, t]) => [k, comparableTensor(t)])),
      };
    case 'logits':
      return { ...m, logits: comparableTensor(m.logits) };
    case 'block-chunk':
    case 'probe':
      return { ...m, data: comparableTensor(m.data) };
    default:
      return m;
  }
}

/**
 * Asserts `run` throws a ProtocolError from an explicit check. The codec's catch-all wraps stray
 * errors as "malformed frame: …"; seeing that here means a check is missing, so it fails the test.
 */
export function expectProtocolError(run: () => unknown, pattern?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a ProtocolError to be thrown').toBeInstanceOf(ProtocolError);
  const error = caught as ProtocolError;
  expect(error.message).not.toMatch(/^malformed frame:/);
  if (pattern) expect(error.message).toMatch(pattern);
  return error;
}

/** Parses a frame's header JSON without validation, to build malformed variants of valid frames. */
export function readRawHeader(frame: Uint8Array): Record<string, unknown> {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(8, true);
  return JSON.parse(
    new TextDecoder().decode(frame.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + length)),
  );
}

/** Rebuilds `frame` with `headerText` as its header, keeping the prefix and the data section. */
export function withRawHeader(frame: Uint8Array, headerText: string | Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset);
  const oldEnd = FRAME_PREFIX_BYTES + view.getUint32(8, true);
  const data = frame.subarray(Math.ceil(oldEnd / 8) * 8);
  const header = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const dataStart = Math.ceil((FRAME_PREFIX_BYTES + header.byteLength) / 8) * 8;
  const out = new Uint8Array(dataStart + data.byteLength);
  out.set(frame.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, header.byteLength, true);
  out.set(header, FRAME_PREFIX_BYTES);
  out.set(data, dataStart);
  return out;
}

/** Rebuilds `frame` with its header object edited by `edit`. */
export function withEditedHeader(
  frame: Uint8Array,
  edit: (header: Record<string, unknown>) => void,
): Uint8Array {
  const header = readRawHeader(frame);
  edit(header);
  return withRawHeader(frame, JSON.stringify(header));
}
