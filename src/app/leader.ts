/**
 * The leader: the tab that made the room. A thin facade over the parts that do the work — membership
 * (the secret handshake, links), one router (who may send what), the roster, the room's plans
 * (room/room-plans.ts: survey, plan, transition, warm-up, learning) and the pipeline driver (answers).
 * Its own device runs a stage too, reached through a loopback link like any other phone.
 */
import type { Manifest } from '../core/graph/manifest';
import type { PlacementObjective, PlacementProblem, PlacementResult } from '../core/placement/types';
import type { Link, StageBackend } from '../core/ports';
import type { AskInput, DeviceCaps, Message, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import type { StagePlan } from '../core/room/plan';
import type { Sender } from '../core/room/routes';
import { PeerBlockServer } from './delivery/peer-blocks';
import { loopbackPair } from './loopback-link';
import type { ModelChoice, OpenedModel } from './model-source';
import type { OpenPeer } from './net/peer-port';
import type { GenerationOutput } from './pipeline-driver';
import { answerCap } from './room/answer-cap';
import { type AnswerSink, Answers, collected, linkSink } from './room/answers';
import { Heartbeat } from './room/heartbeat';
import { Membership } from './room/membership';
import { Pinger } from './room/pinger';
import { type RoomEvent, RoomPlans } from './room/room-plans';
import { RosterKeeper } from './room/roster-keeper';
import { Router } from './room/router';
import type { RoomLearning } from './room-learning';
import type { Planner, RoomPlan } from './room-planner';
import { StageHost, type StageHostDeps } from './stage-host';

export type { GenerationOutput };

export const LEADER_PEER_PREFIX = 'chorus-';
/** The leader's own device in plans and rosters. */
export const SELF = 'leader';

export function randomToken(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b]
    .map((x) => x.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, bytes * 2);
}

/** What every tab of a room needs, leader or member. */
export interface RoomTabOptions extends Omit<StageHostDeps, 'leader' | 'linkTo'> {
  readonly openPeer: OpenPeer;
  readonly name: string;
  readonly caps: DeviceCaps;
  readonly backend: StageBackend;
}

export interface LeaderOptions extends RoomTabOptions {
  /** Solves placement problems (HiGHS in a worker, in the browser). */
  readonly solve: (problem: PlacementProblem) => Promise<PlacementResult>;
  /** How long a phone may stay silent while it loads a plan's blocks. */
  readonly loadIdleTimeoutMs?: number;
  /** Re-plan mid-answer when a phone slows down for good (default on). Faults re-plan regardless. */
  readonly balance?: boolean;
  /** At most this many answers at once (the plan's memory may allow fewer). */
  readonly maxInFlight?: number;
}

export class Leader {
  readonly stage: StageHost;
  readonly router: Router;
  private readonly membership: Membership;
  private readonly roster: RosterKeeper;
  private readonly plans: RoomPlans;
  private readonly pinger = new Pinger();
  private readonly deviceLinks = new Map<string, Link>();
  private readonly blockServer = new PeerBlockServer((file) => this.plans.model?.files?.get(file));
  private joined = 0;
  private readonly heartbeat: Heartbeat;
  /** Every phone's questions, the leader's own included. */
  private readonly answers: Answers;
  private readonly userCap: number | undefined;
  /** Errors stages reported, latest last (bounded). */
  readonly stageErrors: string[] = [];

