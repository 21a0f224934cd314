/**
 * Carries a plan change out: computes the transition (core/room/transition.ts) from what each phone holds,
 * sends every phone of the target its assignment (idempotent: a phone that keeps its blocks keeps its
 * session and caches) and every phone left out an `unload`, and waits for each to report the new plan.
 * A phone that reports an error, leaves, or goes quiet for `idleTimeoutMs` fails the change; the caller
 * then goes back to the plan before. Holdings are learnt from the phones' own reports, never assumed.
 */

import { PendingRequests } from '../../core/pending';
import type { MessageOf, PhoneState, StageAssignment } from '../../core/protocol/messages';
import type { Plan } from '../../core/room/plan';
import { type BlockRange, type Transition, transition } from '../../core/room/transition';

export interface ExecutorDeps {
  /** Sends to a phone; false when it is gone. */
  readonly send: (
    phoneId: string,
    m: MessageOf<'assign'> | MessageOf<'unload'> | MessageOf<'prefetch'>,
  ) => boolean;
  readonly nameOf: (phoneId: string) => string;
  readonly log: (line: string) => void;
  /** How long a phone may stay silent (no progress report) while loading. */
  readonly idleTimeoutMs?: number;
}

interface Watch {
  readonly want: PhoneState;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PlanExecutor {
  /** What each phone holds now, from its latest report about a plan. */
  private readonly holdings = new Map<string, BlockRange | null>();
  /** The block range each plan gave each phone, to read holdings from `ready` reports. */
  private readonly ranges = new Map<string, Map<string, BlockRange>>();
  private readonly watches = new Map<string, Watch>(); // by `${phoneId}:${planId}`
  /** Prefetches the phones have not yet answered, by `${phoneId}:${planId}`. */
  private readonly prefetches = new PendingRequests<string, MessageOf<'prefetched'>>();
  /** The plan every phone of it has confirmed. */
  current: Plan | null = null;

  constructor(private readonly deps: ExecutorDeps) {}

  /** A new model: nothing any phone holds carries over. */
  reset(): void {
    this.current = null;
    this.holdings.clear();
    this.ranges.clear();
  }

  holding(phoneId: string): BlockRange | null {
    return this.holdings.get(phoneId) ?? null;
  }

  /** Every `state` a phone sends. */
  onState(phoneId: string, m: MessageOf<'state'>): void {
    if (!m.planId) return;
    const range = this.ranges.get(m.planId)?.get(phoneId);
    if (m.state === 'ready' || m.state === 'busy') this.holdings.set(phoneId, range ?? null);
    if (m.state === 'idle' || m.state === 'error') this.holdings.set(phoneId, null);
    const key = `${phoneId}:${m.planId}`;
    const w = this.watches.get(key);
    if (!w) return;
    if (m.state === 'error')
      this.settle(key, new Error(`${this.deps.nameOf(phoneId)}: ${m.detail ?? 'failed'}`));
    else if (m.state === w.want || (w.want === 'ready' && m.state === 'busy')) this.settle(key);
    else this.arm(key, w); // progress: the phone is alive, give it another idle period
  }

  /** Phones are reading their next blocks ahead (a busy time for them, like a load). */
  get readingAhead(): boolean {
    return this.prefetches.size > 0;
  }

  /** A phone's answer to a `prefetch`. */
  onPrefetched(phoneId: string, m: MessageOf<'prefetched'>): void {
    this.prefetches.resolve(`${phoneId}:${m.planId}`, m);
  }

  /** A phone left the room. */
  forget(phoneId: string): void {
    this.holdings.delete(phoneId);
    this.prefetches.rejectWhere(new Error(`${this.deps.nameOf(phoneId)} left the room`), (key) =>
      key.startsWith(`${phoneId}:`),
    );
    for (const key of [...this.watches.keys()]) {
      if (key.startsWith(`${phoneId}:`))
        this.settle(key, new Error(`${this.deps.nameOf(phoneId)} left the room`));
    }
  }

  /**
   * Gets `target` ready while the room still runs the plan it has: phones that hold nothing yet (one
   * that joined) load their stages, and `apply` then finds them holding their blocks and only re-wires
   * them; phones that will hold other blocks read them ahead (`prefetch`), so in the pause they only
   * build their sessions. A prefetch that fails costs nothing but its time: the assign reads again.
   */
  async prepare(target: Plan, assignments: readonly StageAssignment[]): Promise<void> {
    const steps = transition(this.current, target, this.holdings).steps;
    const fresh = steps.filter((s) => s.kind === 'load');
    const moving = steps.filter((s) => s.kind === 'migrate');
    if (!fresh.length && !moving.length) return;
    this.ranges.set(target.id, rangesOf(target));
    const names = (ss: typeof steps) => ss.map((s) => this.deps.nameOf(s.phoneId)).join(', ');
    if (fresh.length) this.deps.log(`plan ${target.id}: ${names(fresh)} load first`);
    if (moving.length) this.deps.log(`plan ${target.id}: ${names(moving)} read their blocks ahead`);
    const assignmentOf = (phoneId: string) =>
      assignments[target.stages.findIndex((st) => st.phoneId === phoneId)]!;
    const loads = fresh.map((s) => {
      const ready = this.watch(s.phoneId, target.id, 'ready');
      if (!this.deps.send(s.phoneId, { kind: 'assign', assignment: assignmentOf(s.phoneId) }))
        this.settle(`${s.phoneId}:${target.id}`, new Error(`${this.deps.nameOf(s.phoneId)} has left`));
      return ready;
    });
    const reads = moving.map(async (s) => {
      const key = `${s.phoneId}:${target.id}`;
      const read = this.prefetches.wait(
        key,
        this.deps.idleTimeoutMs ?? 60_000,
        `${this.deps.nameOf(s.phoneId)}'s prefetch`,
      );
      if (!this.deps.send(s.phoneId, { kind: 'prefetch', assignment: assignmentOf(s.phoneId) }))
        this.prefetches.reject(key, new Error(`${this.deps.nameOf(s.phoneId)} has left`));
      const m = await read.catch((e: unknown) => ({ error: String(e) }));
      if (m.error) this.deps.log(`${this.deps.nameOf(s.phoneId)} could not read ahead: ${m.error}`);
    });
    await Promise.all([...loads, ...reads]);
  }

  /** Moves the room to `target` (assignments in stage order); resolves once every phone confirmed it. */
  async apply(target: Plan, assignments: readonly StageAssignment[]): Promise<Transition> {
    const t = transition(this.current, target, this.holdings);
    this.ranges.set(target.id, rangesOf(target));
    const summary = t.steps.map((s) => `${this.deps.nameOf(s.phoneId)} ${s.kind}`).join(', ');
    this.deps.log(`plan ${target.id}: ${summary}; stages from ${t.firstMoved} rebuild their caches`);
    const waits: Promise<void>[] = [];
    target.stages.forEach((s, k) => {
      waits.push(this.watch(s.phoneId, target.id, 'ready'));
      if (!this.deps.send(s.phoneId, { kind: 'assign', assignment: assignments[k]! }))
        this.settle(`${s.phoneId}:${target.id}`, new Error(`${this.deps.nameOf(s.phoneId)} has left`));
    });
    for (const s of t.steps) {
      if (s.kind !== 'unload') continue;
      // A phone that cannot unload is no reason to fail the plan: it just keeps its memory busy.
      const done = this.watch(s.phoneId, target.id, 'idle').catch((e: unknown) => this.deps.log(String(e)));
      if (this.deps.send(s.phoneId, { kind: 'unload', planId: target.id })) void done;
      else this.settle(`${s.phoneId}:${target.id}`);
    }
    const results = await Promise.allSettled(waits);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw new Error(
        `${failed.reason instanceof Error ? failed.reason.message : String(failed.reason)} (could not load its blocks)`,
      );
    }
    this.current = target;
    return t;
  }

  private watch(phoneId: string, planId: string, want: PhoneState): Promise<void> {
    const key = `${phoneId}:${planId}`;
    return new Promise<void>((resolve, reject) => {
      const w: Watch = { want, resolve, reject, timer: setTimeout(() => {}, 0) };
      this.watches.set(key, w);
      this.arm(key, w);
    });
  }

  private arm(key: string, w: Watch): void {
    clearTimeout(w.timer);
    const ms = this.deps.idleTimeoutMs ?? 60_000;
    const name = this.deps.nameOf(key.slice(0, key.lastIndexOf(':')));
    w.timer = setTimeout(() => this.settle(key, new Error(`${name} went quiet for ${ms / 1000} s`)), ms);
  }

  private settle(key: string, error?: Error): void {
    const w = this.watches.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    this.watches.delete(key);
    if (error) w.reject(error);
    else w.resolve();
  }
}

const rangesOf = (plan: Plan) =>
  new Map<string, BlockRange>(plan.stages.map((s) => [s.phoneId, [s.firstBlock, s.lastBlock]]));
