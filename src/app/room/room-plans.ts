/**
 * The room's plans, on the leader: opens a model, has the phones measured (room-measurements.ts), plans,
 * and moves the room from plan to plan — at load, after a measured run shows a clearly better plan,
 * when the balancer or a fault or a new phone calls for it (balancer.ts, room-recovery.ts), or when
 * asked — through the plan executor (a pure transition carried out with timeouts, back to the plan
 * before when it fails). Answers in flight pause at a token boundary while the plan changes and go on
 * token-identical (pipeline-driver.ts). Every answer is also a measurement the room learns from
 * (answer-runs.ts).
 */
import { describeProfile } from '../../core/cost/backend-choice';
import { layerShapeOf } from '../../core/cost/calibration-model';
import type { PlacementProblem, PlacementResult } from '../../core/placement/types';
import type { DeviceProfile, Message, MessageOf, PhoneInfo } from '../../core/protocol/messages';
import type { Plan, StagePlan } from '../../core/room/plan';
import { activePhones, type RosterEvent } from '../../core/room/roster';
import { type ModelChoice, type OpenedModel, openModel } from '../model-source';
import type { PipelineDriver } from '../pipeline-driver';
import { RoomLearning } from '../room-learning';
import {
  objectiveMs,
  type Planner,
  planRoom,
  pricePlan,
  type RoomPlan,
  samePlacement,
  worthMoving,
} from '../room-planner';
import { AnswerRuns, newId, type RunTimings } from './answer-runs';
import { Balancer } from './balancer';
import { LoadPlanning } from './load-planning';
import { PlanExecutor } from './plan-executor';
import { PlanSwitch, type ReplanEvent } from './plan-switch';
import { RoomMeasurements } from './room-measurements';
import { type FaultEvent, RoomRecovery } from './room-recovery';

export type { ReplanEvent } from './plan-switch';
export type { FaultEvent } from './room-recovery';

const SELF = 'leader';

export type RoomEvent = ReplanEvent | FaultEvent;

export interface RoomPlansDeps {
  readonly selfPeerId: string;
  readonly send: (phoneId: string, m: Message) => boolean;
  readonly ping: (phoneId: string, bytes: number) => Promise<number>;
  readonly phones: () => readonly PhoneInfo[];
  readonly update: (e: RosterEvent) => void;
  readonly status: () => void;
  readonly solve: (problem: PlacementProblem) => Promise<PlacementResult>;
  readonly log: (line: string) => void;
  readonly loadIdleTimeoutMs?: number;
}

export class RoomPlans {
  model: OpenedModel | null = null;
  planner: Planner = 'solved';
  status = '';
  /** What the room's runs taught about its phones and links. */
  readonly learning = new RoomLearning();
  private readonly measurements: RoomMeasurements;
  private readonly recovery: RoomRecovery;
  private readonly executor: PlanExecutor;
  private readonly switcher: PlanSwitch;
  /** Moves the room mid-answer when a phone slows down (or speeds up) for good. */
  readonly balancer: Balancer;
  /** Plans for throughput while many answers run at once, for latency when one does. */
  readonly load: LoadPlanning;
  /** The answers, and what the room learns from them (answer-runs.ts). */
  readonly runs: AnswerRuns;
  /** A better plan than the one loaded must beat it by this much to be worth moving blocks for. */
  static readonly REPLAN_GAIN = 0.1;

