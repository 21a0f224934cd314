/**
 * Binary frame codec: one Message ⇄ one Uint8Array. Tensor data travels as raw bytes, never JSON.
 *
 * Frame layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "CHR1" (ASCII)
 *   4       1     u8  version = 1
 *   5       1     u8  kind code (KIND_CODES in messages.ts: hello=1 … pong=12, measure/profile/probe=20–22, block-*=30–32)
 *   6       2     u16 flags = 0 (no flags defined in version 1; anything else is rejected)
 *   8       4     u32 headerByteLength = H
 *   12      H     header: UTF-8 JSON of the message, each Tensor replaced by a descriptor
 *                 { dtype, dims, offset, byteLength }
 *   12+H    0..7  zero padding up to D = the next multiple of 8 (the data section start)
 *   D       …     tensor bytes. A descriptor's `offset` is relative to D and a multiple of 8, so
 *                 every tensor starts 8-aligned within the frame; tensors do not overlap.
 *
 * The frame ends exactly where its last tensor ends (or at D when it has no tensor bytes), so
 * trailing bytes are an error. Decoded tensors are views into the frame when their position is
 * aligned for the element type (always, for frames we encoded, received at offset 0) and copies
 * otherwise; either way the caller must not reuse the frame's buffer afterwards.
 */
import {
  BYTES_PER_ELEMENT,
  type DType,
  elementCount,
  type Tensor,
  tensorBytes,
  tensorFromBytes,
} from '../tensor';
import {
  expectObject,
  readNonNegativeInteger,
  readNonNegativeIntegerArray,
  readOneOf,
} from './header-fields';
import { validateMessage } from './message-validation';
import { KIND_CODES, kindFromCode, type Message } from './messages';
import { ProtocolError } from './protocol-error';

export const FRAME_MAGIC = 'CHR1';
export const FRAME_VERSION = 1;
export const FRAME_PREFIX_BYTES = 12;
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
/** Headers are small JSON (a roster is the largest); a cap stops a hostile peer making us parse megabytes. */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
/** Element counts above this do not fit the int32 indexing the runtimes use. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;
export const MAX_TENSOR_RANK = 32;

export interface CodecOptions {
  /** Largest whole frame accepted (decode) or produced (encode). Default 512 MiB. */
  maxMessageBytes?: number;
  /** Largest JSON header accepted. Default 1 MiB. */
  maxHeaderBytes?: number;
}

export interface TensorDescriptor {
  dtype: DType;
  dims: number[];
  offset: number;
  byteLength: number;
}

const DTYPES = Object.keys(BYTES_PER_ELEMENT) as DType[];
const MAGIC_BYTES = new TextEncoder().encode(FRAME_MAGIC);
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** The header object: the message with each tensor swapped for the descriptor `describe` returns. */
function headerOf(m: Message, describe: (t: Tensor) => TensorDescriptor): unknown {
  switch (m.kind) {
    case 'activations':
      return {
        ...m,
        tensors: Object.fromEntries(Object.entries(m.tensors).map(([name, t]) => [name, describe(t)])),
      };
    case 'logits':
      return { ...m, logits: describe(m.logits) };
    case 'block-chunk':
      return { ...m, data: describe(m.data) };
    case 'probe':
      return { ...m, data: describe(m.data) };
    default:
      return m;
  }
}

function checkTensorForEncoding(t: Tensor): void {
  if (!DTYPES.includes(t.dtype)) throw new ProtocolError(`cannot encode unknown dtype ${String(t.dtype)}`);
  const count = elementCount(t.dims);
  const expected = count * BYTES_PER_ELEMENT[t.dtype];
  if (t.data.byteLength !== expected) {
    throw new ProtocolError(
      `cannot encode ${t.dtype}[${t.dims.join(',')}]: data has ${t.data.byteLength} bytes, expected ${expected}`,
    );
  }
}

