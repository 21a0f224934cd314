import { describe, expect, it } from 'vitest';
import { createRng } from '../sampling/rng';
import { decodeMessage, encodeMessage } from './codec';
import type { Message } from './messages';
import { ProtocolError } from './protocol-error';
import {
  expectProtocolError,
  messagesOfEveryKind,
  readRawHeader,
  tensorsOfEveryDtype,
  withEditedHeader,
  withRawHeader,
} from './test-fixtures';

type Header = Record<string, unknown> & {
  tensors: Record<string, Record<string, unknown>>;
  caps: Record<string, unknown>;
  phones: Record<string, unknown>[];
  assignment: Record<string, unknown>;
};

const activationsFrame = () =>
  encodeMessage({
    kind: 'activations',
    planId: 'p',
    requestId: 'r',
    step: 0,
    tensors: tensorsOfEveryDtype(),
    stageTimesMs: [1],
    residentMs: [1],
  });
const frameOf = (kind: Message['kind']) => {
  const m = messagesOfEveryKind().find((x) => x.kind === kind);
  if (!m) throw new Error(`no fixture for ${kind}`);
  return encodeMessage(m);
};
const patched = (frame: Uint8Array, at: number, value: number, width: 1 | 2 | 4 = 1) => {
  const out = frame.slice();
  const view = new DataView(out.buffer);
  if (width === 1) view.setUint8(at, value);
  else if (width === 2) view.setUint16(at, value, true);
  else view.setUint32(at, value, true);
  return out;
};
const edit = (kind: Message['kind'], change: (h: Header) => void) =>
  withEditedHeader(kind === 'activations' ? activationsFrame() : frameOf(kind), (h) => change(h as Header));

