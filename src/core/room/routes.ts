/**
 * Who may send what to whom. Every message a greeted peer sends passes this table before anything runs
 * it: control (assign, prefetch, measure, unload, release, roster, blocks) only from the leader; a step's
 * activations only from the leader or the stage just before this one in the current plan; logits only
 * from the plan's last stage, to the leader. Anything else is refused and logged, never executed — so a
 * phone cannot make another phone load, measure, or run a step out of turn.
 */
import type { MessageKind } from '../protocol/messages';

/** The tab receiving: the room's leader (its own stage included) or a member phone. */
export type Role = 'leader' | 'member';

/** What the receiver knows about the sender of one message. */
export interface Sender {
  /** The room's leader (for the leader's own stage: the leader tab itself, over its loopback). */
  readonly isLeader: boolean;
  /** The stage just before the receiving phone's stage in its current plan. */
  readonly isPredecessor: boolean;
  /** The last stage of the leader's current plan (checked on the leader only). */
  readonly isLastStage: boolean;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: Verdict = { ok: true };
const refuse = (reason: string): Verdict => ({ ok: false, reason });

/** The pure routing table, one entry per kind: the switch is exhaustive, so a new kind must be placed. */
export function route(kind: MessageKind, me: Role, from: Sender): Verdict {
  switch (kind) {
    case 'hello':
    case 'welcome':
    case 'refused':
      return refuse('handshake messages are only valid before the handshake');
    case 'ping':
    case 'pong':
    case 'probe':
      return OK; // link measurements: any room member, answered by the link layer
    case 'roster':
      return me === 'member' && from.isLeader ? OK : refuse('only the leader sends the roster');
    case 'assign':
    case 'prefetch':
    case 'measure':
    case 'unload':
    case 'release':
    case 'block-chunk':
    case 'block-error':
      return from.isLeader ? OK : refuse(`only the leader sends ${kind}`);
    case 'activations':
      return from.isLeader || from.isPredecessor
        ? OK
        : refuse('activations come only from the previous stage of the current plan');
    case 'logits':
      if (me !== 'leader') return refuse('logits go to the leader');
      return from.isLastStage ? OK : refuse('logits come only from the last stage of the current plan');
    case 'ask':
    case 'cancel':
      return me === 'leader' ? OK : refuse(`${kind} goes to the leader`);
    case 'answer-state':
    case 'answer-text':
    case 'answer-end':
      return me === 'member' && from.isLeader ? OK : refuse('only the leader answers');
    case 'state':
    case 'prefetched':
    case 'profile':
    case 'error':
    case 'block-request':
      return me === 'leader' ? OK : refuse(`${kind} goes to the leader`);
    default: {
      const unplaced: never = kind;
      return refuse(`unknown kind ${String(unplaced)}`);
    }
  }
}
