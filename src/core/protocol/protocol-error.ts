/**
 * The one error type the protocol layer throws for bad input. Callers catch it to drop a peer's
 * message (or the peer) without confusing it with a bug in our own code, which stays a plain Error.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
