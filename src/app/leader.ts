/**
 * The leader: the tab that made the room. It admits phones that know the room secret, keeps the roster,
 * opens a model (served, from the hub, or from its own disk), surveys the phones, plans which phone runs
 * which blocks, serves blocks it holds, and drives generation. Its own device runs a stage too, reached
 * through a loopback link like any other phone.
 */
import { describeProfile } from '../core/cost/backend-choice';
import { layerShapeOf } from '../core/cost/calibration-model';
import type { Manifest } from '../core/graph/manifest';
import type { PlacementProblem, PlacementResult } from '../core/placement/types';
import type { Link } from '../core/ports';
import type { Message, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import { assignments } from '../core/room/plan';
import { activePhones, applyRosterEvent, type RosterEvent } from '../core/room/roster';
import { PeerBlockServer } from './delivery/peer-blocks';
import { loopbackPair } from './loopback-link';
import { type ModelChoice, type OpenedModel, openModel } from './model-source';
import { type GenerationOutput, PipelineDriver } from './pipeline-driver';
import { RoomLearning } from './room-learning';
import { RoomNode, type RoomNodeOptions } from './room-node';
import { type Planner, planRoom, pricePlan, type RoomPlan, samePlacement } from './room-planner';
import { RoomSurvey, type SurveyResult } from './room-survey';

export type { GenerationOutput };
export const LEADER_PEER_PREFIX = 'chorus-';
export const SELF = 'leader';

function randomToken(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b]
    .map((x) => x.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, bytes * 2);
}

export interface LeaderOptions extends Omit<RoomNodeOptions, 'secret' | 'peerId'> {
  /** Solves placement problems (HiGHS in a worker, in the browser). */
  readonly solve: (problem: PlacementProblem) => Promise<PlacementResult>;
}

export class Leader extends RoomNode {
  phones: PhoneInfo[] = [];
  roomPlan: RoomPlan | null = null;
  /** The plan, with its predictions as they stood when the last answer started. */
  lastRunPlan: RoomPlan | null = null;
  model: OpenedModel | null = null;
  planner: Planner = 'solved';
  status = '';
  private driver: PipelineDriver | null = null;
  private readonly deviceLinks = new Map<string, Link>();
  private readonly waiters: (() => void)[] = [];
  private readonly survey: RoomSurvey;
  private readonly blockServer = new PeerBlockServer((file) => this.model?.files?.get(file));
  private joined = 0;
  /** What the room's runs taught about its phones and links. */
  readonly learning = new RoomLearning();
  private surveyed: SurveyResult | null = null;
  /** Phones that began loading (or failed) since their last `assign`: a `ready` before that is stale. */
  private readonly startedLoading = new Set<string>();
  /** A better plan than the one loaded must beat it by this much to be worth moving blocks for. */
  static readonly REPLAN_GAIN = 0.1;

  private constructor(
    node: Awaited<ReturnType<typeof RoomNode.openNode>>,
    private readonly leaderOpts: LeaderOptions & RoomNodeOptions,
    readonly roomId: string,
    private readonly onChange: () => void,
  ) {
    const [toSelf, fromLeader] = loopbackPair(SELF, SELF);
    super(node, leaderOpts, fromLeader);
    fromLeader.onMessage((m) => this.stage.handle(m));
    toSelf.onMessage((m) => this.blockServer.handle(m, toSelf) || this.fromDevice(SELF, m));
    this.deviceLinks.set(SELF, toSelf);
    this.survey = new RoomSurvey(
      (id, m) => void this.sendTo(id, m),
      (id, bytes) => this.ping(this.deviceLinks.get(id)!, 10_000, bytes),
    );
    this.update({ kind: 'joined', id: SELF, name: leaderOpts.name });
    this.update({ kind: 'state', id: SELF, state: 'idle', detail: 'in the room, no blocks yet' });
  }