  private constructor(
    port: Awaited<ReturnType<OpenPeer>>,
    private readonly opts: LeaderOptions,
    readonly roomId: string,
    readonly secret: string,
    onChange: () => void,
  ) {
    const log = opts.log;
    this.roster = new RosterKeeper(
      (m) => {
        for (const [id, link] of this.deviceLinks) if (id !== SELF) link.send(m);
      },
      () => this.plans.roomPlan?.plan.id ?? null,
      onChange,
    );
    this.membership = new Membership(
      port,
      { secret, name: opts.name, caps: opts.caps, log },
      {
        greeted: (link) => this.greeted(link),
        deliver: (m, from) => {
          this.heartbeat.seen(from.remoteId);
          this.router.deliver(m, from, this.senderOf(from.remoteId));
        },
        closed: (link) => this.closed(link),
      },
    );
    const [toSelf, fromLeader] = loopbackPair(SELF, SELF);
    this.stage = new StageHost({ ...opts, leader: fromLeader, linkTo: (id) => this.membership.linkTo(id) });
    this.deviceLinks.set(SELF, toSelf);
    this.plans = new RoomPlans({
      ...opts,
      selfPeerId: port.id,
      send: (id, m) => this.sendTo(id, m),
      ping: (id, bytes) => this.pinger.ping(this.deviceLinks.get(id)!, 10_000, bytes),
      phones: () => this.roster.phones,
      update: (e) => this.roster.update(e),
      status: () => onChange(),
    });
    this.plans.balancer.enabled = opts.balance !== false;
    this.userCap = opts.maxInFlight;
    this.answers = new Answers({
      run: (input, params, requestId, onToken) => this.plans.runs.generate(input, params, onToken, requestId),
      stop: (requestId) => this.plans.driver?.stop(requestId),
      log,
    });
    this.router = new Router('leader', log)
      .use(this.pinger.handlers)
      .use(this.stage.handlers)
      .use({ 'block-request': (m, from) => void this.blockServer.handle(m, from) })
      .use({
        state: (m, from) => {
          this.plans.onState(from.remoteId, m);
          // Its first state says its stage is wired up: only now can it take a measure or an assign.
          if (this.arriving.delete(from.remoteId)) this.plans.phoneJoined(from.remoteId);
        },
        profile: (m, from) => this.plans.onProfile(from.remoteId, m.profile),
        prefetched: (m, from) => this.plans.onPrefetched(from.remoteId, m),
        ask: (m, from) => {
          this.refreshCap();
          this.answers.ask(from.remoteId, m.requestId, m.input, m.params, linkSink(from, m.requestId));
        },
        cancel: (m, from) => this.answers.cancel(from.remoteId, m.requestId),
        logits: (m) => this.plans.driver?.logits(m),
        error: (m, from) => {
          log(`error from ${from.remoteId}: ${m.message}`);
          this.stageErrors.push(m.message);
          if (this.stageErrors.length > 50) this.stageErrors.shift();
          this.plans.driver?.failed(m.message, m.requestId);
        },
      });
    // The own stage takes the leader's control messages; the leader hears its stage like any phone's.
    const leaderSender: Sender = { isLeader: true, isPredecessor: false, isLastStage: false };
    fromLeader.onMessage((m) => this.router.deliver(m, fromLeader, leaderSender));
    toSelf.onMessage((m) => this.router.deliver(m, toSelf, this.senderOf(SELF)));
    this.heartbeat = new Heartbeat({
      watched: () => {
        // While any phone measures itself or loads (or reads ahead) blocks, no one is judged: on a few
        // shared cores (and on a phone running hot) one page's spinning calibration threads or block
        // reads starve the others' main threads for a second or more. A closing tab is still noticed
        // at once.
        const phones = this.roster.phones;
        if (this.plans.readingAhead) return [];
        if (phones.some((p) => p.state === 'loading' || this.plans.measuring(p.id))) return [];
        return (this.plans.roomPlan?.plan.stages ?? [])
          .map((s) => s.phoneId)
          .filter((id) => id !== SELF && /^(ready|busy)$/.test(phones.find((p) => p.id === id)?.state ?? ''));
      },
      everyone: () => [...this.deviceLinks.keys()].filter((id) => id !== SELF),
      answering: () => !this.plans.runs.warmingUp && (this.plans.driver?.inFlight ?? 0) > 0,
      ping: (id) => this.deviceLinks.get(id)?.send({ kind: 'ping', nonce: 0, sentAt: performance.now() }),
      dead: (id, silentMs) => {
        log(`${this.roster.nameOf(id)} has not answered for ${Math.round(silentMs)} ms: treating it as gone`);
        this.deviceLinks.get(id)?.close();
      },
    });
    this.roster.update({ kind: 'joined', id: SELF, name: opts.name });
    this.roster.update({ kind: 'state', id: SELF, state: 'idle', detail: 'in the room, no blocks yet' });
  }

