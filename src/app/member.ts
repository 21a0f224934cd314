/**
 * A phone that joined a room by its link: a thin facade over membership (it greets the leader with the
 * room secret), one router (only the leader's control messages and the previous stage's activations run
 * here), and the stage it is assigned. It shows the roster the leader sends.
 */
import type { Link } from '../core/ports';
import type { AskInput, PhoneInfo, SamplingParams } from '../core/protocol/messages';
import type { Sender } from '../core/room/routes';
import { LEADER_PEER_PREFIX, type RoomTabOptions } from './leader';
import { type AnswerSink, NO_ANSWER } from './room/answers';
import { Membership } from './room/membership';
import { Pinger } from './room/pinger';
import { Router } from './room/router';
import { StageHost } from './stage-host';

export interface MemberOptions extends RoomTabOptions {
  readonly secret: string;
}

export class Member {
  phones: PhoneInfo[] = [];
  leaderGone = false;
  readonly router: Router;
  private stageHost: StageHost | null = null;
  /** When the leader was last heard from: it pings every phone twice a second. */
  private leaderSeen = performance.now();
  private readonly watchdog: ReturnType<typeof setInterval>;
  /**
   * Silence from the leader this long means its tab is frozen or gone without a goodbye (a closing tab
   * closes its links at once, and its channel may take far longer to close by itself). Long enough for a
   * leader busy timing itself on a phone whose cores are all taken (2 s silences are seen here).
   */
  static readonly LEADER_TIMEOUT_MS = 15_000;
  /**
   * While phones load or measure, the leader's tab may be busy for longer (it loads its own stage on its
   * main thread: a large block merges for seconds on a slow phone). A closing tab still says goodbye at
   * once (its links close); only a frozen one takes this long to be noticed.
   */
  static readonly LEADER_TIMEOUT_LOADING_MS = 30_000;

  private roomIsLoading(): boolean {
    return this.phones.some((p) => p.state === 'loading' || p.state === 'measuring');
  }

  private constructor(
    private readonly membership: Membership,
    private readonly leaderId: string,
    private readonly onChange: () => void,
    log: (line: string) => void,
  ) {
    let lastTick = performance.now();
    this.watchdog = setInterval(() => {
      const now = performance.now();
      // A late tick means this tab was stalled: the leader's messages may be queued behind it, unread.
      if (now - lastTick > 3000) this.leaderSeen = now;
      lastTick = now;
      const timeout = this.roomIsLoading() ? Member.LEADER_TIMEOUT_LOADING_MS : Member.LEADER_TIMEOUT_MS;
      if (this.leaderGone || now - this.leaderSeen < timeout) return;
      log(`the leader has not been heard from for ${Math.round(timeout / 1000)} s: the room is over`);
      this.membership.link(leaderId)?.close();
      this.leaderIsGone();
    }, 1000);
    this.router = new Router('member', log).use(new Pinger().handlers).use({
      roster: (m) => {
        this.phones = m.phones;
        onChange();
      },
      'answer-state': (m) => this.asked.get(m.requestId)?.state(m.state, m.position),
      'answer-text': (m) => this.asked.get(m.requestId)?.text(m.text, m.ids),
      'answer-end': ({ kind: _, requestId, ...summary }) => {
        const sink = this.asked.get(requestId);
        this.asked.delete(requestId);
        sink?.end(summary);
      },
    });
  }

  /** Joins room `roomId`; rejects with the leader's reason if the secret is wrong. */
  static async join(roomId: string, opts: MemberOptions, onChange: () => void): Promise<Member> {
    const port = await opts.openPeer();
    const leaderId = `${LEADER_PEER_PREFIX}${roomId}`;
    let member: Member | null = null;
    const membership = new Membership(
      port,
      { secret: opts.secret, name: opts.name, caps: opts.caps, log: opts.log },
      {
        // Another phone's pipeline link: welcome it; the router decides what it may send.
        greeted: (link) => link.send({ kind: 'welcome', roomId, phoneId: link.remoteId }),
        deliver: (m, from) => {
          if (!member) return;
          if (from.remoteId === leaderId) member.leaderSeen = performance.now();
          member.router.deliver(m, from, member.senderOf(from));
        },
        closed: (link) => member?.closed(link),
      },
    );
    member = new Member(membership, leaderId, onChange, opts.log);
    let leader: Link;
    try {
      leader = await membership.linkTo(leaderId);
    } catch (e) {
      member.destroy();
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(
        why.includes('secret')
          ? `the room refused this phone: ${why}`
          : `no room ${roomId} here: is the leader's tab still open? (${why})`,
      );
    }
    const stage = new StageHost({ ...opts, leader, linkTo: (id) => membership.linkTo(id) });
    member.stageHost = stage;
    member.router.use(stage.handlers);
    // Messages the leader sends from now on reach the stage: say so (a rejoining phone is measured
    // and assigned at once, and a measure that arrived before the stage was wired would be lost).
    stage.announce();
    return member;
  }

  get stage(): StageHost {
    return this.stageHost!;
  }

  get id(): string {
    return this.membership.id;
  }

  get rejectedFrames(): number {
    return this.membership.rejectedFrames;
  }

  /** A link to another phone of the room (tests send on it to check what phones refuse). */
  linkTo(peerId: string): Promise<Link> {
    return this.membership.linkTo(peerId);
  }

  private senderOf(from: Link): Sender {
    return {
      isLeader: from.remoteId === this.leaderId,
      isPredecessor: from.remoteId === this.stageHost?.prevPeer,
      isLastStage: false,
    };
  }

  private closed(link: Link): void {
    if (link.remoteId === this.leaderId) this.leaderIsGone();
    else this.onChange();
  }

  /** Answers this phone asked for, by its own request id, until they end. */
  private readonly asked = new Map<string, AnswerSink>();

  /** Asks the room's leader; only this phone hears the answer. */
  ask(requestId: string, input: AskInput, params: SamplingParams, sink: AnswerSink): void {
    const leader = this.membership.link(this.leaderId);
    if (this.leaderGone || !leader) {
      sink.end({ ...NO_ANSWER, message: 'the leader has left; this room is over' });
      return;
    }
    if (this.asked.has(requestId)) throw new Error(`answer ${requestId} was asked already`);
    this.asked.set(requestId, sink);
    leader.send({ kind: 'ask', requestId, input, params });
  }

  cancel(requestId: string): void {
    if (this.asked.has(requestId)) this.membership.link(this.leaderId)?.send({ kind: 'cancel', requestId });
  }

  private leaderIsGone(): void {
    this.leaderGone = true;
    for (const sink of this.asked.values())
      sink.end({ ...NO_ANSWER, message: 'the leader has left mid-answer; this room is over' });
    this.asked.clear();
    this.onChange();
  }

  destroy(): void {
    clearInterval(this.watchdog);
    this.membership.destroy();
  }
}
