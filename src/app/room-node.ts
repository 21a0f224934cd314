/**
 * This device's presence in a room: its PeerNode, the room secret handshake on every link (in both
 * directions), a registry of open links, and its StageHost. A peer that does not present the secret
 * gets `refused` and is disconnected. Leader and member build on it.
 */

import { PeerNode, type SignalingServer } from '../adapters/peer/peer-node';
import type { BlockStore } from '../core/block-store';
import type { PhaseBackends } from '../core/cost/backend-choice';
import type { Link, StageBackend } from '../core/ports';
import type { DeviceCaps, DeviceProfile, LayerShapeSpec, Message } from '../core/protocol/messages';
import { StageHost } from './stage-host';

export interface RoomNodeOptions {
  readonly server: SignalingServer;
  readonly secret: string;
  readonly name: string;
  readonly caps: DeviceCaps;
  readonly backend: StageBackend;
  readonly measure: (shape: LayerShapeSpec) => Promise<DeviceProfile>;
  /** The runtime of each phase when an assignment names none (the phone was not measured). */
  readonly phases?: PhaseBackends;
  readonly store: BlockStore | null;
  readonly onCorrupt?: (file: string, reason: string) => void;
  readonly log: (line: string) => void;
  /** Fixed peer id (the leader's is derived from the room id); random when omitted. */
  readonly peerId?: string;
}

export function sameSecret(a: string, b: string): boolean {
  // Compare in constant time for equal lengths: the secret is the room's only key.
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export abstract class RoomNode {
  protected readonly links = new Map<string, Link>();
  readonly stage: StageHost;
  rejectedFrames = 0;
  private nextNonce = 1;
  private readonly pings = new Map<number, (rttMs: number) => void>();

  protected constructor(
    protected readonly node: PeerNode,
    protected readonly opts: RoomNodeOptions,
    leaderLink: Link,
  ) {
    this.stage = new StageHost({
      backend: opts.backend,
      leader: leaderLink,
      linkTo: (id) => this.linkTo(id),
      measure: opts.measure,
      ...(opts.phases ? { phases: opts.phases } : {}),
      store: opts.store,
      ...(opts.onCorrupt ? { onCorrupt: opts.onCorrupt } : {}),
      log: opts.log,
    });
    node.onConnection((link) => this.accept(link));
    node.onError((e) => opts.log(`peer: ${e.message}`));
  }

  protected static openNode(opts: RoomNodeOptions): Promise<PeerNode> {
    return PeerNode.open(opts.server, opts.peerId);
  }

  get id(): string {
    return this.node.id;
  }

  /** A new incoming link: its first message must be a hello with the room secret. */
  private accept(link: Link): void {
    let greeted = false;
    this.watch(link);
    link.onMessage((m) => {
      if (greeted) {
        if (!this.handleLinkMessage(m, link)) this.dispatch(m, link);
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
      this.greeted(link, m);
    });
  }

  /** Opens a link to another phone of the room (or reuses one), presenting the secret. */
  async linkTo(peerId: string): Promise<Link> {
    const existing = this.links.get(peerId);
    if (existing) return existing;
    const link = await this.node.connect(peerId);
    this.watch(link);
    const answer = new Promise<void>((resolve, reject) => {
      link.onMessage((m) => {
        if (m.kind === 'welcome') resolve();
        else if (m.kind === 'refused') reject(new Error(`refused by ${peerId}: ${m.reason}`));
        else if (!this.handleLinkMessage(m, link)) this.dispatch(m, link);
      });
      link.onClose(() => reject(new Error(`${peerId} closed the connection`)));
    });
    link.send({ kind: 'hello', name: this.opts.name, secret: this.opts.secret, caps: this.opts.caps });
    await answer;
    this.links.set(peerId, link);
    return link;
  }

  protected watch(link: Link): void {
    link.onRejected((e) => {
      this.rejectedFrames++;
      this.opts.log(`rejected a frame from ${link.remoteId}: ${e.message}`);
    });
    link.onClose(() => {
      if (this.links.get(link.remoteId) === link) this.links.delete(link.remoteId);
      this.closed(link);
    });
  }

  /** Answers pings and resolves our own; true when `m` was one of those. */
  protected handleLinkMessage(m: Message, from: Link): boolean {
    if (m.kind === 'ping') {
      from.send({ kind: 'pong', nonce: m.nonce, sentAt: m.sentAt });
      return true;
    }
    if (m.kind === 'probe') {
      from.send({ kind: 'pong', nonce: m.nonce, sentAt: m.sentAt });
      return true;
    }
    if (m.kind === 'pong') {
      this.pings.get(m.nonce)?.(performance.now() - m.sentAt);
      this.pings.delete(m.nonce);
      return true;
    }
    return false;
  }

  /** Round-trip time of one small message on `link` (or of `bytes` of payload there and a pong back), ms. */
  ping(link: Link, timeoutMs = 5000, bytes = 0): Promise<number> {
    const nonce = this.nextNonce++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(nonce);
        reject(new Error(`no answer from ${link.remoteId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(nonce, (rtt) => {
        clearTimeout(timer);
        resolve(rtt);
      });
      const sentAt = performance.now();
      if (bytes > 0) {
        link.send({
          kind: 'probe',
          nonce,
          sentAt,
          data: { dtype: 'uint8', dims: [bytes], data: new Uint8Array(bytes) },
        });
      } else link.send({ kind: 'ping', nonce, sentAt });
    });
  }

  /** A peer passed the handshake. */
  protected abstract greeted(link: Link, hello: Extract<Message, { kind: 'hello' }>): void;
  /** Any message after the handshake. */
  protected abstract dispatch(m: Message, from: Link): void;
  protected abstract closed(link: Link): void;

  destroy(): void {
    for (const l of this.links.values()) l.close();
    this.node.destroy();
  }
}
