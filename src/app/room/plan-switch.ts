/**
 * Moves the room from the plan it runs to another, one change at a time: phones new to the room load
 * first while the answers still run; then the answers pause at a token boundary, the plan executor
 * carries the transition out, and the answers rebuild the moved stages' caches and go on. A failed
 * change goes back to the plan before (its blocks are still in every phone's cache). Every change is
 * recorded as a ReplanEvent.
 */
import type { DeviceProfile, Message, PhoneInfo, StageAssignment } from '../../core/protocol/messages';
import { backupBlocks } from '../../core/room/backups';
import { assignments, type Plan, type StagePlan } from '../../core/room/plan';
import type { RosterEvent } from '../../core/room/roster';
import { LEADER_BASE, type OpenedModel } from '../model-source';
import { PipelineDriver } from '../pipeline-driver';
import type { RoomPlan } from '../room-planner';
import type { PlanExecutor } from './plan-executor';

/** A plan change: why, when (tokens of the answer in flight), from and to which plan, how long answers waited. */
export interface ReplanEvent {
  readonly kind: 'replan';
  readonly atToken: number;
  readonly reason: string;
  readonly fromPlan: string | null;
  readonly toPlan: string;
  readonly stages: readonly StagePlan[];
  readonly pauseMs: number;
  /**
   * Before the pause, while the answers still ran: phones new to the room loading, phones moving to
   * other blocks reading them ahead (after a fault the answers were already held through it).
   */
  readonly readAheadMs: number;
  /** Of the pause: the phones loading their new blocks, then the answers' caches rebuilt (replay). */
  readonly loadMs: number;
  readonly replayMs: number;
  /** When it finished (epoch ms). */
  readonly at: number;
}

export interface SwitchDeps {
  /** The leader's own stage's id in plans, and its peer id on the network. */
  readonly self: string;
  readonly selfPeerId: string;
  readonly executor: PlanExecutor;
  readonly model: () => OpenedModel;
  /** What each measured phone measured (null: the room is not measured yet). */
  readonly profiles: () => ReadonlyMap<string, DeviceProfile> | null;
  readonly phones: () => readonly PhoneInfo[];
  readonly send: (phoneId: string, m: Message) => boolean;
  readonly update: (e: RosterEvent) => void;
  readonly setStatus: (line: string) => void;
  readonly log: (line: string) => void;
  /** The room's first plan is in place: the driver that runs its answers from now on. */
  readonly driverReady: (driver: PipelineDriver) => void;
  /** A change went through. */
  readonly moved: (e: ReplanEvent) => void;
}

export class PlanSwitch {
  /** The plan the room runs. */
  current: RoomPlan | null = null;
  driver: PipelineDriver | null = null;
  /** Plan changes run one at a time. */
  private changing: Promise<unknown> = Promise.resolve();
  /** The assignments the plan in use was carried out with. */
  private sent: readonly StageAssignment[] = [];

  constructor(private readonly deps: SwitchDeps) {}

  /** A new model: no plan, no driver (its answers were failed by the caller). */
  reset(): void {
    this.current = null;
    this.driver = null;
  }

  /**
   * Applies `target` (one change at a time): pauses the answers, carries the transition out, and has
   * them rebuild their caches from the first moved stage. A failed change goes back to the plan before.
   */
  switchTo(target: RoomPlan, reason: string): Promise<void> {
    const run = this.changing.then(() => this.doSwitch(target, reason));
    this.changing = run.catch(() => {});
    return run;
  }