  /** Phones greeted whose stage has not said it is ready for work yet. */
  private readonly arriving = new Set<string>();

  /** After a phone leaves, the others get this long before silence counts against them. */
  static readonly PARDON_AFTER_LEAVE_MS = 3000;

  static async create(opts: LeaderOptions, onChange: () => void): Promise<Leader> {
    const roomId = randomToken(6);
    const port = await opts.openPeer(`${LEADER_PEER_PREFIX}${roomId}`);
    return new Leader(port, opts, roomId, randomToken(12), onChange);
  }

  /** How the routing table sees a message from `id` (SELF: the leader's own stage). */
  private senderOf(id: string): Sender {
    const stageId = id === this.membership.id ? SELF : id;
    return {
      isLeader: false,
      isPredecessor: id !== SELF && id === this.stage.prevPeer,
      isLastStage: stageId === this.plans.driver?.lastStagePhone,
    };
  }

  get id(): string {
    return this.membership.id;
  }
  get phones(): PhoneInfo[] {
    return this.roster.phones;
  }
  get roomPlan(): RoomPlan | null {
    return this.plans.roomPlan;
  }
  get lastRunPlan(): RoomPlan | null {
    return this.plans.runs.lastRunPlan;
  }
  get manifest(): Manifest | null {
    return this.plans.model?.manifest ?? null;
  }
  get model(): OpenedModel | null {
    return this.plans.model;
  }
  get status(): string {
    return this.plans.status;
  }
  get learning(): RoomLearning {
    return this.plans.learning;
  }
  get planner(): Planner {
    return this.plans.planner;
  }
  set planner(p: Planner) {
    this.plans.planner = p;
  }
  /** Whether every phone of the room is measured. */
  get measured(): boolean {
    return this.plans.measured;
  }
  /** Tokens the answer in flight has so far. */
  get tokensOut(): number {
    return this.plans.driver?.tokensOut ?? 0;
  }
  /** What the room plans for now: the fastest token (one answer) or the most tokens/s (many). */
  get objective(): PlacementObjective {
    return this.plans.load.objective;
  }

  /** Resolves once the re-plans the load asked for so far are done. */
  loadSettled(): Promise<void> {
    return this.plans.load.settled();
  }

  /** Re-plans and faults so far, in order. */
  get history(): readonly RoomEvent[] {
    return this.plans.history;
  }
  get rejectedFrames(): number {
    return this.membership.rejectedFrames;
  }

  private sendTo(phoneId: string, m: Message): boolean {
    const link = this.deviceLinks.get(phoneId);
    link?.send(m);
    return !!link;
  }

  private greeted(link: Link): void {
    link.send({ kind: 'welcome', roomId: this.roomId, phoneId: link.remoteId });
    // A second link from a phone already here (a pipeline link) is not a new phone.
    if (this.deviceLinks.has(link.remoteId)) return;
    this.deviceLinks.set(link.remoteId, link);
    // A phone that comes back (its identity is kept in its browser) keeps its name.
    const known = this.roster.phones.find((p) => p.id === link.remoteId);
    this.roster.update({ kind: 'joined', id: link.remoteId, name: known?.name ?? `Phone ${++this.joined}` });
    const idle = {
      kind: 'state',
      id: link.remoteId,
      state: 'idle',
      detail: 'in the room, no blocks yet',
    } as const;
    this.roster.update(idle);
    this.arriving.add(link.remoteId);
  }

