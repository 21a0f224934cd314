/**
 * Turns an untrusted, already JSON-parsed frame header into a typed Message, field by field, per
 * kind. Tensor descriptors are handed to `readTensor` (supplied by the codec, which knows the frame's
 * bytes), so this file stays about message shapes only.
 */
import type { NamedTensors, Tensor } from '../tensor';
import {
  expectObject,
  type JsonObject,
  own,
  readArray,
  readBoolean,
  readFiniteNumber,
  readFiniteNumberArray,
  readNonNegativeInteger,
  readNonNegativeIntegerArray,
  readNullableString,
  readOneOf,
  readOptionalFiniteNumber,
  readOptionalString,
  readPositiveInteger,
  readString,
  readStringArray,
  withOptional,
} from './header-fields';
import {
  ANSWER_OUTCOMES,
  ANSWER_STATES,
  type AskInput,
  CHAT_ROLES,
  COMPUTE_BACKENDS,
  type DeviceCaps,
  type DeviceProfile,
  type LayerShapeSpec,
  type Message,
  type MessageKind,
  PHONE_STATES,
  type PhoneInfo,
  type SamplingParams,
  type StageAssignment,
  type WebGpuTiming,
} from './messages';
import { ProtocolError } from './protocol-error';

/** Resolves one tensor descriptor found at `path` in the header into a tensor. */
export type TensorReader = (descriptor: unknown, path: string) => Tensor;

