/**
 * Turns what the leader knows — the manifest, each phone's calibration and memory, each link's RTT and
 * throughput, and what earlier runs taught (core/room/learned-costs.ts) — into a placement problem, has
 * it solved, and turns the answer into the room's Plan with the predictions the plan view shows. Any
 * plan, solved or an even split, is priced by the same cost model, so plans can be compared.
 */

import { calibrationOf } from '../core/cost/backend-choice';
import { layerShapeOf } from '../core/cost/calibration-model';
import { predictBlockMs, ratesOf } from '../core/cost/cost-model';
import type { Manifest } from '../core/graph/manifest';
import { modelConfigOf } from '../core/graph/model-config';
import { buildCostTables, costOfPlan } from '../core/placement/cost-model';
import { blockCostsOf, crossingBytesPerToken } from '../core/placement/from-manifest';
import type {
  LinkProfile,
  PlacementObjective,
  PlacementProblem,
  PlacementResult,
} from '../core/placement/types';
import type { DeviceProfile, PhoneInfo } from '../core/protocol/messages';
import { computeFactorOf, type LearnedCosts, NOTHING_LEARNT } from '../core/room/learned-costs';
import { evenSplitByBlocks, type Plan } from '../core/room/plan';
import type { SurveyResult } from './room-survey';

export type Planner = 'solved' | 'even';

export interface PlannedStage {
  readonly phoneId: string;
  readonly firstBlock: number;
  readonly lastBlock: number;
  /** Predicted run time of this stage per decode token (what the phone's worker measures), with what
   *  runs taught; null when the phone was not measured. */
  readonly predictedMs: number | null;
  /** The same from the calibration kernel alone. */
  readonly kernelPredictedMs: number | null;
  /** Predicted handling around each step on this phone (worker hand-off, framing). */
  readonly handlingMs: number | null;
}

export interface RoomPlan {
  readonly plan: Plan;
  readonly stages: readonly PlannedStage[];
  readonly planner: string;
  /** One decode token through the chain: stages, handling and links. */
  readonly predictedTokenMs: number | null;
  readonly predictedTokensPerSecond: number | null;
  /** The slowest stage with its handling and outgoing link: what bounds tokens/s with many in flight. */
  readonly predictedBottleneckMs: number | null;
  /** The links' share of predictedTokenMs, and the same from the survey alone (nothing learnt). */
  readonly predictedLinkMs: number | null;
  readonly surveyLinkMs: number | null;
  /** Hops between different phones per token (the leader's own stage talks to it for free). */
  readonly remoteHops: number;
  readonly leftOut: readonly { readonly phoneId: string; readonly reason: string }[];
  readonly solveMs: number | null;
}

/** Context the plan must hold: the model's own limit, capped (KV memory grows with it). */
export function planContext(manifest: Manifest): number {
  return Math.min(modelConfigOf(manifest)?.contextLength ?? 2048, 2048);
}

/** The context at which decode time is predicted: a typical answer's, not the worst case. */
const typicalContext = (manifest: Manifest) => Math.min(256, planContext(manifest));

/** Kernel-predicted ms per block on a measured phone, at a typical decode context. */
export function blockTimes(manifest: Manifest, profile: DeviceProfile, context: number): number[] {
  const rates = ratesOf(calibrationOf(profile));
  return manifest.blocks.map((b) => predictBlockMs(b, rates, context));
}

/** Handling around one stage step before any run measured it (worker hand-off and framing, ≈0.5 ms). */
const DEFAULT_HANDLING_MS = 0.5;
/**
 * What a hop between phones costs beyond RTT/2 and transfer before any run measured it. The survey's
 * pings run back to back on busy threads; a real hop wakes an idle page and its worker (measured here:
 * 1–3 ms per hop). Runs replace this with the room's own figure.
 */
const DEFAULT_HOP_EXTRA_MS = 1;

