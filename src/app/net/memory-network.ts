/**
 * An in-memory network behind the same PeerPort as peerjs: devices in one process reach each other by
 * id. Every message is encoded and decoded with the real wire codec and delivered asynchronously and in
 * order, as a reliable data channel would, so protocol tests in Node exercise what phones really send.
 */
import type { Link } from '../../core/ports';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec';
import type { Message } from '../../core/protocol/messages';
import type { PeerPort } from './peer-port';

class MemoryLink implements Link {
  other: MemoryLink | null = null;
  private open = true;
  private readonly messageHandlers: ((m: Message) => void)[] = [];
  private readonly closeHandlers: (() => void)[] = [];
  private readonly rejectHandlers: ((e: Error) => void)[] = [];
  /** Frames in flight to this end, delivered one task after another in order. */
  private inbox: Promise<void> = Promise.resolve();

  constructor(
    readonly remoteId: string,
    private readonly owner: MemoryPeer,
  ) {}

  send(message: Message): void {
    if (!this.open || this.owner.frozen) return; // a closed channel, or a frozen tab: nothing goes out
    const frame = encodeMessage(message);
    this.other?.deliver(frame);
  }

  /** Delivers raw bytes as they are (tests use it for garbage frames). */
  sendRaw(bytes: Uint8Array): void {
    if (this.open) this.other?.deliver(bytes.slice());
  }

  private deliver(frame: Uint8Array): void {
    this.inbox = this.inbox.then(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            if (this.open && !this.owner.frozen) this.receive(frame);
            resolve();
          }, 0),
        ),
    );
  }

  private receive(frame: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(frame);
    } catch (e) {
      for (const h of this.rejectHandlers) h(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    for (const h of this.messageHandlers) h(message);
  }

  close(): void {
    this.shut();
    this.other?.shut();
  }

  private shut(): void {
    if (!this.open) return;
    this.open = false;
    this.owner.links.delete(this);
    for (const h of this.closeHandlers) h();
  }

  onMessage(handler: (m: Message) => void): void {
    this.messageHandlers.push(handler);
  }
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler);
  }
  onRejected(handler: (error: Error) => void): void {
    this.rejectHandlers.push(handler);
  }
}

class MemoryPeer implements PeerPort {
  private readonly connectionHandlers: ((link: Link) => void)[] = [];
  readonly links = new Set<MemoryLink>();
  /** A frozen tab: its links stay open, but it neither hears nor says anything. */
  frozen = false;

  constructor(
    readonly id: string,
    private readonly hub: MemoryNetwork,
  ) {}

  async connect(remoteId: string): Promise<Link> {
    const remote = this.hub.peer(remoteId);
    if (!remote) throw new Error(`could not reach phone ${remoteId}: no such peer`);
    const mine = new MemoryLink(remoteId, this);
    const theirs = new MemoryLink(this.id, remote);
    mine.other = theirs;
    theirs.other = mine;
    this.links.add(mine);
    remote.links.add(theirs);
    await new Promise((r) => setTimeout(r, 0));
    remote.accept(theirs);
    return mine;
  }

  accept(link: Link): void {
    for (const h of this.connectionHandlers) h(link);
  }

  onConnection(handler: (link: Link) => void): void {
    this.connectionHandlers.push(handler);
  }

  onError(): void {}

  destroy(): void {
    for (const l of [...this.links]) l.close();
    this.hub.remove(this.id);
  }
}

export class MemoryNetwork {
  private readonly peers = new Map<string, MemoryPeer>();
  private next = 1;

  /** The same signature as the browser's peer opener (OpenPeer). */
  readonly open = async (id?: string): Promise<PeerPort> => {
    const peerId = id ?? `mem-${this.next++}`;
    if (this.peers.has(peerId)) throw new Error(`signaling server: ID "${peerId}" is taken`);
    const peer = new MemoryPeer(peerId, this);
    this.peers.set(peerId, peer);
    return peer;
  };

  peer(id: string): MemoryPeer | undefined {
    return this.peers.get(id);
  }

  remove(id: string): void {
    this.peers.delete(id);
  }

  /** Freezes a device (a tab the browser stopped, a phone gone quiet): its links stay open, silent. */
  freeze(id: string): void {
    const peer = this.peers.get(id);
    if (!peer) throw new Error(`no peer ${id}`);
    peer.frozen = true;
  }
}
