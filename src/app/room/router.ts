/**
 * The tab's one router: every message a greeted peer (or the tab's own loopback) delivers passes the pure
 * routing table (core/room/routes.ts) and then one exhaustive switch on `kind` to the part that handles
 * it. What the table refuses, or what no part of this tab handles, is logged and counted, never run.
 */
import type { Link } from '../../core/ports';
import type { Message, MessageKind, MessageOf } from '../../core/protocol/messages';
import { type Role, route, type Sender } from '../../core/room/routes';

/** A handler per kind; a tab provides those its parts handle (a member has no `state` handler, say). */
export type Handlers = { readonly [K in MessageKind]?: (m: MessageOf<K>, from: Link) => void };

export interface Refusal {
  readonly kind: MessageKind;
  readonly from: string;
  readonly reason: string;
}

export class Router {
  private readonly parts: Handlers[] = [];
  /** The latest refusals (bounded), for the debug surface and tests. */
  readonly refusals: Refusal[] = [];

  constructor(
    private readonly role: Role,
    private readonly log: (line: string) => void,
  ) {}

  /** Adds a part's handlers; a kind handled by two parts is a wiring mistake, caught here. */
  use(handlers: Handlers): this {
    for (const kind of Object.keys(handlers) as MessageKind[]) {
      if (this.parts.some((p) => p[kind])) throw new Error(`two handlers for ${kind}`);
    }
    this.parts.push(handlers);
    return this;
  }

  private handler<K extends MessageKind>(kind: K): Handlers[K] {
    for (const p of this.parts) if (p[kind]) return p[kind];
    return undefined;
  }

  deliver(m: Message, from: Link, sender: Sender): void {
    const verdict = route(m.kind, this.role, sender);
    if (!verdict.ok) this.refuse(m.kind, from.remoteId, verdict.reason);
    else if (!this.dispatch(m, from))
      this.refuse(m.kind, from.remoteId, `this ${this.role} tab does not take ${m.kind}`);
  }

  /** False when no part handles the kind. */
  private dispatch(m: Message, from: Link): boolean {
    switch (m.kind) {
      case 'hello':
        return call(this.handler('hello'), m, from);
      case 'welcome':
        return call(this.handler('welcome'), m, from);
      case 'refused':
        return call(this.handler('refused'), m, from);
      case 'roster':
        return call(this.handler('roster'), m, from);
      case 'state':
        return call(this.handler('state'), m, from);
      case 'assign':
        return call(this.handler('assign'), m, from);
      case 'unload':
        return call(this.handler('unload'), m, from);
      case 'prefetch':
        return call(this.handler('prefetch'), m, from);
      case 'prefetched':
        return call(this.handler('prefetched'), m, from);
      case 'activations':
        return call(this.handler('activations'), m, from);
      case 'logits':
        return call(this.handler('logits'), m, from);
      case 'release':
        return call(this.handler('release'), m, from);
      case 'error':
        return call(this.handler('error'), m, from);
      case 'ping':
        return call(this.handler('ping'), m, from);
      case 'pong':
        return call(this.handler('pong'), m, from);
      case 'block-request':
        return call(this.handler('block-request'), m, from);
      case 'block-chunk':
        return call(this.handler('block-chunk'), m, from);
      case 'block-error':
        return call(this.handler('block-error'), m, from);
      case 'measure':
        return call(this.handler('measure'), m, from);
      case 'profile':
        return call(this.handler('profile'), m, from);
      case 'probe':
        return call(this.handler('probe'), m, from);
      case 'ask':
        return call(this.handler('ask'), m, from);
      case 'cancel':
        return call(this.handler('cancel'), m, from);
      case 'answer-state':
        return call(this.handler('answer-state'), m, from);
      case 'answer-text':
        return call(this.handler('answer-text'), m, from);
      case 'answer-end':
        return call(this.handler('answer-end'), m, from);
      default: {
        const unhandled: never = m;
        return unhandled;
      }
    }
  }

  private refuse(kind: MessageKind, from: string, reason: string): void {
    this.log(`refused ${kind} from ${from}: ${reason}`);
    this.refusals.push({ kind, from, reason });
    if (this.refusals.length > 100) this.refusals.shift();
  }
}

function call<M>(h: ((m: M, from: Link) => void) | undefined, m: M, from: Link): boolean {
  h?.(m, from);
  return !!h;
}