  static async create(opts: LeaderOptions, onChange: () => void): Promise<Leader> {
    const roomId = randomToken(6);
    const full = { ...opts, secret: randomToken(12), peerId: `${LEADER_PEER_PREFIX}${roomId}` };
    return new Leader(await RoomNode.openNode(full), full, roomId, onChange);
  }

  get secret(): string {
    return this.opts.secret;
  }

  get manifest(): Manifest | null {
    return this.model?.manifest ?? null;
  }

  private sendTo(phoneId: string, m: Message): boolean {
    const link = this.deviceLinks.get(phoneId);
    link?.send(m);
    return !!link;
  }

  private update(e: RosterEvent): void {
    this.phones = applyRosterEvent(this.phones, e);
    const roster: Message = { kind: 'roster', phones: this.phones, planId: this.roomPlan?.plan.id ?? null };
    for (const [id, link] of this.deviceLinks) if (id !== SELF) link.send(roster);
    for (const w of this.waiters.splice(0)) w();
    this.onChange();
  }

  private setStatus(line: string): void {
    this.status = line;
    this.onChange();
  }

  protected greeted(link: Link): void {
    if (this.deviceLinks.has(link.remoteId)) {
      // A second link from a phone already here (a pipeline link): answer, but it is not a new phone.
      link.send({ kind: 'welcome', roomId: this.roomId, phoneId: link.remoteId });
      return;
    }
    this.deviceLinks.set(link.remoteId, link);
    link.send({ kind: 'welcome', roomId: this.roomId, phoneId: link.remoteId });
    this.update({ kind: 'joined', id: link.remoteId, name: `Phone ${++this.joined}` });
    this.update({ kind: 'state', id: link.remoteId, state: 'idle', detail: 'in the room, no blocks yet' });
  }

  protected dispatch(m: Message, from: Link): void {
    if (this.blockServer.handle(m, from) || this.stage.handle(m)) return;
    this.fromDevice(from.remoteId, m);
  }

  protected closed(link: Link): void {
    if (this.deviceLinks.get(link.remoteId) !== link) return;
    this.deviceLinks.delete(link.remoteId);
    this.survey.forget(link.remoteId);
    this.update({ kind: 'left', id: link.remoteId });
    const name = this.phones.find((p) => p.id === link.remoteId)?.name ?? link.remoteId;
    if (this.driver?.uses(link.remoteId)) this.driver.failed(`${name} left the room mid-answer`);
  }

  private fromDevice(id: string, m: Message): boolean {
    switch (m.kind) {
      case 'state':
        if (m.state === 'error') {
          const name = this.phones.find((p) => p.id === id)?.name ?? id;
          this.survey.failed(id, `${name}: ${m.detail ?? 'failed'}`);
        }
        if (m.state === 'loading' || m.state === 'error') this.startedLoading.add(id);
        this.update({
          kind: 'state',
          id,
          state: m.state,
          loaded: m.loaded,
          total: m.total,
          detail: m.detail,
        });
        return true;
      case 'profile': {
        this.survey.received(id, m.profile);
        this.update({ kind: 'measured', id, summary: describeProfile(m.profile) });
        return true;
      }
      case 'logits':
        this.driver?.logits(m);
        return true;
      case 'error':
        this.opts.log(`error from ${id}: ${m.message}`);
        this.driver?.failed(m.message, m.requestId);
        return true;
      default:
        this.opts.log(`ignored ${m.kind} from ${id}`);
        return false;
    }
  }