  private async doSwitch(target: RoomPlan, reason: string): Promise<void> {
    const before = this.current;
    this.deps.setStatus(`loading blocks (${target.planner})…`);
    // Phones new to the room load their blocks while the answers still run on the plan before: only
    // the phones that change what they hold make the answers wait.
    const ahead = performance.now();
    if (this.driver) await this.deps.executor.prepare(target.plan, this.assignmentsFor(target.plan));
    const t0 = performance.now();
    const atToken = this.driver?.tokensOut ?? 0;
    await this.driver?.pause();
    try {
      const { loadMs, replayMs } = await this.carryOut(target);
      this.deps.moved({
        kind: 'replan',
        atToken,
        reason,
        fromPlan: before?.plan.id ?? null,
        toPlan: target.plan.id,
        stages: target.plan.stages.map(({ phoneId, firstBlock, lastBlock }) => ({
          phoneId,
          firstBlock,
          lastBlock,
        })),
        pauseMs: performance.now() - t0,
        readAheadMs: t0 - ahead,
        loadMs,
        replayMs,
        at: Date.now(),
      });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (!before || !this.driver) throw e;
      this.deps.log(
        `moving to plan ${target.plan.id} (${reason}) failed: ${why}; back to plan ${before.plan.id}`,
      );
      try {
        await this.carryOut(before);
      } catch (again) {
        this.driver.failed(`the room could not move to a new plan, nor back: ${String(again)}`);
        await this.driver.resume(before.plan, before.plan.stages.length);
      }
      throw e;
    }
    if (!before || !this.driver) {
      const model = this.deps.model();
      this.driver = new PipelineDriver(
        model.manifest,
        target.plan,
        model.tokenizer,
        this.deps.send,
        this.deps.log,
      );
      this.deps.driverReady(this.driver);
    }
  }

  /** Sends the assignments, waits for every phone, then lets the paused answers go on under the plan. */
  private async carryOut(target: RoomPlan): Promise<{ loadMs: number; replayMs: number }> {
    const plan = target.plan;
    for (const p of this.deps.phones()) {
      const s = plan.stages.find((st) => st.phoneId === p.id);
      this.deps.update({ kind: 'assigned', id: p.id, blocks: s ? [s.firstBlock, s.lastBlock] : undefined });
      const out = target.leftOut.find((l) => l.phoneId === p.id);
      if (out)
        this.deps.update({
          kind: 'state',
          id: p.id,
          state: 'idle',
          detail: `left out of this plan: ${out.reason}`,
        });
    }
    const t0 = performance.now();
    const sent = this.assignmentsFor(plan);
    const t = await this.deps.executor.apply(plan, sent);
    const t1 = performance.now();
    this.current = target;
    this.sent = sent;
    await this.driver?.resume(plan, t.firstMoved);
    return { loadMs: t1 - t0, replayMs: performance.now() - t1 };
  }

  /**
   * The plan in use's assignments again, each phone keeping its stage (and the runtimes it loaded
   * with), with backups sized to what the phones measured since.
   */
  refreshBackups(): void {
    const plan = this.current?.plan;
    if (!plan) return;
    this.sent.forEach((a, k) => {
      const backups = this.backupsFor(plan, k);
      this.deps.send(plan.stages[k]!.phoneId, { kind: 'assign', assignment: { ...a, backups } });
    });
  }

  /** Every stage's assignment under `plan`, in stage order. */
  private assignmentsFor(plan: Plan): StageAssignment[] {
    const model = this.deps.model();
    const peer = (id: string | null) => (id === this.deps.self ? this.deps.selfPeerId : id);
    return assignments(model.manifest, plan, model.base).map((a, k) => {
      const profile = this.deps.profiles()?.get(plan.stages[k]!.phoneId);
      const backups = this.backupsFor(plan, k);
      // Each phase runs where the profile this plan was priced with says; others reach the leader by id.
      return {
        ...a,
        nextPeer: peer(a.nextPeer),
        prevPeer: peer(a.prevPeer),
        ...(profile ? { phases: { decode: profile.decodeOn, prefill: profile.prefillOn } } : {}),
        ...(backups.length ? { backups } : {}),
      };
    });
  }

  /** What stage `k`'s phone caches beside its blocks (core/room/backups.ts). */
  private backupsFor(plan: Plan, k: number): number[] {
    const model = this.deps.model();
    const phoneId = plan.stages[k]!.phoneId;
    // The leader's own tab holds a model it opened in memory: its stage needs no backups on disk.
    if (phoneId === this.deps.self && model.base.startsWith(LEADER_BASE)) return [];
    const budgetBytes = this.deps.profiles()?.get(phoneId)?.memoryBudgetBytes;
    const blockBytes = model.manifest.blocks.map((b) => b.graph.bytes + (b.weights?.bytes ?? 0));
    return backupBlocks(plan.stages, k, budgetBytes ? { budgetBytes, blockBytes } : undefined);
  }
}
