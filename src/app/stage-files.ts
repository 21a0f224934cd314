/**
 * Everything a phone does to turn an assignment into a loadable stage: fetch and verify its blocks (from
 * its cache, the server, the hub, or the leader's disk over the room link), and merge them into one
 * graph with its weights, reporting bytes as they arrive.
 */
import type { BlockStore } from '../core/block-store';
import type { IOSpec, Manifest } from '../core/graph/manifest';
import { mergeStage } from '../core/graph/merge-stage';
import type { Link } from '../core/ports';
import type { StageAssignment } from '../core/protocol/messages';
import { type FileSource, fetchManifest, fetchStageFiles, type StageFiles } from './block-fetch';
import type { PeerBlockClient } from './delivery/peer-blocks';
import type { FetchProgress } from './delivery/progress';
import { LEADER_BASE } from './model-source';

export interface PreparedStage {
  readonly stage: ReturnType<typeof mergeStage>;
  readonly weights: StageFiles['weights'];
  readonly inputSpecs: readonly IOSpec[];
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
  readonly corrupt: StageFiles['corrupt'];
  /** Where the blocks came from (for backups: the same manifest, the same source). */
  readonly manifest: Manifest;
  readonly source: FileSource | undefined;
}

export interface StageFileDeps {
  readonly leader: Link;
  readonly store: BlockStore | null;
  readonly onCorrupt: (file: string, reason: string) => void;
  /** The phone's client for blocks the leader serves over the room link (a leader-opened model). */
  readonly peerClient: () => PeerBlockClient;
}

export async function prepareStage(
  a: StageAssignment,
  deps: StageFileDeps,
  onProgress: (p: FetchProgress) => void,
): Promise<PreparedStage> {
  const client = a.modelBase.startsWith(LEADER_BASE) ? deps.peerClient() : undefined;
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
    manifest,
    source: client,
  };
}

const blocksKey = (a: StageAssignment) => `${a.modelBase}|${a.firstBlock}|${a.lastBlock}`;

/**
 * Reads a stage's blocks, or hands over the ones a prefetch already read for the same blocks: a phone
 * told of its next blocks before a plan change reads them while it still runs its stage, so the room's
 * pause is left with building the session (reading and checking 87 MB from the cache took 4 s here).
 */
export class StageFileReader {
  private ahead: { readonly key: string; readonly files: Promise<PreparedStage> } | null = null;

  constructor(private readonly deps: StageFileDeps) {}

  /** Starts reading `a`'s blocks now, in place of any earlier prefetch; resolves once they are read. */
  prefetch(a: StageAssignment): Promise<PreparedStage> {
    const files = prepareStage(a, this.deps, () => {});
    this.ahead = { key: blocksKey(a), files };
    return files;
  }

  /** `a`'s blocks: the prefetched ones when they are these and were read, else read now. */
  async read(
    a: StageAssignment,
    onProgress: (p: FetchProgress) => void,
  ): Promise<PreparedStage & { readonly readAhead: boolean }> {
    const ahead = this.ahead;
    this.ahead = null;
    const files = ahead?.key === blocksKey(a) ? await ahead.files.catch(() => null) : null;
    if (files) return { ...files, readAhead: true };
    return { ...(await prepareStage(a, this.deps, onProgress)), readAhead: false };
  }

  /** Forgets a prefetch that no assignment took (its bytes are freed with it). */
  drop(): void {
    this.ahead = null;
  }
}