  constructor(private readonly deps: RoomPlansDeps) {
    this.measurements = new RoomMeasurements({
      send: (id, m) => void deps.send(id, m),
      ping: deps.ping,
      self: SELF,
      log: deps.log,
    });
    this.executor = new PlanExecutor({
      send: deps.send,
      nameOf: (id) => deps.phones().find((p) => p.id === id)?.name ?? id,
      log: deps.log,
      ...(deps.loadIdleTimeoutMs ? { idleTimeoutMs: deps.loadIdleTimeoutMs } : {}),
    });
    this.balancer = new Balancer({
      log: deps.log,
      tokensLeft: () => this.driver?.tokensLeft ?? 0,
      pauseEstimateMs: () => this.pauseEstimateMs(),
      learn: (window) => {
        const rp = this.roomPlan;
        if (!this.measurements.surveyed || !rp) return false;
        this.runs.learntMidway();
        return this.learn(window);
      },
      compare: async () => {
        const current = this.roomPlan;
        if (!this.model || !current || !this.measurements.surveyed) return null;
        const best = await this.plan(activePhones(this.deps.phones()), 'solved');
        if (samePlacement(best.plan, current.plan)) {
          this.deps.log('balance check: the plan in use is still the best');
          return null;
        }
        const now = this.priced(current.plan);
        return {
          currentMs: objectiveMs(now, this.load.objective),
          bestMs: objectiveMs(best, this.load.objective),
          move: () => this.switchTo({ ...best, planner: `${best.planner}, balanced mid-answer` }, 'slow'),
        };
      },
    });
    this.switcher = new PlanSwitch({
      self: SELF,
      selfPeerId: deps.selfPeerId,
      executor: this.executor,
      model: () => this.model!,
      profiles: () => this.surveyed?.profiles ?? null,
      phones: deps.phones,
      send: deps.send,
      update: deps.update,
      setStatus: (line) => this.setStatus(line),
      log: deps.log,
      driverReady: (driver) => {
        // Steps of answers side by side wait for each other: they time the queue, not the phones.
        driver.onStep = (m, ms) => {
          if (driver.inFlight <= 1) this.balancer.step(m, ms);
        };
      },
      moved: (e) => {
        this.balancer.moved();
        this.history.push(e);
      },
    });
    this.load = new LoadPlanning({
      inFlight: () => this.driver?.inFlight ?? 0,
      replan: (objective) => this.moveIfBetter(objective === 'throughput' ? 'busy' : 'quiet'),
      log: deps.log,
    });
    this.runs = new AnswerRuns({
      driver: () => this.driver,
      current: () => this.roomPlan,
      measured: () => this.measurements.settled(),
      loadChanged: () => this.load.observe(),
      setBalancing: (on) => {
        const was = this.balancer.enabled;
        this.balancer.enabled = on;
        return was;
      },
      learn: (r, warmUp) => this.learn(r, warmUp),
      log: deps.log,
    });
    this.recovery = new RoomRecovery({
      driver: () => this.driver,
      current: () => this.roomPlan,
      plan: (phones, planner) => this.plan(phones, planner),
      switchTo: (target, reason) => this.switchTo(target, reason),
      phones: deps.phones,
      measurements: this.measurements,
      shape: () => (this.model ? layerShapeOf(this.model.manifest.config) : null),
      faults: (e) => this.history.push(e),
      setStatus: (line) => this.setStatus(line),
      log: deps.log,
    });
  }

  private get surveyed() {
    return this.measurements.surveyed;
  }

  /** The plan the room runs, with its predictions. */
  get roomPlan(): RoomPlan | null {
    return this.switcher.current;
  }
  private set roomPlan(rp: RoomPlan | null) {
    this.switcher.current = rp;
  }

  get driver(): PipelineDriver | null {
    return this.switcher.driver;
  }

  private setStatus(line: string): void {
    this.status = line;
    this.deps.status();
  }

  onState(id: string, m: MessageOf<'state'>): void {
    if (m.state === 'error') this.measurements.failed(id, `${this.nameOf(id)}: ${m.detail ?? 'failed'}`);
    this.executor.onState(id, m);
    const { state, loaded, total, detail } = m;
    this.deps.update({ kind: 'state', id, state, loaded, total, detail });
  }

  onPrefetched(id: string, m: MessageOf<'prefetched'>): void {
    this.executor.onPrefetched(id, m);
  }

  onProfile(id: string, profile: DeviceProfile): void {
    this.measurements.received(id, profile);
    this.deps.update({ kind: 'measured', id, summary: describeProfile(profile) });
  }

