/**
 * What the room needs of a network: this device's identity on the signaling server, links to other
 * devices by id, and links they open to it. peerjs in the browser (adapters/peer/peer-node.ts) and an
 * in-memory hub in Node tests (memory-network.ts) both provide it, so the room protocol is one code path.
 */
import type { Link } from '../../core/ports';

export interface PeerPort {
  readonly id: string;
  /** Opens a link to `remoteId`; rejects when it cannot be reached within `timeoutMs`. */
  connect(remoteId: string, timeoutMs?: number): Promise<Link>;
  onConnection(handler: (link: Link) => void): void;
  onError(handler: (error: Error) => void): void;
  /** Leaves the network: every link of this device closes, on both ends. */
  destroy(): void;
}

/** Registers this device: under `id` (the leader's is derived from its room id) or a random one. */
export type OpenPeer = (id?: string) => Promise<PeerPort>;