export function validateMessage(header: unknown, kind: MessageKind, readTensor: TensorReader): Message {
  const h = expectObject(header, 'header');
  const headerKind = own(h, 'kind');
  if (headerKind !== kind) {
    throw new ProtocolError(
      `header kind ${JSON.stringify(headerKind)} does not match frame kind code (${kind})`,
    );
  }
  const p = kind;
  switch (kind) {
    case 'hello':
      return {
        kind,
        name: readString(h, 'name', p),
        secret: readString(h, 'secret', p),
        caps: readDeviceCaps(expectObject(own(h, 'caps'), `${p}.caps`), `${p}.caps`),
      };
    case 'welcome':
      return { kind, roomId: readString(h, 'roomId', p), phoneId: readString(h, 'phoneId', p) };
    case 'refused':
      return { kind, reason: readString(h, 'reason', p) };
    case 'roster':
      return {
        kind,
        phones: readArray(h, 'phones', p).map((v, i) => readPhoneInfo(v, `${p}.phones[${i}]`)),
        planId: readNullableString(h, 'planId', p),
      };
    case 'state':
      return withOptional(
        { kind, state: readOneOf(h, 'state', PHONE_STATES, p) },
        {
          loaded: readOptionalFiniteNumber(h, 'loaded', p),
          total: readOptionalFiniteNumber(h, 'total', p),
          detail: readOptionalString(h, 'detail', p),
          planId: readOptionalString(h, 'planId', p),
        },
      );
    case 'unload':
      return { kind, planId: readString(h, 'planId', p) };
    case 'assign':
    case 'prefetch':
      return { kind, assignment: readStageAssignment(own(h, 'assignment'), `${p}.assignment`) };
    case 'prefetched':
      return withOptional(
        { kind, planId: readString(h, 'planId', p) },
        { error: readOptionalString(h, 'error', p) },
      );
    case 'activations':
      return {
        kind,
        planId: readString(h, 'planId', p),
        requestId: readString(h, 'requestId', p),
        step: readNonNegativeInteger(h, 'step', p),
        tensors: readNamedTensors(own(h, 'tensors'), `${p}.tensors`, readTensor),
        ...readStageTimes(h, p),
        ...(own(h, 'tokens') === undefined ? {} : { tokens: readPositiveInteger(h, 'tokens', p) }),
      };
    case 'logits':
      return {
        kind,
        planId: readString(h, 'planId', p),
        requestId: readString(h, 'requestId', p),
        step: readNonNegativeInteger(h, 'step', p),
        logits: readTensor(own(h, 'logits'), `${p}.logits`),
        ...readStageTimes(h, p),
      };
    case 'release':
      return { kind, planId: readString(h, 'planId', p), requestId: readString(h, 'requestId', p) };
    case 'error':
      return withOptional(
        { kind, message: readString(h, 'message', p) },
        { requestId: readOptionalString(h, 'requestId', p) },
      );
    case 'ping':
    case 'pong':
      return { kind, nonce: readFiniteNumber(h, 'nonce', p), sentAt: readFiniteNumber(h, 'sentAt', p) };
    case 'measure':
      return { kind, shape: readShape(expectObject(own(h, 'shape'), `${p}.shape`), `${p}.shape`) };
    case 'profile':
      return { kind, profile: readProfile(expectObject(own(h, 'profile'), `${p}.profile`), `${p}.profile`) };
    case 'probe': {
      const data = readTensor(own(h, 'data'), `${p}.data`);
      if (data.dtype !== 'uint8') throw new ProtocolError(`${p}.data must be uint8, got ${data.dtype}`);
      return { kind, nonce: readFiniteNumber(h, 'nonce', p), sentAt: readFiniteNumber(h, 'sentAt', p), data };
    }
    case 'ask':
      return {
        kind,
        requestId: readString(h, 'requestId', p),
        input: readAskInput(expectObject(own(h, 'input'), `${p}.input`), `${p}.input`),
        params: readSampling(expectObject(own(h, 'params'), `${p}.params`), `${p}.params`),
      };
    case 'cancel':
      return { kind, requestId: readString(h, 'requestId', p) };
    case 'answer-state':
      return withOptional(
        { kind, requestId: readString(h, 'requestId', p), state: readOneOf(h, 'state', ANSWER_STATES, p) },
        { position: own(h, 'position') === undefined ? undefined : readNonNegativeInteger(h, 'position', p) },
      );
    case 'answer-text':
      return {
        kind,
        requestId: readString(h, 'requestId', p),
        text: readString(h, 'text', p),
        ids: readNonNegativeIntegerArray(h, 'ids', p),
      };
    case 'answer-end': {
      const ttft = own(h, 'timeToFirstTokenMs');
      return withOptional(
        {
          kind,
          requestId: readString(h, 'requestId', p),
          outcome: readOneOf(h, 'outcome', ANSWER_OUTCOMES, p),
          promptIds: readNonNegativeIntegerArray(h, 'promptIds', p),
          generatedIds: readNonNegativeIntegerArray(h, 'generatedIds', p),
          tokensPerSecond: readFiniteNumber(h, 'tokensPerSecond', p),
          timeToFirstTokenMs: ttft === null ? null : readFiniteNumber(h, 'timeToFirstTokenMs', p),
        },
        { message: readOptionalString(h, 'message', p), promptText: readOptionalString(h, 'promptText', p) },
      );
    }
    case 'block-request':
      return { kind, file: readString(h, 'file', p) };
    case 'block-chunk':
      return readBlockChunk(h, readTensor);
    case 'block-error':
      return { kind, file: readString(h, 'file', p), message: readString(h, 'message', p) };
    default: {
      const unreachable: never = kind;
      throw new ProtocolError(`unhandled message kind ${String(unreachable)}`);
    }
  }
}

function readAskInput(o: JsonObject, path: string): AskInput {
  const text = own(o, 'text');
  if (text !== undefined) return { text: readString(o, 'text', path) };
  if (own(o, 'ids') !== undefined) return { ids: readNonNegativeIntegerArray(o, 'ids', path) };
  if (own(o, 'chat') !== undefined) {
    const chat = readArray(o, 'chat', path).map((v, i) => {
      const m = expectObject(v, `${path}.chat[${i}]`);
      return {
        role: readOneOf(m, 'role', CHAT_ROLES, `${path}.chat[${i}]`),
        content: readString(m, 'content', `${path}.chat[${i}]`),
      };
    });
    if (chat.length === 0) throw new ProtocolError(`${path}.chat has no messages`);
    return { chat };
  }
  throw new ProtocolError(`${path} needs text, ids or chat`);
}

/** Field types only; what values make sense is the sampler's to say (validateSamplingParams). */
function readSampling(o: JsonObject, path: string): SamplingParams {
  return {
    temperature: readFiniteNumber(o, 'temperature', path),
    topK: readNonNegativeInteger(o, 'topK', path),
    topP: readFiniteNumber(o, 'topP', path),
    repetitionPenalty: readFiniteNumber(o, 'repetitionPenalty', path),
    seed: readFiniteNumber(o, 'seed', path),
    maxNewTokens: readNonNegativeInteger(o, 'maxNewTokens', path),
  };
}

