/**
 * Everything a phone does to turn an assignment into a loadable stage: fetch and verify its blocks (from
 * its cache, the server, the hub, or the leader's disk over the room link), and merge them into one
 * graph with its weights, reporting bytes as they arrive.
 */
import type { BlockStore } from '../core/block-store';
import type { IOSpec } from '../core/graph/manifest';
import { mergeStage } from '../core/graph/merge-stage';
import type { Link } from '../core/ports';
import type { StageAssignment } from '../core/protocol/messages';
import { fetchManifest, fetchStageFiles, type StageFiles } from './block-fetch';
import { PeerBlockClient } from './delivery/peer-blocks';
import type { FetchProgress } from './delivery/progress';
import { LEADER_BASE } from './model-source';

export interface PreparedStage {
  readonly stage: ReturnType<typeof mergeStage>;
  readonly weights: StageFiles['weights'];
  readonly inputSpecs: readonly IOSpec[];
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
  readonly corrupt: StageFiles['corrupt'];
}

export interface StageFileDeps {
  readonly leader: Link;
  readonly store: BlockStore | null;
  readonly onCorrupt: (file: string, reason: string) => void;
  /** The client fetching from the leader while a leader-served model loads (it gets block-chunks). */
  readonly onPeerClient: (client: PeerBlockClient | null) => void;
}

export async function prepareStage(
  a: StageAssignment,
  deps: StageFileDeps,
  onProgress: (p: FetchProgress) => void,
): Promise<PreparedStage> {
  const client = a.modelBase.startsWith(LEADER_BASE)
    ? new PeerBlockClient(deps.leader, { listen: false })
    : null;
  deps.onPeerClient(client);
  try {
    const manifest = client ? await client.fetchManifest() : await fetchManifest(a.modelBase);
    const files = await fetchStageFiles(a.modelBase, manifest, a.firstBlock, a.lastBlock, onProgress, {
      store: deps.store,
      ...(client ? { source: client } : {}),
      onCorrupt: deps.onCorrupt,
    });
    return {
      stage: mergeStage(manifest, a.firstBlock, a.lastBlock, files.graphs),
      weights: files.weights,
      inputSpecs: manifest.inputs,
      bytesFromNetwork: files.bytesFromNetwork,
      bytesFromCache: files.bytesFromCache,
      corrupt: files.corrupt,
    };
  } finally {
    deps.onPeerClient(null);
  }
}
