/**
 * Which phone runs which blocks, and what each stage sends on. The plain plan is an even split by
 * blocks (the optimised, measured allocation replaces it; everything downstream — forward sets,
 * assignments — stays the same).
 */
import type { Manifest } from '../graph/manifest';
import type { StageAssignment } from '../protocol/messages';

export interface StagePlan {
  readonly phoneId: string;
  readonly firstBlock: number;
  readonly lastBlock: number;
}

export interface Plan {
  readonly id: string;
  readonly stages: readonly StagePlan[];
}

/**
 * Contiguous split of the blocks over at most `phoneIds.length` phones (in that order), every block
 * counting one: as many blocks per phone as can be (the plain baseline). The classic linear-partition
 * DP, exact and tiny at these sizes.
 */
export function evenSplitByBlocks(manifest: Manifest, phoneIds: readonly string[], planId: string): Plan {
  return linearPartition(
    manifest.blocks.map(() => 1),
    phoneIds,
    planId,
  );
}

function linearPartition(weights: readonly number[], phoneIds: readonly string[], planId: string): Plan {
  const n = weights.length;
  const k = Math.min(phoneIds.length, n);
  if (k === 0) throw new Error('no phones to run the model');
  const prefix = [0];
  for (const w of weights) prefix.push(prefix.at(-1)! + w);
  const cost = (a: number, b: number) => prefix[b]! - prefix[a]!; // blocks a..b-1
  // best[j][i]: minimal largest stage when the first i blocks go to j phones.
  const best = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY));
  const cut = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0]![0] = 0;
  for (let j = 1; j <= k; j++) {
    for (let i = j; i <= n; i++) {
      for (let s = j - 1; s < i; s++) {
        const v = Math.max(best[j - 1]![s]!, cost(s, i));
        if (v < best[j]![i]!) {
          best[j]![i] = v;
          cut[j]![i] = s;
        }
      }
    }
  }
  const stages: StagePlan[] = [];
  for (let j = k, i = n; j > 0; j--) {
    const s = cut[j]![i]!;
    stages.unshift({ phoneId: phoneIds[j - 1]!, firstBlock: s, lastBlock: i - 1 });
    i = s;
  }
  return { id: planId, stages };
}

/**
 * What stage `k` must send on: every tensor a later stage reads that this stage made or was given
 * (skip tensors such as the causal mask are relayed along the chain).
 */
export function forwardSet(manifest: Manifest, plan: Plan, k: number): string[] {
  const stage = plan.stages[k]!;
  return manifest.tensors
    .filter((t) => t.producer <= stage.lastBlock && t.consumers.some((c) => c > stage.lastBlock))
    .map((t) => t.name);
}

/** The graph inputs the leader feeds the first stage (ids, mask, positions — whatever the model reads). */
export function leaderInputs(manifest: Manifest): string[] {
  return manifest.tensors.filter((t) => t.producer === -1).map((t) => t.name);
}

export function assignments(manifest: Manifest, plan: Plan, modelBase: string): StageAssignment[] {
  return plan.stages.map((s, k) => ({
    stageIndex: k,
    stageCount: plan.stages.length,
    modelBase,
    firstBlock: s.firstBlock,
    lastBlock: s.lastBlock,
    nextPeer: plan.stages[k + 1]?.phoneId ?? null,
    prevPeer: plan.stages[k - 1]?.phoneId ?? null,
    forward: k === plan.stages.length - 1 ? ['logits'] : forwardSet(manifest, plan, k),
    planId: plan.id,
  }));
}