function readDeviceCaps(c: JsonObject, path: string): DeviceCaps {
  return withOptional(
    {
      hardwareConcurrency: readNonNegativeInteger(c, 'hardwareConcurrency', path),
      webgpu: readBoolean(c, 'webgpu', path),
      userAgent: readString(c, 'userAgent', path),
    },
    { deviceMemoryGB: readOptionalFiniteNumber(c, 'deviceMemoryGB', path) },
  );
}

function readPhoneInfo(value: unknown, path: string): PhoneInfo {
  const o = expectObject(value, path);
  let blocks: [number, number] | undefined;
  if (own(o, 'blocks') !== undefined) {
    const range = readNonNegativeIntegerArray(o, 'blocks', path);
    const [first, last] = range;
    if (range.length !== 2 || first === undefined || last === undefined) {
      throw new ProtocolError(`${path}.blocks must be [first, last]`);
    }
    blocks = [first, last];
  }
  return withOptional(
    {
      id: readString(o, 'id', path),
      name: readString(o, 'name', path),
      state: readOneOf(o, 'state', PHONE_STATES, path),
    },
    {
      loaded: readOptionalFiniteNumber(o, 'loaded', path),
      total: readOptionalFiniteNumber(o, 'total', path),
      detail: readOptionalString(o, 'detail', path),
      measured: readOptionalString(o, 'measured', path),
      blocks,
    },
  );
}

function readStageAssignment(value: unknown, path: string): StageAssignment {
  const o = expectObject(value, path);
  const stageIndex = readNonNegativeInteger(o, 'stageIndex', path);
  const stageCount = readNonNegativeInteger(o, 'stageCount', path);
  // The one structural invariant every consumer relies on; block ranges are left to the planner.
  if (stageIndex >= stageCount) {
    throw new ProtocolError(`${path}.stageIndex ${stageIndex} must be below stageCount ${stageCount}`);
  }
  return {
    stageIndex,
    stageCount,
    modelBase: readString(o, 'modelBase', path),
    firstBlock: readNonNegativeInteger(o, 'firstBlock', path),
    lastBlock: readNonNegativeInteger(o, 'lastBlock', path),
    nextPeer: readNullableString(o, 'nextPeer', path),
    prevPeer: readNullableString(o, 'prevPeer', path),
    forward: readStringArray(o, 'forward', path),
    planId: readString(o, 'planId', path),
    ...readPhases(o, path),
    ...(own(o, 'backups') === undefined ? {} : { backups: readNonNegativeIntegerArray(o, 'backups', path) }),
  };
}

function readPhases(o: JsonObject, path: string): Pick<StageAssignment, 'phases'> {
  const v = own(o, 'phases');
  if (v === undefined) return {};
  const ph = expectObject(v, `${path}.phases`);
  return {
    phases: {
      decode: readOneOf(ph, 'decode', COMPUTE_BACKENDS, `${path}.phases`),
      prefill: readOneOf(ph, 'prefill', COMPUTE_BACKENDS, `${path}.phases`),
    },
  };
}

/** Per-stage times: non-negative, one per stage so far (they feed the leader's cost learning). */
function readStageTimes(h: JsonObject, p: string): { stageTimesMs: number[]; residentMs: number[] } {
  const stageTimesMs = readFiniteNumberArray(h, 'stageTimesMs', p);
  const residentMs = readFiniteNumberArray(h, 'residentMs', p);
  if (residentMs.length !== stageTimesMs.length)
    throw new ProtocolError(
      `${p}: residentMs has ${residentMs.length} entries, stageTimesMs ${stageTimesMs.length}`,
    );
  if ([...stageTimesMs, ...residentMs].some((x) => x < 0)) throw new ProtocolError(`${p}: a negative time`);
  return { stageTimesMs, residentMs };
}

function readNamedTensors(value: unknown, path: string, readTensor: TensorReader): NamedTensors {
  const o = expectObject(value, path);
  // fromEntries defines own properties, so a tensor named "__proto__" stays an ordinary entry.
  return Object.fromEntries(
    Object.entries(o).map(([name, descriptor]) => [
      name,
      readTensor(descriptor, `${path}[${JSON.stringify(name)}]`),
    ]),
  );
}