describe('decodeMessage rejects malformed frames with a ProtocolError', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['an empty frame', () => new Uint8Array(0), /too short/],
    [
      'residence times not one per stage',
      () => edit('activations', (h) => (h.residentMs = [1, 2])),
      /residentMs has 2 entries/,
    ],
    ['a negative residence time', () => edit('activations', (h) => (h.residentMs = [-5])), /negative/],
    [
      'a zero WebGPU timing',
      () =>
        edit('profile', (h) => {
          (h.profile as { webgpuTiming: { decodeMs: number } }).webgpuTiming.decodeMs = 0;
        }),
      /decodeMs must be above 0/,
    ],
    [
      'a phase on WebGPU without WebGPU timings',
      () =>
        edit('profile', (h) => {
          const profile = h.profile as Record<string, unknown>;
          delete profile.webgpuTiming;
        }),
      /no webgpuTiming/,
    ],
    [
      'an assignment to an unknown runtime',
      () => edit('assign', (h) => (h.assignment.phases = { decode: 'cuda', prefill: 'wasm' })),
      /phases\.decode must be one of wasm\|webgpu/,
    ],
    ['a frame shorter than the prefix', () => frameOf('ping').subarray(0, 11), /too short/],
    ['wrong magic', () => patched(frameOf('ping'), 0, 0x58), /magic/],
    ['an unknown version', () => patched(frameOf('ping'), 4, 2), /version 2/],
    ['kind code 0', () => patched(frameOf('ping'), 5, 0), /kind code 0/],
    ['an unknown kind code', () => patched(frameOf('ping'), 5, 200), /kind code 200/],
    ['non-zero flags', () => patched(frameOf('ping'), 6, 1, 2), /flags/],
    ['a header length past the end', () => patched(frameOf('ping'), 8, 5000, 4), /past the end/],
    ['a header length over the limit', () => patched(frameOf('ping'), 8, 0xffff_ffff, 4), /limit/],
    [
      'a header that is not UTF-8',
      () => withRawHeader(frameOf('ping'), new Uint8Array([0x7b, 0xff, 0x7d])),
      /UTF-8/,
    ],
    ['corrupted header JSON', () => withRawHeader(frameOf('ping'), '{"kind":"ping",'), /JSON/],
    ['a header that is an array', () => withRawHeader(frameOf('ping'), '[]'), /header must be an object/],
    ['a header that is null', () => withRawHeader(frameOf('ping'), 'null'), /header must be an object/],
    [
      'a header kind that contradicts the code',
      () => withRawHeader(frameOf('ping'), '{"kind":"pong","nonce":1,"sentAt":2}'),
      /does not match/,
    ],
    ['a missing kind', () => edit('ping', (h) => delete h.kind), /does not match/],
    [
      'trailing bytes',
      () => new Uint8Array([...frameOf('ping'), 0, 0, 0, 0, 0, 0, 0, 0]),
      /after its last tensor/,
    ],
    [
      'a frame cut inside the header padding',
      () => withRawHeader(frameOf('ping'), '{"kind":"ping","nonce":1,"sentAt":22}').subarray(0, 49),
      /padding/,
    ],
    [
      'a number that overflows to Infinity',
      () => withRawHeader(frameOf('ping'), '{"kind":"ping","nonce":1e999,"sentAt":2}'),
      /nonce must be a finite number/,
    ],
    [
      'a number given as a string',
      () => edit('ping', (h) => (h.nonce = '1')),
      /ping\.nonce must be a finite number/,
    ],
    [
      'a missing string',
      () => edit('release', (h) => delete h.requestId),
      /release\.requestId must be a string/,
    ],
    ['a non-boolean webgpu', () => edit('hello', (h) => (h.caps.webgpu = 'yes')), /hello\.caps\.webgpu/],
    [
      'caps that are not an object',
      () => edit('hello', (h) => (h.caps = [] as never)),
      /hello\.caps must be an object/,
    ],
    [
      'an unknown phone state',
      () => edit('roster', (h) => (h.phones[0]!.state = 'asleep')),
      /phones\[0\]\.state/,
    ],
    ['a phone that is not an object', () => edit('roster', (h) => (h.phones[1] = 3 as never)), /phones\[1\]/],
    ['blocks of the wrong length', () => edit('roster', (h) => (h.phones[0]!.blocks = [1])), /blocks/],
    ['a numeric planId', () => edit('roster', (h) => (h.planId = 3)), /roster\.planId/],
    ['a negative step', () => edit('logits', (h) => (h.step = -1)), /step/],
    ['a fractional step', () => edit('logits', (h) => (h.step = 0.5)), /step/],
    [
      'a step of no tokens',
      () => edit('activations', (h) => (h.tokens = 0)),
      /activations\.tokens must be at least 1/,
    ],
    ['a fractional token count', () => edit('activations', (h) => (h.tokens = 1.5)), /activations\.tokens/],
    ['a non-numeric stage time', () => edit('logits', (h) => (h.stageTimesMs = ['a'])), /stageTimesMs\[0\]/],
    ['stageIndex ≥ stageCount', () => edit('assign', (h) => (h.assignment.stageIndex = 5)), /stageCount/],
    ['a non-string forward name', () => edit('assign', (h) => (h.assignment.forward = [1])), /forward\[0\]/],
    ['an optional field of the wrong type', () => edit('state', (h) => (h.detail = 5)), /state\.detail/],
    [
      'tensors that are not an object',
      () => edit('activations', (h) => (h.tensors = [] as never)),
      /tensors must be an object/,
    ],
    [
      'a null descriptor',
      () => edit('activations', (h) => (h.tensors.f32 = null as never)),
      /"f32"\] must be an object/,
    ],
    ['an unknown dtype', () => edit('activations', (h) => (h.tensors.f32!.dtype = 'float64')), /dtype/],
    ['a negative dim', () => edit('activations', (h) => (h.tensors.i8!.dims = [-3])), /dims\[0\]/],
    ['a fractional dim', () => edit('activations', (h) => (h.tensors.i8!.dims = [1.5, 2])), /dims\[0\]/],
    [
      'dims that are not an array',
      () => edit('activations', (h) => (h.tensors.i8!.dims = 3)),
      /dims must be an array/,
    ],
    [
      'a byteLength that lies',
      () => edit('activations', (h) => (h.tensors.f32!.byteLength = 28)),
      /byteLength 28/,
    ],
    [
      'dims that disagree with byteLength',
      () => edit('activations', (h) => (h.tensors.f32!.dims = [3, 3])),
      /byteLength/,
    ],
    ['a misaligned offset', () => edit('activations', (h) => (h.tensors.f32!.offset = 4)), /multiple of 8/],
    [
      'an offset past the end',
      () => edit('activations', (h) => (h.tensors.u8!.offset = 1 << 20)),
      /past the end/,
    ],
    ['a negative offset', () => edit('activations', (h) => (h.tensors.u8!.offset = -8)), /offset/],
    [
      'overlapping tensors',
      () => edit('activations', (h) => (h.tensors.i8!.offset = h.tensors.u8!.offset)),
      /overlap/,
    ],
    [
      'too many elements',
      () =>
        edit('activations', (h) =>
          Object.assign(h.tensors.f32!, { dims: [2 ** 31, 2], byteLength: 2 ** 35 }),
        ),
      /element/,
    ],
    [
      'a huge dimension',
      () => edit('activations', (h) => (h.tensors.empty!.dims = [0, 2 ** 40])),
      /too large/,
    ],
    [
      'too high a rank',
      () => edit('activations', (h) => (h.tensors.empty!.dims = new Array(40).fill(0))),
      /rank/,
    ],
    [
      'a logits descriptor missing',
      () => edit('logits', (h) => delete h.logits),
      /logits\.logits must be an object/,
    ],
  ];

  it.each(cases)('%s', (_label, build, pattern) => {
    expectProtocolError(() => decodeMessage(build()), pattern);
  });

  it('a frame over maxMessageBytes', () => {
    expectProtocolError(() => decodeMessage(activationsFrame(), { maxMessageBytes: 100 }), /limit/);
  });

  it('a header over maxHeaderBytes', () => {
    expectProtocolError(() => decodeMessage(frameOf('roster'), { maxHeaderBytes: 16 }), /limit/);
  });

  it('the edited frames are otherwise valid: the untouched rebuild decodes', () => {
    // Guards the table above: each case must fail for its own edit, not because rebuilding broke the frame.
    for (const m of messagesOfEveryKind()) {
      const frame = encodeMessage(m);
      expect(() => decodeMessage(withEditedHeader(frame, () => {}))).not.toThrow();
    }
  });

  it('every truncation of every valid frame', () => {
    for (const m of messagesOfEveryKind()) {
      const frame = encodeMessage(m);
      for (let length = 0; length < frame.length; length++) {
        expectProtocolError(() => decodeMessage(frame.subarray(0, length)));
      }
    }
  });

  it('random garbage, with and without a valid prefix', () => {
    const rng = createRng(2024);
    const valid = frameOf('hello');
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = Uint8Array.from({ length: Math.floor(rng() * 200) }, () => Math.floor(rng() * 256));
      if (trial % 2 === 1 && bytes.length >= 12) bytes.set(valid.subarray(0, 12));
      expectProtocolError(() => decodeMessage(bytes));
    }
  });
});