  private closed(link: Link): void {
    if (this.deviceLinks.get(link.remoteId) !== link) return;
    this.deviceLinks.delete(link.remoteId);
    this.heartbeat.forget(link.remoteId);
    this.arriving.delete(link.remoteId);
    this.heartbeat.pardon(Leader.PARDON_AFTER_LEAVE_MS);
    this.roster.update({ kind: 'left', id: link.remoteId });
    this.answers.phoneLeft(link.remoteId, this.roster.nameOf(link.remoteId));
    this.plans.phoneLeft(link.remoteId, this.roster.nameOf(link.remoteId));
  }

  loadModel(choice: ModelChoice): Promise<RoomPlan> {
    return this.plans.loadModel(choice);
  }

  /**
   * Moves the room to these stages now, mid-answer if one is running: answers pause at their next token
   * boundary, moved stages rebuild their caches, and they go on token-identical.
   */
  moveTo(stages: readonly StagePlan[], reason = 'asked'): Promise<RoomPlan> {
    return this.plans.moveTo(stages, reason);
  }

  /** The leader's own question, queued like any phone's: `sink` hears how it goes. */
  ask(requestId: string, input: AskInput, params: SamplingParams, sink: AnswerSink): void {
    this.refreshCap();
    this.answers.ask(SELF, requestId, input, params, sink);
  }

  /**
   * The leader's own question as a promise of the full run (the page's plan view, tests): rejects with
   * the reason when it fails or is refused. `onToken` gets the text so far and the ids so far.
   */
  generate(
    input: AskInput,
    params: SamplingParams,
    onToken: (text: string, ids: readonly number[]) => void = () => {},
    requestId = `own-${randomToken(4)}`,
  ): Promise<GenerationOutput> {
    return collected((sink) => this.ask(requestId, input, params, sink), onToken);
  }

  cancel(requestId: string): void {
    this.answers.cancel(SELF, requestId);
  }

  /** How many answers may run at once now, and answers running or waiting. */
  get admission(): { maxInFlight: number; inFlight: number } {
    this.refreshCap();
    return { maxInFlight: this.answers.maxInFlight, inFlight: this.answers.inFlight };
  }

  /** The cap follows the plan in use (a re-plan moves blocks and so memory). */
  private refreshCap(): void {
    const manifest = this.manifest;
    const plan = this.plans.roomPlan?.plan;
    if (!manifest || !plan) return;
    const cap = answerCap(manifest, plan, this.plans.budgets(), (id) => this.roster.nameOf(id), this.userCap);
    if (cap.maxInFlight !== this.answers.maxInFlight) {
      this.opts.log(`answers at once: ${cap.maxInFlight} (${cap.why})`);
      this.answers.setMaxInFlight(cap.maxInFlight);
    }
  }

  /** Ms to send `bytes` to a phone and hear back (what moving that much state over its link costs). */
  probe(phoneId: string, bytes: number): Promise<number> {
    const link = this.deviceLinks.get(phoneId);
    if (!link || phoneId === SELF) return Promise.reject(new Error(`no link to phone ${phoneId}`));
    return this.pinger.ping(link, 30_000, bytes);
  }

  /** Round-trip times to each phone of the room (ms), `count` pings each, one after another. */
  async measureRtts(count = 20): Promise<Record<string, number[]>> {
    const out: Record<string, number[]> = {};
    for (const [id, link] of this.deviceLinks) {
      if (id === SELF) continue;
      out[id] = [];
      for (let i = 0; i < count; i++) out[id].push(await this.pinger.ping(link));
    }
    return out;
  }

  /** A link to a phone of the room: the one it joined on, or a new one (tests send on it). */
  async linkTo(phoneId: string): Promise<Link> {
    return this.deviceLinks.get(phoneId) ?? this.membership.linkTo(phoneId);
  }

  /** Ends the room (End room, or the tab closing): every answer stops, every link closes. */
  destroy(): void {
    this.answers.stopAll();
    this.heartbeat.stop();
    this.plans.load.stop();
    this.membership.destroy();
  }
}
