/**
 * The leader's memory of how its room really runs (core/room/learned-costs.ts): fed by the warm-up
 * after every load and by every answer, read by the planner. Warm-ups run right after a load, still
 * paying one-time costs (first runs of a session, the page redrawing around them), so they learn only
 * from their later steps, and the first real answer replaces what they taught instead of being
 * averaged with it.
 */
import {
  LEARNING_RATE,
  type LearnedCosts,
  learnFrom,
  NOTHING_LEARNT,
  stepBreakdown,
} from '../core/room/learned-costs';
import type { GenerationOutput } from './pipeline-driver';
import { type RoomPlan, remoteHopsOf } from './room-planner';

/** Warm-up steps not learnt from: one-time costs still land on them. */
const WARM_UP_SKIP = 8;

type Timings = Pick<GenerationOutput, 'stepMs' | 'stageTimesMs' | 'residentMs'>;

export class RoomLearning {
  learned: LearnedCosts = NOTHING_LEARNT;
  /** Everything `learned` holds came from warm-ups. */
  private fromWarmUpOnly = false;

  /** A new model: what was learnt about the last one's blocks does not carry over. */
  reset(): void {
    this.learned = NOTHING_LEARNT;
    this.fromWarmUpOnly = false;
  }

  /**
   * Folds one run of `rp` in. `priced`: the plan had survey-based predictions to compare against
   * (false when a phone of it left). Returns whether anything was learnt.
   */
  observe(rp: RoomPlan, r: Timings, leaderId: string, opts: { warmUp: boolean; priced: boolean }): boolean {
    // stepBreakdown drops its first step as the prefill: a warm-up starts one before the skipped ones.
    const from = opts.warmUp ? WARM_UP_SKIP - 1 : 0;
    const b = stepBreakdown({
      stepMs: r.stepMs.slice(from),
      stageTimesMs: r.stageTimesMs.slice(from),
      residentMs: r.residentMs.slice(from),
    });
    if (!b || b.computeMs.length !== rp.stages.length || !opts.priced) return false;
    const weight = this.fromWarmUpOnly && !opts.warmUp ? 1 : LEARNING_RATE;
    this.fromWarmUpOnly = opts.warmUp && (this.fromWarmUpOnly || this.learned === NOTHING_LEARNT);
    this.learned = learnFrom(
      this.learned,
      {
        stages: rp.stages.map((s, k) => ({
          phoneId: s.phoneId,
          kernelPredictedMs: s.kernelPredictedMs,
          computeMs: b.computeMs[k]!,
          handlingMs: b.handlingMs[k]!,
        })),
        outsideMs: b.outsideMs,
        remoteHops: remoteHopsOf(rp.plan, leaderId),
        predictedLinkMs: rp.surveyLinkMs ?? 0,
      },
      weight,
    );
    return true;
  }
}
