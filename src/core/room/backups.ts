/**
 * Backups: besides its own blocks, each phone of a plan keeps more of the model in its block cache (on
 * disk, never loaded), so that when a phone leaves or the room re-balances, the phone that takes the
 * moved blocks reads them from its cache instead of downloading them while the answer waits.
 *
 * Which: its neighbouring stages' blocks first (a contiguous plan that shifts its boundaries moves
 * blocks to a neighbour), then, when the leader knows what the phone can hold, the rest of the model
 * nearest first, up to that: a phone is never given more blocks than fit its memory, so caching more
 * would be of no use. The phone caches them only while idle, and only where they fit without evicting
 * anything (app/backups.ts).
 */
import type { StagePlan } from './plan';

export interface BackupLimits {
  /** What the phone may hold (its memory budget); without it, only the neighbours' blocks. */
  readonly budgetBytes: number;
  /** Each block's bytes, by block index. */
  readonly blockBytes: readonly number[];
}

/** The blocks stage `k`'s phone should cache beside its own, most useful first. */
export function backupBlocks(stages: readonly StagePlan[], k: number, limits?: BackupLimits): number[] {
  const own = stages[k];
  if (!own) return [];
  const mine = (b: number) => b >= own.firstBlock && b <= own.lastBlock;
  const distance = (b: number) => (b < own.firstBlock ? own.firstBlock - b : b - own.lastBlock);
  const byDistance = (a: number, b: number) => distance(a) - distance(b) || a - b;
  const neighbours: number[] = [];
  for (const s of [stages[k - 1], stages[k + 1]]) {
    if (!s || s.phoneId === own.phoneId) continue;
    for (let b = s.firstBlock; b <= s.lastBlock; b++) if (!mine(b)) neighbours.push(b);
  }
  neighbours.sort(byDistance);
  if (!limits) return neighbours;
  const taken = new Set(neighbours);
  const rest = limits.blockBytes
    .map((_, b) => b)
    .filter((b) => !mine(b) && !taken.has(b))
    .sort(byDistance);
  let bytes = 0;
  for (let b = own.firstBlock; b <= own.lastBlock; b++) bytes += limits.blockBytes[b] ?? 0;
  const out: number[] = [];
  for (const b of [...neighbours, ...rest]) {
    bytes += limits.blockBytes[b] ?? 0;
    if (bytes > limits.budgetBytes) break;
    out.push(b);
  }
  return out;
}
