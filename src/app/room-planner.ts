/**
 * Turns what the leader knows — the manifest, each phone's calibration and memory, each link's RTT and
 * throughput — into a placement problem, has it solved, and turns the answer into the room's Plan with
 * the predictions the plan view shows. The even split stays available for comparison (benchmarks, and
 * models whose layer shape is unknown).
 */
import { layerShapeOf } from '../core/cost/calibration-model';
import { type Calibration, predictBlockMs, ratesOf } from '../core/cost/cost-model';
import type { Manifest } from '../core/graph/manifest';
import { blockCostsOf, crossingBytesPerToken } from '../core/placement/from-manifest';
import type { LinkProfile, PlacementProblem, PlacementResult } from '../core/placement/types';
import type { DeviceProfile, PhoneInfo } from '../core/protocol/messages';
import { evenSplitByBlocks, type Plan } from '../core/room/plan';
import type { SurveyResult } from './room-survey';

export type Planner = 'solved' | 'even';

export interface PlannedStage {
  readonly phoneId: string;
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** Predicted decode time of this stage (ms per token), when the phone was measured. */
  readonly predictedMs: number | null;
  /** The same from the calibration kernel alone, before any stage was timed (kept for reporting). */
  readonly kernelPredictedMs?: number | null;
}

export interface RoomPlan {
  readonly plan: Plan;
  readonly stages: readonly PlannedStage[];
  readonly planner: string;
  readonly predictedTokensPerSecond: number | null;
  readonly leftOut: readonly { readonly phoneId: string; readonly reason: string }[];
  readonly solveMs: number | null;
}

/** Context the plan must hold: the model's own limit, capped (KV memory grows with it). */
export function planContext(manifest: Manifest): number {
  const max = manifest.config?.max_position_embeddings;
  return Math.min(typeof max === 'number' ? max : 2048, 2048);
}

export function calibrationOf(p: DeviceProfile): Calibration {
  return {
    shape: p.shape,
    threads: p.threads,
    backend: p.backend,
    decodeMs: p.decodeMs,
    prefillMs: p.prefillMs,
    prefillTokens: p.prefillTokens,
    perOpMs: p.perOpMs,
  };
}

/**
 * Predicted ms per block on a measured phone, at a typical decode context. `correction` (measured ÷
 * kernel-predicted stage time, from a stage this phone ran) folds real step times into the prediction.
 */
export function blockTimes(
  manifest: Manifest,
  profile: DeviceProfile,
  context: number,
  correction = 1,
): number[] {
  const rates = ratesOf(calibrationOf(profile));
  return manifest.blocks.map((b) => predictBlockMs(b, rates, context) * correction);
}

/**
 * After a run: each stage's measured time against its kernel prediction gives that phone a correction
 * factor; the plan's predictions are restated with it (and later plans use it). Returns the new plan.
 */
export function correctedPlan(
  rp: RoomPlan,
  measuredMs: readonly number[],
  corrections: Map<string, number>,
): RoomPlan {
  const stages = rp.stages.map((s, k) => {
    const kernel = s.kernelPredictedMs ?? s.predictedMs;
    const measured = measuredMs[k];
    if (kernel === null || kernel === undefined || measured === undefined || !(measured > 0)) return s;
    const factor = Math.max(0.1, Math.min(10, measured / kernel));
    corrections.set(s.phoneId, factor);
    return { ...s, kernelPredictedMs: kernel, predictedMs: kernel * factor };
  });
  const total = stages.every((s) => s.predictedMs !== null)
    ? stages.reduce((a, s) => a + s.predictedMs!, 0)
    : null;
  return { ...rp, stages, predictedTokensPerSecond: total ? 1000 / total : rp.predictedTokensPerSecond };
}

/** Fixed cost of one stage step beyond its blocks: worker hand-off and message handling (measured ≈ 0.5 ms). */
const STAGE_STEP_MS = 0.5;

