/** Public surface of the wire protocol: message types, the frame codec and chunking. */
export {
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC,
  DEFAULT_MAX_CHUNK_BYTES,
  DEFAULT_MAX_PENDING_MESSAGES,
  Reassembler,
  type ReassemblerOptions,
  splitFrame,
} from './chunking';
export {
  type CodecOptions,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  FRAME_MAGIC,
  FRAME_PREFIX_BYTES,
  FRAME_VERSION,
  MAX_TENSOR_ELEMENTS,
  MAX_TENSOR_RANK,
  type TensorDescriptor,
} from './codec';
export * from './messages';
export { ProtocolError } from './protocol-error';
