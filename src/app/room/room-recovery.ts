/**
 * The room's answer to phones coming and going while a model is loaded. A phone of the plan that leaves
 * holds the answers at their token boundary, and the room re-plans over the phones left (solved when
 * every phone is measured, else evenly) and goes on from the last token; when the phones left cannot
 * hold the model, the answer stops with what is missing and keeps its text. A phone that joins (or
 * comes back under the identity its browser keeps) is measured, prepared, and used at the next re-plan.
 */
import type { PhoneInfo } from '../../core/protocol/messages';
import { activePhones } from '../../core/room/roster';
import type { PipelineDriver } from '../pipeline-driver';
import type { Planner, RoomPlan } from '../room-planner';
import { samePlacement } from '../room-planner';
import type { RoomMeasurements } from './room-measurements';

/** A phone of the plan that left mid-answer: when it was noticed, and when the answer went on (epoch ms). */
export interface FaultEvent {
  readonly kind: 'fault';
  readonly phone: string;
  readonly atToken: number;
  readonly detectedAt: number;
  resumedAt: number | null;
}

export interface RecoveryDeps {
  readonly driver: () => PipelineDriver | null;
  /** The plan in use, null before a model is loaded. */
  readonly current: () => RoomPlan | null;
  readonly plan: (phones: readonly PhoneInfo[], planner?: Planner) => Promise<RoomPlan>;
  readonly switchTo: (target: RoomPlan, reason: string) => Promise<void>;
  readonly phones: () => readonly PhoneInfo[];
  readonly measurements: RoomMeasurements;
  /** The loaded model's layer shape, for measuring a phone that joins (null: nothing to measure at). */
  readonly shape: () => Parameters<RoomMeasurements['add']>[1] | null;
  readonly faults: (e: FaultEvent) => void;
  readonly setStatus: (line: string) => void;
  readonly log: (line: string) => void;
}

export class RoomRecovery {
  constructor(private readonly deps: RecoveryDeps) {}

  phoneLeft(id: string, name: string): void {
    const driver = this.deps.driver();
    if (!driver?.uses(id)) return;
    const fault: FaultEvent = {
      kind: 'fault',
      phone: id,
      atToken: driver.tokensOut,
      detectedAt: Date.now(),
      resumedAt: null,
    };
    this.deps.faults(fault);
    void this.recover(driver, `${name} left the room`, fault);
  }

  /** A phone joined (or came back) while a model is loaded: measure it, and re-plan with it. */
  phoneJoined(id: string): void {
    const shape = this.deps.shape();
    if (!this.deps.current()) return;
    void (async () => {
      if (shape) await this.deps.measurements.add(id, shape);
      // Planned with the room as it is now: a fault re-plan that ran meanwhile is the plan to improve.
      const current = this.deps.current();
      if (!current) return;
      const target = await this.deps.plan(activePhones(this.deps.phones()));
      if (samePlacement(target.plan, current.plan)) return;
      await this.deps.switchTo({ ...target, planner: `${target.planner}, after a phone joined` }, 'rejoin');
    })().catch((e: unknown) => this.deps.log(`re-planning with a new phone skipped: ${String(e)}`));
  }

  private async recover(driver: PipelineDriver, why: string, fault: FaultEvent): Promise<void> {
    this.deps.log(`${why} mid-plan: re-planning`);
    await driver.interrupt(why);
    let target: RoomPlan;
    try {
      target = await this.deps.plan(activePhones(this.deps.phones()), 'solved');
    } catch (e) {
      const missing = e instanceof Error ? e.message : String(e);
      driver.failed(`${why}, and the phones left cannot run the model: ${missing}`);
      this.deps.setStatus(`${why}: the phones left cannot run the model`);
      return;
    }
    try {
      await this.deps.switchTo({ ...target, planner: `${target.planner}, after ${why}` }, 'fault');
      const onStep = driver.onStep;
      driver.onStep = (m, ms) => {
        fault.resumedAt ??= Date.now();
        driver.onStep = onStep;
        onStep?.(m, ms);
      };
    } catch (e) {
      driver.failed(`${why}, and the room could not move on: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
