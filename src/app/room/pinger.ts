/**
 * Link measurements: answers pings and probes on any link, and times our own — the round trip of a
 * small message, or of a payload there and a pong back (the survey's throughput probe).
 */
import { PendingRequests } from '../../core/pending';
import type { Link } from '../../core/ports';
import type { Handlers } from './router';

export class Pinger {
  private nextNonce = 1;
  private readonly waiting = new PendingRequests<number, number>();

  readonly handlers: Handlers = {
    ping: (m, from) => from.send({ kind: 'pong', nonce: m.nonce, sentAt: m.sentAt }),
    probe: (m, from) => from.send({ kind: 'pong', nonce: m.nonce, sentAt: m.sentAt }),
    pong: (m) => void this.waiting.resolve(m.nonce, performance.now() - m.sentAt),
  };

  /** Round-trip time on `link` in ms, of a small message or of `bytes` of payload. */
  ping(link: Link, timeoutMs = 5000, bytes = 0): Promise<number> {
    const nonce = this.nextNonce++;
    const rtt = this.waiting.wait(nonce, timeoutMs, `a pong from ${link.remoteId}`);
    const sentAt = performance.now();
    if (bytes > 0) {
      const data = { dtype: 'uint8' as const, dims: [bytes], data: new Uint8Array(bytes) };
      link.send({ kind: 'probe', nonce, sentAt, data });
    } else link.send({ kind: 'ping', nonce, sentAt });
    return rtt;
  }
}
