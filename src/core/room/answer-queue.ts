/**
 * Who gets the pipeline next. Answers asked from every phone of the room share a cap on how many run at
 * once (the KV caches of all of them must fit on every stage, see `admissionCap`); the rest wait. A free
 * slot goes to the phones in turn (round robin over the phones with something waiting), so one phone
 * that asks ten questions cannot keep another's single question waiting behind all ten. Beyond
 * `maxWaiting` answers waiting, a new one is refused at once with a message that says so, rather than
 * left to wait for minutes.
 */
export interface Asked {
  readonly id: string;
  /** The phone that asked. */
  readonly phone: string;
}

export type Admission =
  | { readonly kind: 'run' }
  | { readonly kind: 'queued'; readonly position: number }
  | { readonly kind: 'refused'; readonly reason: string };

export interface AnswerQueueLimits {
  readonly maxInFlight: number;
  readonly maxWaiting: number;
}

/** Answers that may wait beyond the ones running (a room of a few phones and their people). */
export const DEFAULT_MAX_WAITING = 32;

export class AnswerQueue<T extends Asked> {
  private readonly running = new Map<string, T>();
  /** Per phone, its waiting answers in the order asked. */
  private readonly waiting = new Map<string, T[]>();
  /** Every phone that has asked, in the order it first did: the turn goes round this list. */
  private readonly rotation: string[] = [];
  /** The phone served last: the next free slot goes to the one after it in `rotation`. */
  private lastServed: string | null = null;
  private limits: AnswerQueueLimits;

  constructor(limits: AnswerQueueLimits) {
    this.limits = AnswerQueue.checked(limits);
  }

  get inFlight(): number {
    return this.running.size;
  }

  get waitingCount(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  get maxInFlight(): number {
    return this.limits.maxInFlight;
  }

  submit(a: T): Admission {
    if (this.running.has(a.id) || this.find(a.id)) throw new Error(`answer ${a.id} was asked already`);
    if (this.running.size < this.limits.maxInFlight && this.waitingCount === 0) {
      this.start(a);
      return { kind: 'run' };
    }
    if (this.waitingCount >= this.limits.maxWaiting) {
      return {
        kind: 'refused',
        reason: `the room is busy: ${this.running.size} answers are running and ${this.waitingCount} are waiting (at most ${this.limits.maxWaiting}); ask again in a moment`,
      };
    }
    if (!this.rotation.includes(a.phone)) this.rotation.push(a.phone);
    const q = this.waiting.get(a.phone) ?? [];
    q.push(a);
    this.waiting.set(a.phone, q);
    return { kind: 'queued', position: this.order().indexOf(a) + 1 };
  }

  /** A running answer ended (done, failed or stopped): returns the ones that start in its place. */
  finish(id: string): T[] {
    this.running.delete(id);
    return this.fill();
  }

  /** Takes a waiting answer out of the queue; false when it is not waiting (running or unknown). */
  withdraw(id: string): boolean {
    for (const [phone, q] of this.waiting) {
      const i = q.findIndex((a) => a.id === id);
      if (i < 0) continue;
      q.splice(i, 1);
      if (q.length === 0) this.waiting.delete(phone);
      return true;
    }
    return false;
  }

  /** A new cap (the room re-planned, or the user lowered it): returns the answers that start now. */
  setLimits(limits: AnswerQueueLimits): T[] {
    this.limits = AnswerQueue.checked(limits);
    return this.fill();
  }

  /** Each waiting answer's place in the queue, 1 first: the order free slots will go in. */
  positions(): Map<string, number> {
    return new Map(this.order().map((a, i) => [a.id, i + 1]));
  }

  private fill(): T[] {
    const started: T[] = [];
    while (this.running.size < this.limits.maxInFlight) {
      const next = this.order()[0];
      if (!next) break;
      this.withdraw(next.id);
      this.start(next);
      started.push(next);
    }
    return started;
  }

  private start(a: T): void {
    if (!this.rotation.includes(a.phone)) this.rotation.push(a.phone);
    this.running.set(a.id, a);
    this.lastServed = a.phone;
  }

  /** The waiting answers in the order they will start: one per phone per turn, from after `lastServed`. */
  private order(): T[] {
    const r = this.rotation;
    const after = this.lastServed === null ? -1 : r.indexOf(this.lastServed);
    const turn = [...r.slice(after + 1), ...r.slice(0, after + 1)];
    const queues = turn.map((p) => this.waiting.get(p) ?? []);
    const out: T[] = [];
    for (let round = 0; queues.some((q) => q.length > round); round++)
      for (const q of queues) if (q[round]) out.push(q[round]!);
    return out;
  }

  private find(id: string): T | undefined {
    for (const q of this.waiting.values()) {
      const a = q.find((x) => x.id === id);
      if (a) return a;
    }
    return undefined;
  }

  private static checked(l: AnswerQueueLimits): AnswerQueueLimits {
    if (!Number.isInteger(l.maxInFlight) || l.maxInFlight < 1)
      throw new Error(`at most ${l.maxInFlight} answers at once: it must be a whole number ≥ 1`);
    if (!Number.isInteger(l.maxWaiting) || l.maxWaiting < 0)
      throw new Error(`at most ${l.maxWaiting} answers waiting: it must be a whole number ≥ 0`);
    return l;
  }
}