  /**
   * Opens a model, surveys the phones, plans, has each phone load its stage and warms the pipeline up.
   * The warm-up is also the first measurement of the plan as it really runs: if what it taught makes
   * another plan clearly faster (≥ REPLAN_GAIN), the room moves to that one once (blocks already
   * fetched come from each phone's cache).
   */
  async loadModel(choice: ModelChoice): Promise<RoomPlan> {
    this.setStatus('opening the model…');
    const model = await openModel(choice, (line) => this.setStatus(line));
    this.model = model;
    this.learning.reset();
    const manifest = model.manifest;
    const phones = activePhones(this.phones);
    const shape = layerShapeOf(manifest.config);
    this.surveyed = null;
    if (shape && this.planner === 'solved') {
      this.setStatus('measuring the phones and their links…');
      const remote = phones.map((p) => p.id).filter((id) => id !== SELF);
      this.surveyed = await this.survey.survey(
        phones.map((p) => p.id),
        remote,
        shape,
      );
    }
    await this.apply(await this.plan(phones));
    if (this.planner === 'solved' && this.surveyed) await this.replanIfBetter();
    this.setStatus(`${model.description}: ready (${this.roomPlan!.planner})`);
    return this.roomPlan!;
  }

  /**
   * Re-solves with what the runs so far taught; moves the room only for a clearly faster plan, and
   * back to the plan it had if the move fails (its blocks are still in every phone's cache).
   */
  private async replanIfBetter(): Promise<void> {
    const current = this.roomPlan!;
    const phones = activePhones(this.phones);
    let better: RoomPlan;
    try {
      better = await this.plan(phones);
    } catch (e) {
      // The plan in use works; a failed second solve is no reason to drop it.
      this.opts.log(`re-planning skipped: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const now = pricePlan(
      this.model!.manifest,
      phones,
      this.surveyed,
      SELF,
      current.plan,
      this.learning.learned,
    );
    if (
      samePlacement(better.plan, current.plan) ||
      better.predictedTokenMs === null ||
      now.predictedTokenMs === null ||
      better.predictedTokenMs >= now.predictedTokenMs * (1 - Leader.REPLAN_GAIN)
    )
      return;
    this.opts.log(
      `re-planning: ${now.predictedTokenMs.toFixed(1)} → ${better.predictedTokenMs.toFixed(1)} ms/token with measured costs`,
    );
    try {
      await this.apply({ ...better, planner: `${better.planner}, re-planned after a measured run` });
    } catch (e) {
      this.opts.log(
        `re-planning failed (${e instanceof Error ? e.message : String(e)}): back to the plan before`,
      );
      await this.apply(current);
    }
  }

  private plan(phones: readonly PhoneInfo[]): Promise<RoomPlan> {
    this.setStatus('planning…');
    return planRoom(
      this.model!.manifest,
      phones,
      this.surveyed,
      SELF,
      this.planner,
      this.leaderOpts.solve,
      randomToken(4),
      this.learning.learned,
    );
  }

  /** Has every phone of `roomPlan` load its stage, then warms the pipeline up (and learns from it). */
  private async apply(roomPlan: RoomPlan): Promise<void> {
    const model = this.model!;
    const manifest = model.manifest;
    this.roomPlan = roomPlan;
    const plan = roomPlan.plan;
    // An answer still waiting on the old plan's phones would never be answered now: end it.
    this.driver?.failed('the room moved to a new plan');
    this.driver = new PipelineDriver(manifest, plan, model.tokenizer, (id, m) => this.sendTo(id, m));
    for (const p of this.phones) {
      const s = plan.stages.find((st) => st.phoneId === p.id);
      this.update({ kind: 'assigned', id: p.id, blocks: s ? [s.firstBlock, s.lastBlock] : undefined });
      const out = roomPlan.leftOut.find((l) => l.phoneId === p.id);
      if (out)
        this.update({
          kind: 'state',
          id: p.id,
          state: 'idle',
          detail: `left out of this plan: ${out.reason}`,
        });
    }
    this.setStatus(`loading blocks (${roomPlan.planner})…`);
    for (const [k, a] of assignments(manifest, plan, model.base).entries()) {
      const phoneId = plan.stages[k]!.phoneId;
      const profile = this.surveyed?.profiles.get(phoneId);
      // The leader's own device is SELF in the plan; other phones reach it by its peer id. Each phase
      // runs where the profile this plan was priced with says.
      const assignment = {
        ...a,
        ...(a.nextPeer === SELF ? { nextPeer: this.id } : {}),
        ...(profile ? { phases: { decode: profile.decodeOn, prefill: profile.prefillOn } } : {}),
      };
      this.startedLoading.delete(phoneId);
      this.sendTo(phoneId, { kind: 'assign', assignment });
    }
    await this.until(() => {
      const states = plan.stages.map((s) => this.phones.find((p) => p.id === s.phoneId));
      const bad = states.find(
        (p) => !p || p.state === 'left' || (p.state === 'error' && this.startedLoading.has(p.id)),
      );
      if (bad) throw new Error(`${bad?.name} could not load its blocks: ${bad?.detail ?? bad?.state}`);
      return states.every((p) => p?.state === 'ready' && this.startedLoading.has(p.id));
    });
    if (!(await this.warmUp())) throw new Error('the pipeline did not answer its warm-up request');
  }

  /**
   * One throwaway request through the whole pipeline: the runtime's first run of a session costs
   * 100–300 ms and a fresh data channel stalls on its first transfer; neither should land on the
   * user's first token. Its later steps are the first measurement of the plan as it runs.
   */
  private async warmUp(): Promise<boolean> {
    const params = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, maxNewTokens: 24 };
    try {
      const r = await this.driver!.generate(
        { ids: [0, 0, 0, 0, 0, 0, 0, 0] },
        params,
        randomToken(6),
        () => {},
      );
      this.learn(r, true);
      this.lastRunPlan = null;
      return true;
    } catch (e) {
      this.opts.log(`warm-up failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /**
   * Folds a finished generation's timings into what the room knows, and restates the plan's
   * predictions with it. Every answer is a measurement: a phone that slows down shows here first.
   */
  private learn(r: Pick<GenerationOutput, 'stepMs' | 'stageTimesMs' | 'residentMs'>, warmUp = false): void {
    const rp = this.roomPlan;
    if (!rp) return;
    try {
      // A measured plan that could not be priced (a phone left) has nothing sound to compare against.
      const priced = !this.surveyed || rp.surveyLinkMs !== null;
      if (!this.learning.observe(rp, r, SELF, { warmUp, priced }) || !this.model) return;
      const phones = activePhones(this.phones);
      this.roomPlan = {
        ...rp,
        ...pricePlan(this.model.manifest, phones, this.surveyed, SELF, rp.plan, this.learning.learned),
      };
    } catch (e) {
      // Learning is a bonus: it must never turn a finished answer into a failure.
      this.opts.log(`could not learn from this answer: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (done()) return resolve();
          this.waiters.push(check);
        } catch (e) {
          reject(e);
        }
      };
      check();
    });
  }

  generate(
    input: { text: string } | { ids: number[] },
    params: SamplingParams,
    onToken: (text: string, ids: readonly number[]) => void,
  ): Promise<GenerationOutput> {
    if (!this.driver) return Promise.reject(new Error('load a model first'));
    const driver = this.driver;
    const before = this.roomPlan;
    return driver.generate(input, params, randomToken(6), onToken).then((r) => {
      // The plan's predictions as they stood before this run: what the run is judged against.
      this.lastRunPlan = before;
      if (this.driver === driver) this.learn(r);
      return r;
    });
  }

  /** Round-trip times to each phone of the room (ms), `count` pings each, one after another. */
  async measureRtts(count = 20): Promise<Record<string, number[]>> {
    const out: Record<string, number[]> = {};
    for (const [id, link] of this.deviceLinks) {
      if (id === SELF) continue;
      out[id] = [];
      for (let i = 0; i < count; i++) out[id].push(await this.ping(link));
    }
    return out;
  }

  stop(): void {
    this.driver?.stop();
  }
}