  /** The room's re-plans and faults, in order (the simulator's --json reports them). */
  readonly history: RoomEvent[] = [];

  phoneLeft(id: string, name: string): void {
    this.measurements.forget(id);
    this.executor.forget(id);
    this.recovery.phoneLeft(id, name);
  }

  phoneJoined(id: string): void {
    this.recovery.phoneJoined(id);
  }

  private nameOf(id: string): string {
    return this.deps.phones().find((p) => p.id === id)?.name ?? id;
  }

  /** Opens a model, surveys the phones, plans, loads every stage and warms the pipeline up. */
  async loadModel(choice: ModelChoice): Promise<RoomPlan> {
    this.setStatus('opening the model…');
    const model = await openModel(choice, (line) => this.setStatus(line));
    this.driver?.failed('the room loaded another model');
    this.switcher.reset();
    this.model = model;
    this.executor.reset();
    this.learning.reset();
    this.load.stop();
    this.load.reset();
    const phones = activePhones(this.deps.phones());
    const shape = layerShapeOf(model.manifest.config);
    this.measurements.reset();
    // The solved planner measures every phone first; an even room is measured once it is ready,
    // between answers. Either way re-plans (a fault, a slow phone) are solved once all are measured.
    if (shape && this.planner === 'solved') {
      this.setStatus('measuring the phones and their links…');
      await this.measurements.measureNow(
        phones.map((p) => p.id),
        shape,
      );
    }
    await this.switchTo(await this.plan(phones), 'load');
    // Outside the plan change: a phone that leaves during the warm-up re-plans like in any answer.
    const warmUpFailure = await this.runs.warmUp();
    if (warmUpFailure !== null)
      throw new Error(`the pipeline did not answer its warm-up request: ${warmUpFailure}`);
    await this.moveIfBetter('measured');
    this.load.enabled = this.planner === 'solved' && this.surveyed !== null;
    this.setStatus(`${model.description}: ready (${this.roomPlan!.planner})`);
    if (shape && !this.surveyed) this.measureLater(model, shape);
    return this.roomPlan!;
  }

  /** Measures an even room's phones between answers; then its plan is priced and balancing can start. */
  private measureLater(model: OpenedModel, shape: NonNullable<ReturnType<typeof layerShapeOf>>): void {
    this.measurements.measureLater(
      () => activePhones(this.deps.phones()).map((p) => p.id),
      shape,
      () => this.runs.idle(),
      () => {
        if (this.model !== model || !this.roomPlan) return;
        this.roomPlan = { ...this.roomPlan, ...this.priced(this.roomPlan.plan) };
        this.balancer.moved(); // steps timed while phones measured themselves say nothing
        this.switcher.refreshBackups();
        this.deps.status();
      },
    );
  }

  /** Whether this phone is measuring itself now. */
  /** Phones are reading the blocks of the plan the room is about to move to. */
  get readingAhead(): boolean {
    return this.executor.readingAhead;
  }

  measuring(id: string): boolean {
    return this.measurements.measuring(id);
  }

  /** Whether every phone of the room is measured (tests and the simulator wait for it). */
  get measured(): boolean {
    return this.surveyed !== null;
  }

  private plan(phones: readonly PhoneInfo[], planner: Planner = this.planner): Promise<RoomPlan> {
    this.setStatus('planning…');
    const m = this.model!;
    return planRoom(
      m.manifest,
      phones,
      this.surveyed,
      SELF,
      planner,
      this.deps.solve,
      newId(),
      this.learning.learned,
      this.load.objective,
    );
  }

  private priced(plan: Plan): Omit<RoomPlan, 'plan' | 'planner' | 'leftOut' | 'solveMs'> {
    const phones = activePhones(this.deps.phones());
    return pricePlan(this.model!.manifest, phones, this.surveyed, SELF, plan, this.learning.learned);
  }

