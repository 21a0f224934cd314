/**
 * The leader: the tab that made the room. It admits phones that know the room secret, keeps the roster,
 * opens a model (served, from the hub, or from its own disk), surveys the phones, plans which phone runs
 * which blocks, serves blocks it holds, and drives generation. Its own device runs a stage too, reached
 * through a loopback link like any other phone.
 */
import { layerShapeOf } from '../core/cost/calibration-model';
import type { Manifest } from '../core/graph/manifest';
import type { PlacementProblem, PlacementResult } from '../core/placement/types';
import type { Link } from '../core/ports';
import type { Message, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import { assignments } from '../core/room/plan';
import { activePhones, applyRosterEvent, type RosterEvent } from '../core/room/roster';
import { measuredStageMs } from '../core/room/stage-times';
import { PeerBlockServer } from './delivery/peer-blocks';
import { loopbackPair } from './loopback-link';
import { type ModelChoice, type OpenedModel, openModel } from './model-source';
import { type GenerationOutput, PipelineDriver } from './pipeline-driver';
import { RoomNode, type RoomNodeOptions } from './room-node';
import { correctedPlan, type Planner, planRoom, type RoomPlan } from './room-planner';
import { RoomSurvey } from './room-survey';

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
  model: OpenedModel | null = null;
  planner: Planner = 'solved';
  status = '';
  private driver: PipelineDriver | null = null;
  private readonly deviceLinks = new Map<string, Link>();
  private readonly waiters: (() => void)[] = [];
  private readonly survey: RoomSurvey;
  private readonly blockServer = new PeerBlockServer((file) => this.model?.files?.get(file));
  private joined = 0;
  /** Per phone: measured ÷ kernel-predicted stage time, learnt from the runs it took part in. */
  private readonly corrections = new Map<string, number>();

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
        const p = m.profile;
        const slower = p.slowdown > 1 ? `, emulated ${p.slowdown}× slower` : '';
        const summary = `${p.backend}: kernel ${p.decodeMs.toFixed(1)} ms/token, ${(p.memoryBudgetBytes / 2 ** 20).toFixed(0)} MB for the model${slower}`;
        this.update({ kind: 'measured', id, summary });
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

  /** Opens a model, surveys the phones, plans, has each phone load its stage, warms the pipeline up. */
  async loadModel(choice: ModelChoice): Promise<RoomPlan> {
    this.setStatus('opening the model…');
    const model = await openModel(choice, (line) => this.setStatus(line));
    this.model = model;
    const manifest = model.manifest;
    const phones = activePhones(this.phones);
    const shape = layerShapeOf(manifest.config);
    let surveyed = null;
    if (shape && this.planner === 'solved') {
      this.setStatus('measuring the phones and their links…');
      const remote = phones.map((p) => p.id).filter((id) => id !== SELF);
      surveyed = await this.survey.survey(
        phones.map((p) => p.id),
        remote,
        shape,
      );
    }
    this.setStatus('planning…');
    const roomPlan = await planRoom(
      manifest,
      phones,
      surveyed,
      SELF,
      this.planner,
      this.leaderOpts.solve,
      randomToken(4),
      this.corrections,
    );
    this.roomPlan = roomPlan;
    const plan = roomPlan.plan;
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
      // The leader's own device is SELF in the plan; other phones reach it by its peer id.
      const assignment = a.nextPeer === SELF ? { ...a, nextPeer: this.id } : a;
      this.sendTo(plan.stages[k]!.phoneId, { kind: 'assign', assignment });
    }
    await this.until(() => {
      const states = plan.stages.map((s) => this.phones.find((p) => p.id === s.phoneId));
      const bad = states.find((p) => !p || p.state === 'error' || p.state === 'left');
      if (bad) throw new Error(`${bad.name} could not load its blocks: ${bad.detail ?? bad.state}`);
      return states.every((p) => p?.state === 'ready');
    });
    await this.warmUp();
    this.setStatus(`${model.description}: ready (${roomPlan.planner})`);
    return roomPlan;
  }

  /**
   * One throwaway request through the whole pipeline: the runtime's first run of a session costs
   * 100–300 ms and a fresh data channel stalls on its first transfer; neither should land on the
   * user's first token.
   */
  private async warmUp(): Promise<void> {
    const params = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, maxNewTokens: 12 };
    try {
      const r = await this.generate({ ids: [0, 0, 0, 0, 0, 0, 0, 0] }, params, () => {});
      // Its stage times are the first real measurement of each phone running its own blocks.
      const measured = measuredStageMs({ stageTimesMs: r.stageTimesMs.slice(2) });
      if (this.roomPlan && measured) this.roomPlan = correctedPlan(this.roomPlan, measured, this.corrections);
    } catch (e) {
      this.opts.log(`warm-up failed: ${e instanceof Error ? e.message : String(e)}`);
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
    return this.driver.generate(input, params, randomToken(6), onToken);
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
