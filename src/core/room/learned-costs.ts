/**
 * What the room learns from its own runs. Every generation reports, per step, each stage's run time,
 * how long each phone held the step (arrival to sending on) and the step's wall time at the leader.
 * From their medians over the decode steps the leader learns, without comparing clocks across phones:
 *
 * - per phone, how far its stage time is from the calibration kernel's prediction (a factor);
 * - per phone, its handling time around a step (worker hand-off, framing): resident − run time;
 * - for the room, what a hop between phones costs beyond the survey's latency + bytes / bandwidth: the
 *   step's wall time minus every phone's residence is the links' time (plus the leader's framing).
 *
 * Each new run is blended into what was known (an exponential average), so the plan can follow a phone
 * that slows down, and the next solve prices hops as they really are.
 */
import { median } from '../stats';

export interface LearnedCosts {
  /** Per phone: measured ÷ kernel-predicted stage run time. */
  readonly computeFactor: ReadonlyMap<string, number>;
  /** Per phone: ms it spends around each step besides the run itself. */
  readonly handlingMs: ReadonlyMap<string, number>;
  /** ms each hop between phones costs beyond its predicted latency and transfer time; null: no run
   *  with a hop yet. */
  readonly hopExtraMs: number | null;
}

/**
 * The factor to price a phone's stage with: its own once it has run one; before that, the median of
 * the factors the phones that have run learnt. Most of a factor is the kernel's error, not the phone's
 * (the calibration kernel is not the stage: its ops, shapes and memory traffic differ, and the survey
 * already measured how the phones differ in speed), so a phone that has not run yet most likely errs
 * as the others did. With nothing learnt, 1: the kernel's prediction as it is.
 */
export function computeFactorOf(learned: LearnedCosts, phoneId: string): number {
  const own = learned.computeFactor.get(phoneId);
  if (own !== undefined) return own;
  return learned.computeFactor.size > 0 ? median([...learned.computeFactor.values()]) : 1;
}

export const NOTHING_LEARNT: LearnedCosts = {
  computeFactor: new Map(),
  handlingMs: new Map(),
  hopExtraMs: null,
};

/** One run of a plan, reduced to medians over its decode steps. */
export interface RunObservation {
  readonly stages: readonly {
    readonly phoneId: string;
    /** The calibration kernel's prediction of this stage's run time (null: phone not measured). */
    readonly kernelPredictedMs: number | null;
    readonly computeMs: number;
    readonly handlingMs: number;
  }[];
  /** Step wall time minus every phone's residence. */
  readonly outsideMs: number;
  /** Hops between different phones in one step (the leader's own stage talks to it for free). */
  readonly remoteHops: number;
  /** What the survey predicted those hops would take (latency + transfer, nothing learnt). */
  readonly predictedLinkMs: number;
}

const MAX_HOP_EXTRA_MS = 1000;

/** Weight of the newest run: high enough to follow a phone that slows down within a few runs. */
export const LEARNING_RATE = 0.5;

const blend = (old: number | undefined | null, x: number, w: number) =>
  old === undefined || old === null ? x : old * (1 - w) + x * w;

export function learnFrom(prev: LearnedCosts, run: RunObservation, weight = LEARNING_RATE): LearnedCosts {
  const computeFactor = new Map(prev.computeFactor);
  const handlingMs = new Map(prev.handlingMs);
  for (const s of run.stages) {
    if (s.kernelPredictedMs !== null && s.kernelPredictedMs > 0 && s.computeMs > 0) {
      // Clamped: one wild run (a stall while another tab ran) must not swing a phone tenfold.
      const factor = Math.min(10, Math.max(0.1, s.computeMs / s.kernelPredictedMs));
      computeFactor.set(s.phoneId, blend(computeFactor.get(s.phoneId), factor, weight));
    }
    if (Number.isFinite(s.handlingMs) && s.handlingMs >= 0)
      handlingMs.set(s.phoneId, blend(handlingMs.get(s.phoneId), s.handlingMs, weight));
  }
  let hopExtraMs = prev.hopExtraMs;
  if (run.remoteHops > 0 && Number.isFinite(run.outsideMs)) {
    // Clamped: no real hop costs a second, and one wild run must not push every plan onto one phone.
    const extra = Math.min(
      MAX_HOP_EXTRA_MS,
      Math.max(0, (run.outsideMs - run.predictedLinkMs) / run.remoteHops),
    );
    hopExtraMs = blend(prev.hopExtraMs, extra, weight);
  }
  return { computeFactor, handlingMs, hopExtraMs };
}

export interface StepBreakdown {
  /** Per stage: median run time over the decode steps. */
  readonly computeMs: number[];
  /** Per stage: median of (residence − run time). */
  readonly handlingMs: number[];
  /** Median over the decode steps of (wall time − Σ residence). */
  readonly outsideMs: number;
  /** Median wall time of a decode step. */
  readonly stepMs: number;
}

/** Medians over the decode steps (the prefill, step 0, excluded); null with fewer than 2 steps. */
export function stepBreakdown(result: {
  readonly stepMs: readonly number[];
  readonly stageTimesMs: readonly (readonly number[])[];
  readonly residentMs: readonly (readonly number[])[];
}): StepBreakdown | null {
  if (result.stepMs.length < 2 || result.stageTimesMs.length < 2) return null;
  const steps = result.stepMs.slice(1).map((wall, i) => ({
    wall,
    run: result.stageTimesMs[i + 1] ?? [],
    resident: result.residentMs[i + 1] ?? [],
  }));
  const stages = steps[0]!.run.length;
  return {
    computeMs: Array.from({ length: stages }, (_, k) => median(steps.map((s) => s.run[k] ?? Number.NaN))),
    handlingMs: Array.from({ length: stages }, (_, k) =>
      median(steps.map((s) => (s.resident[k] ?? Number.NaN) - (s.run[k] ?? Number.NaN))),
    ),
    outsideMs: median(
      steps.map((s) =>
        s.resident.length === stages ? s.wall - s.resident.reduce((a, b) => a + b, 0) : Number.NaN,
      ),
    ),
    stepMs: median(steps.map((s) => s.wall)),
  };
}
