/**
 * Notices a phone that stopped answering — a frozen tab, a locked screen, a phone walking out of Wi-Fi —
 * whose data channel has not (yet) closed. Every message from a phone counts as a sign of life; the
 * leader pings each phone every `intervalMs` so a quiet one still answers, and a phone silent for
 * `timeoutMs` while it should be answering is declared gone. Phones that are loading or measuring are
 * not judged (their main thread may be busy merging blocks), nor is anyone while this tab itself was
 * stalled: a late tick means the silence was ours.
 */
export interface HeartbeatDeps {
  /** The phones to watch now (phones of the plan that are ready or busy). */
  readonly watched: () => readonly string[];
  readonly ping: (phoneId: string) => void;
  readonly dead: (phoneId: string, silentMs: number) => void;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

export class Heartbeat {
  private readonly lastSeen = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private lastTick = performance.now();

  constructor(private readonly deps: HeartbeatDeps) {
    this.timer = setInterval(() => this.tick(), deps.intervalMs ?? 500);
  }

  /** Any message from the phone. */
  seen(phoneId: string): void {
    this.lastSeen.set(phoneId, performance.now());
  }

  forget(phoneId: string): void {
    this.lastSeen.delete(phoneId);
  }

  private tick(): void {
    const now = performance.now();
    const interval = this.deps.intervalMs ?? 500;
    const stalled = now - this.lastTick > interval * 3;
    this.lastTick = now;
    const timeout = this.deps.timeoutMs ?? 2000;
    for (const id of this.deps.watched()) {
      const seen = this.lastSeen.get(id);
      if (seen === undefined || stalled) this.lastSeen.set(id, now);
      else if (now - seen > timeout) {
        this.lastSeen.delete(id);
        this.deps.dead(id, now - seen);
        continue;
      }
      this.deps.ping(id);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
