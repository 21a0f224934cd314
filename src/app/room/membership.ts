/**
 * This device's links in a room: the room-secret handshake on every link, in both directions (a peer
 * that does not present the secret gets `refused` and is disconnected), and a registry of open links.
 * Messages after the handshake go to one `deliver` callback (the tab's router); it decides what runs.
 */
import type { Link } from '../../core/ports';
import type { DeviceCaps, Message, MessageOf } from '../../core/protocol/messages';
import type { PeerPort } from '../net/peer-port';

export interface MembershipOptions {
  readonly secret: string;
  readonly name: string;
  readonly caps: DeviceCaps;
  readonly log: (line: string) => void;
  /** How long a new link may take to be welcomed. */
  readonly handshakeTimeoutMs?: number;
}

export interface MembershipEvents {
  /** A peer opened a link to us and passed the handshake. */
  greeted(link: Link, hello: MessageOf<'hello'>): void;
  /** Any message after the handshake, on any link. */
  deliver(m: Message, from: Link): void;
  closed(link: Link): void;
}

export function sameSecret(a: string, b: string): boolean {
  // Compare in constant time for equal lengths: the secret is the room's only key.
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export class Membership {
  private readonly links = new Map<string, Link>();
  /** Frames that could not be decoded (the link stays open). */
  rejectedFrames = 0;

  constructor(
    readonly port: PeerPort,
    private readonly opts: MembershipOptions,
    private readonly events: MembershipEvents,
  ) {
    port.onConnection((link) => this.accept(link));
    port.onError((e) => opts.log(`peer: ${e.message}`));
  }

  get id(): string {
    return this.port.id;
  }

  link(peerId: string): Link | undefined {
    return this.links.get(peerId);
  }

  /** A new incoming link: its first message must be a hello with the room secret. */
  private accept(link: Link): void {
    let greeted = false;
    this.watch(link);
    link.onMessage((m) => {
      if (greeted) {
        this.events.deliver(m, link);
        return;
      }
      if (m.kind !== 'hello' || !sameSecret(m.secret, this.opts.secret)) {
        this.opts.log(
          `refused ${link.remoteId}: ${m.kind === 'hello' ? 'wrong room secret' : `sent ${m.kind} before hello`}`,
        );
        link.send({ kind: 'refused', reason: 'wrong room secret' });
        setTimeout(() => link.close(), 500);
        return;
      }
      greeted = true;
      this.links.set(link.remoteId, link);
      this.events.greeted(link, m);
    });
  }

  /** Opens a link to another device of the room (or reuses one), presenting the secret. */
  async linkTo(peerId: string): Promise<Link> {
    const existing = this.links.get(peerId);
    if (existing) return existing;
    const link = await this.port.connect(peerId);
    this.watch(link);
    let welcomed = false;
    const timeoutMs = this.opts.handshakeTimeoutMs ?? 15_000;
    const answer = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${peerId} did not answer the handshake`)), timeoutMs);
      link.onMessage((m) => {
        if (welcomed) {
          this.events.deliver(m, link);
          return;
        }
        clearTimeout(timer);
        if (m.kind === 'welcome') {
          welcomed = true;
          resolve();
        } else reject(new Error(m.kind === 'refused' ? m.reason : `sent ${m.kind} before welcome`));
      });
      link.onClose(() => reject(new Error(`${peerId} closed the connection`)));
    });
    link.send({ kind: 'hello', name: this.opts.name, secret: this.opts.secret, caps: this.opts.caps });
    try {
      await answer;
    } catch (e) {
      link.close();
      throw e;
    }
    this.links.set(peerId, link);
    return link;
  }

  private watch(link: Link): void {
    link.onRejected((e) => {
      this.rejectedFrames++;
      this.opts.log(`rejected a frame from ${link.remoteId}: ${e.message}`);
    });
    link.onClose(() => {
      if (this.links.get(link.remoteId) === link) this.links.delete(link.remoteId);
      this.events.closed(link);
    });
  }

  destroy(): void {
    for (const l of this.links.values()) l.close();
    this.port.destroy();
  }
}
