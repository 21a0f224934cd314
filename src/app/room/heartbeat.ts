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
  /** Every phone in the room: all are pinged, so each also knows the leader is alive. */
  readonly everyone: () => readonly string[];
  readonly ping: (phoneId: string) => void;
  readonly dead: (phoneId: string, silentMs: number) => void;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

export class Heartbeat {
  private readonly lastSeen = new Map<string, number>();
  /** Phones found silent at the last tick: declared gone only if still silent at the next one, so that
   *  answers already queued behind a busy moment of this tab are read first. */
  private readonly suspects = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;
  private lastTick = performance.now();

  constructor(private readonly deps: HeartbeatDeps) {
    this.timer = setInterval(() => this.tick(), deps.intervalMs ?? 500);
  }

  /** Any message from the phone. */
  seen(phoneId: string): void {
    this.lastSeen.set(phoneId, performance.now());
    this.suspects.delete(phoneId);
  }

  forget(phoneId: string): void {
    this.lastSeen.delete(phoneId);
    this.suspects.delete(phoneId);
  }

  private tick(): void {
    const now = performance.now();
    const interval = this.deps.intervalMs ?? 500;
    const stalled = now - this.lastTick > interval * 3;
    this.lastTick = now;
    // Silent this long, and still at the next tick: gone (2 s in all with the default half-second tick).
    const timeout = (this.deps.timeoutMs ?? 2000) - interval;
    const watched = new Set(this.deps.watched());
    for (const id of this.deps.everyone()) if (!watched.has(id)) this.deps.ping(id);
    for (const id of watched) {
      const seen = this.lastSeen.get(id);
      if (seen === undefined || stalled) {
        this.lastSeen.set(id, now);
        this.suspects.delete(id);
      } else if (now - seen > timeout) {
        if (this.suspects.has(id)) {
          this.forget(id);
          this.deps.dead(id, now - seen);
          continue;
        }
        this.suspects.add(id);
      }
      this.deps.ping(id);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