export function placementProblem(
  manifest: Manifest,
  phones: readonly PhoneInfo[],
  survey: SurveyResult,
  leaderId: string,
  learned: LearnedCosts = NOTHING_LEARNT,
  objective: PlacementObjective = 'latency',
): PlacementProblem {
  const hopExtraMs = learned.hopExtraMs ?? DEFAULT_HOP_EXTRA_MS;
  const context = planContext(manifest);
  const crossing = crossingBytesPerToken(manifest, { contextLength: 1 });
  const devices = phones.map((p) => {
    const profile = survey.profiles.get(p.id)!;
    const factor = computeFactorOf(learned, p.id);
    return {
      id: p.id,
      name: p.name,
      msPerGflop: 0,
      msPerBlock: blockTimes(manifest, profile, typicalContext(manifest)).map((ms) => ms * factor),
      fixedStepMs: learned.handlingMs.get(p.id) ?? DEFAULT_HANDLING_MS,
      // A phone that prefills on one runtime and decodes on another holds its weights twice.
      memoryBudgetBytes:
        profile.decodeOn === profile.prefillOn ? profile.memoryBudgetBytes : profile.memoryBudgetBytes / 2,
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
        latencyMs: Math.max(x.rttMs, y.rttMs) / 2 + hopExtraMs,
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
    defaultLink: { latencyMs: 1 + hopExtraMs, bytesPerMs: 10_000 },
    leaderId,
    contextLength: context,
    objective,
  };
}

/** Hops between different phones per token: leader → first stage, stage → stage, last stage → leader. */
export function remoteHopsOf(plan: Plan, leaderId: string): number {
  const chain = [leaderId, ...plan.stages.map((s) => s.phoneId), leaderId];
  return chain.slice(1).filter((id, i) => id !== chain[i]).length;
}

/** Prices `plan` with the cost model (what is learnt included): per-stage times, links, the token. */
export function pricePlan(
  manifest: Manifest,
  phones: readonly PhoneInfo[],
  survey: SurveyResult | null,
  leaderId: string,
  plan: Plan,
  learned: LearnedCosts = NOTHING_LEARNT,
): Omit<RoomPlan, 'plan' | 'planner' | 'leftOut' | 'solveMs'> {
  const remoteHops = remoteHopsOf(plan, leaderId);
  const unpriced = {
    stages: plan.stages.map((s) => ({
      ...s,
      predictedMs: null,
      kernelPredictedMs: null,
      handlingMs: null,
    })),
    predictedTokenMs: null,
    predictedTokensPerSecond: null,
    predictedBottleneckMs: null,
    predictedLinkMs: null,
    surveyLinkMs: null,
    remoteHops,
  };
  if (!survey || !plan.stages.every((s) => survey.profiles.has(s.phoneId))) return unpriced;
  // Every measured phone, not only the plan's: the leader's links are priced from its own survey.
  const measured = phones.filter((p) => survey.profiles.has(p.id));
  const problem = placementProblem(manifest, measured, survey, leaderId, learned);
  const cost = costOfPlan(
    problem,
    buildCostTables(problem),
    plan.stages.map((s) => ({ deviceId: s.phoneId, firstBlock: s.firstBlock, lastBlock: s.lastBlock })),
  );
  if (!cost) return unpriced;
  const context = typicalContext(manifest);
  const linkMs = cost.inputMs + cost.stages.reduce((a, s) => a + s.sendMs, 0);
  return {
    stages: plan.stages.map((s) => {
      const times = blockTimes(manifest, survey.profiles.get(s.phoneId)!, context);
      const kernel = times.slice(s.firstBlock, s.lastBlock + 1).reduce((a, b) => a + b, 0);
      return {
        ...s,
        predictedMs: kernel * computeFactorOf(learned, s.phoneId),
        kernelPredictedMs: kernel,
        handlingMs: learned.handlingMs.get(s.phoneId) ?? DEFAULT_HANDLING_MS,
      };
    }),
    predictedTokenMs: cost.tokenMs,
    predictedTokensPerSecond: 1000 / cost.tokenMs,
    predictedBottleneckMs: cost.bottleneckMs,
    predictedLinkMs: linkMs,
    // Every hop between two phones carries the same learnt extra; the survey's share is the rest.
    surveyLinkMs: linkMs - remoteHops * (learned.hopExtraMs ?? DEFAULT_HOP_EXTRA_MS),
    remoteHops,
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
  learned: LearnedCosts = NOTHING_LEARNT,
  objective: PlacementObjective = 'latency',
): Promise<RoomPlan> {
  if (planner === 'even' || !survey || !layerShapeOf(manifest.config)) {
    const plan = evenSplitByBlocks(
      manifest,
      phones.map((p) => p.id),
      planId,
    );
    return {
      plan,
      ...pricePlan(manifest, phones, survey, leaderId, plan, learned),
      planner: survey ? 'even split by blocks' : 'even split by blocks (phones not measured)',
      leftOut: [],
      solveMs: null,
    };
  }
  const result = await solve(placementProblem(manifest, phones, survey, leaderId, learned, objective));
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
    ...pricePlan(manifest, phones, survey, leaderId, plan, learned),
    planner: `${result.engine === 'milp' ? 'HiGHS MILP' : 'exact DP'}${result.proven ? ', optimal' : ', time limit'} for ${objective} in ${result.solveMs.toFixed(0)} ms`,
    leftOut: result.leftOut.map((l) => ({ phoneId: l.deviceId, reason: l.detail })),
    solveMs: result.solveMs,
  };
}

/** Whether two plans put the same blocks on the same phones in the same order. */
export function samePlacement(a: Plan, b: Plan): boolean {
  return (
    a.stages.length === b.stages.length &&
    a.stages.every((s, k) => {
      const t = b.stages[k]!;
      return s.phoneId === t.phoneId && s.firstBlock === t.firstBlock && s.lastBlock === t.lastBlock;
    })
  );
}

/** What an objective minimises, as the cost model prices a plan (null: not priced). */
export function objectiveMs(
  rp: Pick<RoomPlan, 'predictedTokenMs' | 'predictedBottleneckMs'>,
  objective: PlacementObjective,
): number | null {
  return objective === 'latency' ? rp.predictedTokenMs : rp.predictedBottleneckMs;
}

/**
 * Whether moving from `now` to `candidate` pays for its pause: a different placement whose objective
 * is at least `gain` (a fraction) better.
 */
export function worthMoving(
  now: Pick<RoomPlan, 'plan' | 'predictedTokenMs' | 'predictedBottleneckMs'>,
  candidate: Pick<RoomPlan, 'plan' | 'predictedTokenMs' | 'predictedBottleneckMs'>,
  objective: PlacementObjective,
  gain: number,
): boolean {
  const a = objectiveMs(now, objective);
  const b = objectiveMs(candidate, objective);
  return !samePlacement(now.plan, candidate.plan) && a !== null && b !== null && b < a * (1 - gain);
}
