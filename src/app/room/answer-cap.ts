/**
 * The plan's cap on answers in flight (core/room/admission.ts), from what the leader knows: each stage's
 * blocks in the manifest and each phone's measured budget. A phone not measured yet (an even room
 * measures between answers) does not constrain it: its plan was made to fit, and it is measured soon.
 */
import type { Manifest } from '../../core/graph/manifest';
import { type AdmissionCap, admissionCap } from '../../core/room/admission';
import type { Plan } from '../../core/room/plan';
import { planContext } from '../room-planner';

export function answerCap(
  manifest: Manifest,
  plan: Plan,
  budgets: ReadonlyMap<string, number> | null,
  nameOf: (phoneId: string) => string,
  userCap?: number,
): AdmissionCap {
  const stages = plan.stages.flatMap((s) => {
    const budgetBytes = budgets?.get(s.phoneId);
    if (budgetBytes === undefined) return [];
    const blocks = manifest.blocks.slice(s.firstBlock, s.lastBlock + 1);
    return [
      {
        name: nameOf(s.phoneId),
        budgetBytes,
        weightBytes: blocks.reduce((a, b) => a + b.weightBytes, 0),
        kvBytesPerToken: blocks.reduce((a, b) => a + b.kvBytesPerToken, 0),
      },
    ];
  });
  return admissionCap(stages, planContext(manifest), userCap);
}
