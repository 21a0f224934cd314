/**
 * Backups: besides its own blocks, each phone of a plan keeps its neighbouring stages' blocks in its
 * block cache (on disk, never loaded). When a neighbour leaves or the room re-balances, the blocks that
 * move almost always go to a neighbour — a contiguous plan only shifts boundaries — so the phone that
 * takes them reads them from its cache instead of downloading them while the answer waits.
 */
import type { StagePlan } from './plan';

/** The blocks stage `k`'s phone should cache beside its own: those of the stages just before and after. */
export function backupBlocks(stages: readonly StagePlan[], k: number): number[] {
  const own = stages[k];
  if (!own) return [];
  const out: number[] = [];
  for (const s of [stages[k - 1], stages[k + 1]]) {
    if (!s || s.phoneId === own.phoneId) continue;
    for (let b = s.firstBlock; b <= s.lastBlock; b++) {
      if ((b < own.firstBlock || b > own.lastBlock) && !out.includes(b)) out.push(b);
    }
  }
  // Nearest first: if the cache fills up, the blocks most likely to move are the ones kept.
  const distance = (b: number) => (b < own.firstBlock ? own.firstBlock - b : b - own.lastBlock);
  return out.sort((a, b) => distance(a) - distance(b) || a - b);
}
