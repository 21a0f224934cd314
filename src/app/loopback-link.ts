/**
 * Two in-memory Links joined back to back: the leader talks to the stage running in its own tab exactly
 * as it talks to any other phone, so there is one code path for "send to a device".
 */
import type { Link } from '../core/ports';
import type { Message } from '../core/protocol/messages';

class LoopbackEnd implements Link {
  other!: LoopbackEnd;
  private readonly handlers: ((m: Message) => void)[] = [];
  private readonly closeHandlers: (() => void)[] = [];
  constructor(readonly remoteId: string) {}
  send(message: Message): void {
    // Deliver asynchronously, like a real channel: no re-entrancy surprises in handlers.
    queueMicrotask(() => {
      for (const h of this.other.handlers) h(message);
    });
  }
  close(): void {
    for (const h of [...this.closeHandlers, ...this.other.closeHandlers]) h();
  }
  onMessage(handler: (m: Message) => void): void {
    this.handlers.push(handler);
  }
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }
  onRejected(): void {}
}

/** Returns [the leader's end (remote: the device), the device's end (remote: the leader)]. */
export function loopbackPair(deviceId: string, leaderId: string): [Link, Link] {
  const a = new LoopbackEnd(deviceId);
  const b = new LoopbackEnd(leaderId);
  a.other = b;
  b.other = a;
  return [a, b];
}