export function placementProblem(
  manifest: Manifest,
  phones: readonly PhoneInfo[],
  survey: SurveyResult,
  leaderId: string,
  corrections: ReadonlyMap<string, number> = new Map(),
): PlacementProblem {
  const context = planContext(manifest);
  const typicalContext = Math.min(256, context);
  const crossing = crossingBytesPerToken(manifest, { contextLength: 1 });
  const devices = phones.map((p) => {
    const profile = survey.profiles.get(p.id)!;
    const msPerBlock = blockTimes(manifest, profile, typicalContext, corrections.get(p.id) ?? 1);
    return {
      id: p.id,
      name: p.name,
      msPerGflop: 0,
      msPerBlock,
      fixedStepMs: STAGE_STEP_MS,
      memoryBudgetBytes: profile.memoryBudgetBytes,
    };
  });
  const access = (id: string) =>
    id === leaderId
      ? { rttMs: 0, bytesPerMs: Number.POSITIVE_INFINITY }
      : (survey.links.get(id) ?? { rttMs: 1, bytesPerMs: 10_000 });
  // On one Wi-Fi every phone-to-phone packet crosses the access point: a link is as slow as the slower
  // of its two phones' links to it.
  const links: LinkProfile[] = [];
  for (const a of phones) {
    for (const b of phones) {
      if (a.id === b.id) continue;
      const x = access(a.id);
      const y = access(b.id);
      links.push({
        from: a.id,
        to: b.id,
        latencyMs: Math.max(x.rttMs, y.rttMs) / 2,
        bytesPerMs: Math.min(x.bytesPerMs, y.bytesPerMs),
      });
    }
  }
  return {
    blocks: blockCostsOf(manifest),
    crossingBytes: crossing.crossingBytes,
    inputBytes: crossing.inputBytes,
    outputBytes: crossing.outputBytes,
    devices,
    links,
    defaultLink: { latencyMs: 1, bytesPerMs: 10_000 },
    leaderId,
    contextLength: context,
    objective: 'latency',
  };
}

export async function planRoom(
  manifest: Manifest,
  phones: readonly PhoneInfo[],
  survey: SurveyResult | null,
  leaderId: string,
  planner: Planner,
  solve: (problem: PlacementProblem) => Promise<PlacementResult>,
  planId: string,
  corrections: ReadonlyMap<string, number> = new Map(),
): Promise<RoomPlan> {
  const context = Math.min(256, planContext(manifest));
  const predicted = (phoneId: string, first: number, last: number) => {
    const profile = survey?.profiles.get(phoneId);
    if (!profile) return null;
    const factor = corrections.get(phoneId) ?? 1;
    return (
      blockTimes(manifest, profile, context, factor)
        .slice(first, last + 1)
        .reduce((a, b) => a + b, 0) + STAGE_STEP_MS
    );
  };
  if (planner === 'even' || !survey || !layerShapeOf(manifest.config)) {
    const plan = evenSplitByBlocks(
      manifest,
      phones.map((p) => p.id),
      planId,
    );
    const stages = plan.stages.map((s) => ({
      ...s,
      predictedMs: predicted(s.phoneId, s.firstBlock, s.lastBlock),
    }));
    const total = stages.every((s) => s.predictedMs !== null)
      ? stages.reduce((a, s) => a + s.predictedMs!, 0)
      : null;
    return {
      plan,
      stages,
      planner: survey ? 'even split by blocks' : 'even split by blocks (phones not measured)',
      predictedTokensPerSecond: total ? 1000 / total : null,
      leftOut: [],
      solveMs: null,
    };
  }
  const result = await solve(placementProblem(manifest, phones, survey, leaderId, corrections));
  if (result.kind === 'infeasible') throw new Error(result.message);
  const plan: Plan = {
    id: planId,
    stages: result.stages.map((s) => ({
      phoneId: s.deviceId,
      firstBlock: s.firstBlock,
      lastBlock: s.lastBlock,
    })),
  };
  return {
    plan,
    stages: result.stages.map((s) => ({
      phoneId: s.deviceId,
      firstBlock: s.firstBlock,
      lastBlock: s.lastBlock,
      predictedMs: s.computeMs,
    })),
    planner: `${result.engine === 'milp' ? 'HiGHS MILP' : 'exact DP'}${result.proven ? ', optimal' : ', time limit'} in ${result.solveMs.toFixed(0)} ms`,
    predictedTokensPerSecond: result.predictedTokensPerSecond,
    leftOut: result.leftOut.map((l) => ({ phoneId: l.deviceId, reason: l.detail })),
    solveMs: result.solveMs,
  };
}