  /** Moves to these stages now (answers in flight pause at a token boundary and go on). */
  moveTo(stages: readonly StagePlan[], reason: string): Promise<RoomPlan> {
    if (!this.model || !this.roomPlan) return Promise.reject(new Error('load a model first'));
    const plan: Plan = { id: newId(), stages: [...stages] };
    const rp: RoomPlan = {
      plan,
      ...this.priced(plan),
      planner: `moved (${reason})`,
      leftOut: [],
      solveMs: null,
    };
    return this.switchTo(rp, reason).then(() => rp);
  }

  /** Applies `target`, one change at a time (plan-switch.ts). */
  private switchTo(target: RoomPlan, reason: string): Promise<void> {
    return this.switcher.switchTo(target, reason);
  }

  /**
   * Re-solves for the objective in force (with what the runs so far taught) and moves the room only
   * to a clearly better plan (`worthMoving`), mid-answer like any move; a failed move goes back to the
   * plan before (its blocks are still in every phone's cache). `why`: after a measured run, or the load
   * changed (load-planning.ts).
   */
  private async moveIfBetter(why: 'measured' | 'busy' | 'quiet'): Promise<void> {
    const current = this.roomPlan;
    if (!this.model || !current || !this.surveyed || this.planner !== 'solved') return;
    const objective = this.load.objective;
    let better: RoomPlan;
    try {
      better = await this.plan(activePhones(this.deps.phones()));
    } catch (e) {
      // The plan in use works; a failed second solve is no reason to drop it.
      this.deps.log(`re-planning skipped: ${e instanceof Error ? e.message : String(e)}`);
      return;
    } finally {
      this.setStatus(`${this.model.description}: ready (${current.planner})`);
    }
    const now = { plan: current.plan, ...this.priced(current.plan) };
    if (!worthMoving(now, better, objective, RoomPlans.REPLAN_GAIN)) {
      this.deps.log(`re-planning (${why}): the plan in use stays the best for ${objective}`);
      return;
    }
    const [was, to] = [objectiveMs(now, objective)!, objectiveMs(better, objective)!];
    this.deps.log(`re-planning (${why}) for ${objective}: ${was.toFixed(1)} → ${to.toFixed(1)} ms`);
    const note = why === 'measured' ? 're-planned after a measured run' : 'for the load';
    await this.switchTo({ ...better, planner: `${better.planner}, ${note}` }, why).catch((e: unknown) =>
      this.deps.log(`re-planning failed (${String(e)}): kept the plan before`),
    );
  }

  /** Folds a finished answer's timings into what the room knows, and restates the plan's predictions. */
  private learn(r: RunTimings, warmUp = false): boolean {
    const rp = this.roomPlan;
    if (!rp || !this.model) return false;
    try {
      // A measured plan that could not be priced (a phone left) has nothing sound to compare against.
      const priced = !this.surveyed || rp.surveyLinkMs !== null;
      if (!this.learning.observe(rp, r, SELF, { warmUp, priced })) return false;
      this.roomPlan = { ...rp, ...this.priced(rp.plan) };
      return true;
    } catch (e) {
      // Learning is a bonus: it must never turn a finished answer into a failure.
      this.deps.log(`could not learn from this answer: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /**
   * What the next move is expected to pause the answers for: the last move's pause. Before any move
   * nothing is known (the first load came from the network, far slower than a move from the cache), so
   * the first move is judged by its gain alone.
   */
  private pauseEstimateMs(): number {
    const moved = this.history.filter((e): e is ReplanEvent => e.kind === 'replan' && e.reason !== 'load');
    return moved.at(-1)?.pauseMs ?? 0;
  }

  /** Each measured phone's memory budget (null until the room is measured). */
  budgets(): ReadonlyMap<string, number> | null {
    const profiles = this.surveyed?.profiles;
    return profiles ? new Map([...profiles].map(([id, p]) => [id, p.memoryBudgetBytes])) : null;
  }
}