function readBlockChunk(h: JsonObject, readTensor: TensorReader): Message {
  const p = 'block-chunk';
  const offset = readNonNegativeInteger(h, 'offset', p);
  const total = readNonNegativeInteger(h, 'total', p);
  const data = readTensor(own(h, 'data'), `${p}.data`);
  if (data.dtype !== 'uint8' || data.dims.length !== 1) {
    throw new ProtocolError(
      `${p}.data must be a 1-D uint8 tensor, got ${data.dtype}[${data.dims.join(',')}]`,
    );
  }
  if (offset + data.data.byteLength > total) {
    throw new ProtocolError(
      `${p}: bytes ${offset}..${offset + data.data.byteLength} run past total ${total}`,
    );
  }
  return { kind: 'block-chunk', file: readString(h, 'file', p), offset, total, data };
}

function readShape(h: JsonObject, p: string): LayerShapeSpec {
  const shape = {
    hidden: readNonNegativeInteger(h, 'hidden', p),
    kvDim: readNonNegativeInteger(h, 'kvDim', p),
    intermediate: readNonNegativeInteger(h, 'intermediate', p),
  };
  if (shape.hidden === 0 || shape.kvDim === 0 || shape.intermediate === 0)
    throw new ProtocolError(`${p}: a size is 0`);
  if (shape.hidden * Math.max(shape.intermediate, shape.kvDim) > 2 ** 28)
    throw new ProtocolError(`${p}: shape too large`);
  return shape;
}

function readProfile(h: JsonObject, p: string): DeviceProfile {
  const base: DeviceProfile = {
    shape: readShape(expectObject(own(h, 'shape'), `${p}.shape`), `${p}.shape`),
    decodeMs: readFiniteNumber(h, 'decodeMs', p),
    prefillMs: readFiniteNumber(h, 'prefillMs', p),
    prefillTokens: readNonNegativeInteger(h, 'prefillTokens', p),
    perOpMs: readFiniteNumber(h, 'perOpMs', p),
    threads: readNonNegativeInteger(h, 'threads', p),
    backend: readString(h, 'backend', p),
    memoryBudgetBytes: readFiniteNumber(h, 'memoryBudgetBytes', p),
    memorySource: readString(h, 'memorySource', p),
    webgpu: readBoolean(h, 'webgpu', p),
    slowdown: readFiniteNumber(h, 'slowdown', p),
    decodeOn: readOneOf(h, 'decodeOn', COMPUTE_BACKENDS, p),
    prefillOn: readOneOf(h, 'prefillOn', COMPUTE_BACKENDS, p),
  };
  const all = readOptionalFiniteNumber(h, 'prefillMsAllThreads', p);
  const threads = readOptionalFiniteNumber(h, 'allThreads', p);
  const gpu = own(h, 'webgpuTiming');
  if (gpu === undefined && (base.decodeOn === 'webgpu' || base.prefillOn === 'webgpu'))
    throw new ProtocolError(`${p}: runs a phase on webgpu but reports no webgpuTiming`);
  return {
    ...base,
    ...(all !== undefined ? { prefillMsAllThreads: all } : {}),
    ...(threads !== undefined ? { allThreads: threads } : {}),
    ...(gpu !== undefined
      ? { webgpuTiming: readWebGpuTiming(expectObject(gpu, `${p}.webgpuTiming`), p) }
      : {}),
  };
}

function readWebGpuTiming(g: JsonObject, parent: string): WebGpuTiming {
  const p = `${parent}.webgpuTiming`;
  const prefill = own(g, 'prefillMs');
  return withOptional(
    {
      adapter: readString(g, 'adapter', p),
      decodeMs: readPositive(g, 'decodeMs', p),
      prefillMs: prefill === null ? null : readPositive(g, 'prefillMs', p),
      perOpMs: readPositive(g, 'perOpMs', p),
    },
    { note: readOptionalString(g, 'note', p) },
  );
}

/** A measured time: a zero or negative one would always win the runtime choice and break the planner. */
function readPositive(o: JsonObject, key: string, p: string): number {
  const x = readFiniteNumber(o, key, p);
  if (!(x > 0)) throw new ProtocolError(`${p}.${key} must be above 0`);
  return x;
}