export function encodeMessage(m: Message, options: CodecOptions = {}): Uint8Array {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const placed: { tensor: Tensor; offset: number }[] = [];
  let cursor = 0;
  const header = headerOf(m, (tensor) => {
    checkTensorForEncoding(tensor);
    const offset = align8(cursor);
    cursor = offset + tensor.data.byteLength;
    placed.push({ tensor, offset });
    return { dtype: tensor.dtype, dims: [...tensor.dims], offset, byteLength: tensor.data.byteLength };
  });
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(FRAME_PREFIX_BYTES + headerBytes.byteLength);
  const total = dataStart + cursor;
  if (total > maxMessageBytes) {
    throw new ProtocolError(
      `cannot encode ${m.kind}: ${total} bytes exceeds the ${maxMessageBytes}-byte limit`,
    );
  }

  const frame = new Uint8Array(total);
  const view = new DataView(frame.buffer);
  frame.set(MAGIC_BYTES, 0);
  view.setUint8(4, FRAME_VERSION);
  view.setUint8(5, KIND_CODES[m.kind]);
  view.setUint16(6, 0, true);
  view.setUint32(8, headerBytes.byteLength, true);
  frame.set(headerBytes, FRAME_PREFIX_BYTES);
  for (const { tensor, offset } of placed) frame.set(tensorBytes(tensor), dataStart + offset);

  // Decoding our own output catches what the type system cannot (NaN numbers, which JSON turns into
  // null; a non-integer step) at the sender, instead of as a puzzling rejection at the receiver.
  try {
    decodeMessage(frame, options);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ProtocolError(`cannot encode ${m.kind}: ${reason}`, { cause: e });
  }
  return frame;
}

