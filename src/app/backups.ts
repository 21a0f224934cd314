/**
 * A phone's backups (core/room/backups.ts): after its stage is ready, it caches the blocks its
 * assignment names beside its own — one block at a time, only while it runs no answer (a block
 * transfer from the leader shares the link that carries the answer's steps), and only where a block
 * fits without evicting anything. A new assignment stops the round; the next ready starts another.
 */
import type { BlockStore } from '../core/block-store';
import { isRemoteWeights, type Manifest } from '../core/graph/manifest';
import { type FileSource, fetchStageFiles } from './block-fetch';
import { remoteWeightsKey } from './delivery/remote-ranges';

export interface BackupStatus {
  /** Blocks asked for that are not cached yet. */
  readonly pending: number;
  /** Blocks this round fetched into the cache. */
  readonly fetched: number;
  /** Why the round stopped early (no room, a failed fetch), or null. */
  readonly stopped: string | null;
}

export interface BackupDeps {
  readonly store: BlockStore;
  /** Resolves once this phone runs no answer. */
  readonly idle: () => Promise<void>;
  readonly log: (line: string) => void;
}

interface Round {
  cancelled: boolean;
  pending: number;
  fetched: number;
  stopped: string | null;
}

export class Backups {
  private round: Round | null = null;

  constructor(private readonly deps: BackupDeps) {}

  status(): BackupStatus {
    const r = this.round;
    return { pending: r?.pending ?? 0, fetched: r?.fetched ?? 0, stopped: r?.stopped ?? null };
  }

  /** Ends the round in flight (the block being fetched, if any, still lands in the cache). */
  stop(): void {
    const r = this.round;
    if (!r || r.cancelled) return;
    r.cancelled = true;
    // Said, so nobody waits for a round that will not finish (a new assignment starts its own).
    if (r.pending > 0) r.stopped ??= 'stopped: the phone was given a new plan';
  }

  /** Starts caching `blocks` of `manifest` (nearest first, as the leader ordered them). */
  start(base: string, manifest: Manifest, source: FileSource | undefined, blocks: readonly number[]): void {
    this.stop();
    const round: Round = { cancelled: false, pending: blocks.length, fetched: 0, stopped: null };
    this.round = round;
    void this.run(round, base, manifest, source, blocks).catch((e: unknown) => {
      round.stopped = `a backup failed: ${e instanceof Error ? e.message : String(e)}`;
      this.deps.log(round.stopped);
    });
  }

  private async run(
    round: Round,
    base: string,
    manifest: Manifest,
    source: FileSource | undefined,
    blocks: readonly number[],
  ): Promise<void> {
    for (const b of blocks) {
      if (b >= manifest.blocks.length) break;
      if (await this.cached(manifest, b)) {
        round.pending--;
        continue;
      }
      await this.deps.idle();
      if (round.cancelled) return;
      const files = await fetchStageFiles(base, manifest, b, b, () => {}, {
        store: this.deps.store,
        noEvict: true,
        ...(source ? { source } : {}),
      });
      if (files.notCached.length) {
        round.stopped = `no room for more backups (${files.notCached[0]!.reason})`;
        this.deps.log(`backups: ${round.stopped}`);
        return;
      }
      round.pending--;
      round.fetched++;
      if (round.cancelled) return;
    }
    if (round.fetched) this.deps.log(`backups: ${round.fetched} block(s) cached`);
  }

  /** Whether block `b`'s files are all in the cache already (without reading them). */
  private async cached(manifest: Manifest, b: number): Promise<boolean> {
    const block = manifest.blocks[b]!;
    for (const ref of block.weights ? [block.graph, block.weights] : [block.graph]) {
      const sha = isRemoteWeights(ref)
        ? await this.deps.store.getAlias(await remoteWeightsKey(ref))
        : ref.sha256;
      if (!sha || !(await this.deps.store.has(sha))) return false;
    }
    return true;
  }
}
