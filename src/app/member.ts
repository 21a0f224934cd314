/**
 * A phone that joined a room by its link: it greets the leader with the room secret, shows the roster
 * the leader sends, and runs whatever stage it is assigned.
 */
import type { Link } from '../core/ports';
import type { Message, PhoneInfo } from '../core/protocol/messages';
import { LEADER_PEER_PREFIX } from './leader';
import { RoomNode, type RoomNodeOptions } from './room-node';

export class Member extends RoomNode {
  phones: PhoneInfo[] = [];
  refusedReason: string | null = null;
  leaderGone = false;

  private constructor(
    node: Awaited<ReturnType<typeof RoomNode.openNode>>,
    opts: RoomNodeOptions,
    private readonly leader: Link,
    private readonly onChange: () => void,
  ) {
    super(node, opts, leader);
    this.watch(leader);
    // A stage whose next stage is the leader's own device sends on this same link.
    this.links.set(leader.remoteId, leader);
  }

  /** Joins room `roomId`; rejects with the leader's reason if the secret is wrong. */
  static async join(
    roomId: string,
    opts: Omit<RoomNodeOptions, 'peerId'>,
    onChange: () => void,
  ): Promise<Member> {
    const node = await RoomNode.openNode(opts);
    let member: Member | null = null;
    const leaderLink = await node.connect(`${LEADER_PEER_PREFIX}${roomId}`).catch((e: Error) => {
      node.destroy();
      throw new Error(`no room ${roomId} here: is the leader's tab still open? (${e.message})`);
    });
    const welcomed = new Promise<void>((resolve, reject) => {
      leaderLink.onMessage((m) => {
        if (m.kind === 'welcome') resolve();
        else if (m.kind === 'refused') reject(new Error(`the room refused this phone: ${m.reason}`));
        else member?.fromLeader(m);
      });
      leaderLink.onClose(() => {
        reject(new Error('the leader closed the connection'));
        if (member) {
          member.leaderGone = true;
          onChange();
        }
      });
    });
    member = new Member(node, opts, leaderLink, onChange);
    leaderLink.send({ kind: 'hello', name: opts.name, secret: opts.secret, caps: opts.caps });
    try {
      await welcomed;
    } catch (e) {
      member.destroy();
      throw e;
    }
    return member;
  }

  private fromLeader(m: Message): void {
    if (this.handleLinkMessage(m, this.leader) || this.stage.handle(m)) return;
    if (m.kind === 'roster') {
      this.phones = m.phones;
      this.onChange();
    }
  }

  protected greeted(link: Link): void {
    link.send({ kind: 'welcome', roomId: '', phoneId: link.remoteId });
  }

  protected dispatch(m: Message, from: Link): void {
    if (!this.stage.handle(m)) this.opts.log(`ignored ${m.kind} from ${from.remoteId}`);
  }

  protected closed(): void {
    this.onChange();
  }
}