/** Decodes and fully validates one frame. Throws ProtocolError, and only ProtocolError, on bad input. */
export function decodeMessage(bytes: Uint8Array | ArrayBuffer, options: CodecOptions = {}): Message {
  try {
    return decodeFrame(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes, options);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    // Safety net: whatever slipped past the explicit checks is still the peer's bad input.
    throw new ProtocolError(`malformed frame: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function decodeFrame(bytes: Uint8Array, options: CodecOptions): Message {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('frame must be a Uint8Array or ArrayBuffer');
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const length = bytes.byteLength;
  if (length > maxMessageBytes) {
    throw new ProtocolError(`frame of ${length} bytes exceeds the ${maxMessageBytes}-byte limit`);
  }
  if (length < FRAME_PREFIX_BYTES) throw new ProtocolError(`frame too short: ${length} bytes`);
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (bytes[i] !== MAGIC_BYTES[i]) throw new ProtocolError('bad frame magic (expected "CHR1")');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const version = view.getUint8(4);
  if (version !== FRAME_VERSION) throw new ProtocolError(`unsupported frame version ${version}`);
  const code = view.getUint8(5);
  const kind = kindFromCode(code);
  if (kind === undefined) throw new ProtocolError(`unknown message kind code ${code}`);
  const flags = view.getUint16(6, true);
  if (flags !== 0) throw new ProtocolError(`unknown frame flags 0x${flags.toString(16)}`);
  const headerLength = view.getUint32(8, true);
  if (headerLength > maxHeaderBytes) {
    throw new ProtocolError(`header of ${headerLength} bytes exceeds the ${maxHeaderBytes}-byte limit`);
  }
  const headerEnd = FRAME_PREFIX_BYTES + headerLength;
  if (headerEnd > length) {
    throw new ProtocolError(`header length ${headerLength} runs past the end of a ${length}-byte frame`);
  }
  const dataStart = align8(headerEnd);
  if (dataStart > length) throw new ProtocolError('frame ends inside the header padding');

  let header: unknown;
  try {
    header = JSON.parse(utf8Decoder.decode(bytes.subarray(FRAME_PREFIX_BYTES, headerEnd)));
  } catch (e) {
    throw new ProtocolError(`header is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`);
  }

  const ranges: [number, number][] = [];
  let dataEnd = 0;
  const message = validateMessage(header, kind, (descriptor, path) => {
    const d = readDescriptor(descriptor, path);
    const start = dataStart + d.offset;
    const end = start + d.byteLength;
    if (end > length) {
      throw new ProtocolError(`${path}: bytes ${start}..${end} run past the end of a ${length}-byte frame`);
    }
    if (d.byteLength > 0) ranges.push([start, end]);
    dataEnd = Math.max(dataEnd, d.offset + d.byteLength);
    return tensorAt(bytes, d, start);
  });

  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1];
    const cur = ranges[i];
    if (prev !== undefined && cur !== undefined && cur[0] < prev[1]) {
      throw new ProtocolError(`tensor bytes overlap at frame offset ${cur[0]}`);
    }
  }
  if (dataStart + dataEnd !== length) {
    throw new ProtocolError(`frame has ${length - dataStart - dataEnd} bytes after its last tensor`);
  }
  return message;
}

function readDescriptor(value: unknown, path: string): TensorDescriptor {
  const o = expectObject(value, path);
  const dtype = readOneOf(o, 'dtype', DTYPES, path);
  const dims = readNonNegativeIntegerArray(o, 'dims', path);
  if (dims.length > MAX_TENSOR_RANK) throw new ProtocolError(`${path}: rank ${dims.length} is too large`);
  // Checking each dim first keeps the product exact (no float rounding past 2^53).
  if (dims.some((d) => d > MAX_TENSOR_ELEMENTS)) throw new ProtocolError(`${path}: a dimension is too large`);
  const count = elementCount(dims);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new ProtocolError(`${path}: ${count} elements exceeds the ${MAX_TENSOR_ELEMENTS}-element limit`);
  }
  const offset = readNonNegativeInteger(o, 'offset', path);
  if (offset % 8 !== 0) throw new ProtocolError(`${path}.offset ${offset} is not a multiple of 8`);
  const byteLength = readNonNegativeInteger(o, 'byteLength', path);
  const expected = count * BYTES_PER_ELEMENT[dtype];
  if (byteLength !== expected) {
    throw new ProtocolError(
      `${path}.byteLength ${byteLength} does not match ${dtype}[${dims.join(',')}] (${expected})`,
    );
  }
  return { dtype, dims, offset, byteLength };
}

/** A typed-array view of the tensor's bytes when aligned for its element type, else an aligned copy. */
function tensorAt(bytes: Uint8Array, d: TensorDescriptor, start: number): Tensor {
  const bytesPerElement = BYTES_PER_ELEMENT[d.dtype];
  const position = bytes.byteOffset + start;
  if (position % bytesPerElement !== 0) {
    return tensorFromBytes(d.dtype, d.dims, bytes.subarray(start, start + d.byteLength));
  }
  const count = d.byteLength / bytesPerElement;
  const buffer = bytes.buffer;
  switch (d.dtype) {
    case 'float32':
      return { dtype: d.dtype, dims: d.dims, data: new Float32Array(buffer, position, count) };
    case 'float16':
      return { dtype: d.dtype, dims: d.dims, data: new Uint16Array(buffer, position, count) };
    case 'int64':
      return { dtype: d.dtype, dims: d.dims, data: new BigInt64Array(buffer, position, count) };
    case 'int32':
      return { dtype: d.dtype, dims: d.dims, data: new Int32Array(buffer, position, count) };
    case 'int8':
      return { dtype: d.dtype, dims: d.dims, data: new Int8Array(buffer, position, count) };
    case 'uint8':
    case 'bool':
      return { dtype: d.dtype, dims: d.dims, data: new Uint8Array(buffer, position, count) };
    default: {
      const unreachable: never = d.dtype;
      throw new ProtocolError(`unknown dtype ${String(unreachable)}`);
    }
  }
}