describe('fuzzing valid frames', () => {
  it('byte flips either decode to a valid, re-encodable message or throw ProtocolError', () => {
    const rng = createRng(7);
    const frames = messagesOfEveryKind().map((m) => encodeMessage(m));
    let decoded = 0;
    let rejected = 0;
    for (let trial = 0; trial < 5000; trial++) {
      const original = frames[trial % frames.length]!;
      const frame = original.slice();
      const flips = 1 + Math.floor(rng() * 4);
      // Aim most flips at the prefix and header, where the structure is; the rest anywhere.
      const headerEnd = 12 + new DataView(original.buffer).getUint32(8, true);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rng() * (rng() < 0.8 ? headerEnd : frame.length));
        frame[at] = (frame[at] ?? 0) ^ (1 + Math.floor(rng() * 255));
      }
      let message: Message | undefined;
      try {
        message = decodeMessage(frame);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
        expect((e as Error).message).not.toMatch(/^malformed frame:/);
        rejected++;
        continue;
      }
      expect(() => encodeMessage(message)).not.toThrow();
      decoded++;
    }
    // Both outcomes must actually happen, or the fuzz is not exercising anything.
    expect(decoded).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('the raw header helper reads what the encoder wrote', () => {
    expect(readRawHeader(frameOf('welcome'))).toEqual({ kind: 'welcome', roomId: 'room-1', phoneId: 'p2' });
  });
});
