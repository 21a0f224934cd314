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
  /**
   * Whether an answer is waiting on the phones now (default: always). Between answers nothing is held
   * up by a frozen phone, so silence is judged by the longer `idleTimeoutMs`: a healthy phone starved of
   * its cores for a second then costs the room nothing, and an answer that starts meanwhile brings the
   * short timeout back at once.
   */
  readonly answering?: () => boolean;
  readonly idleTimeoutMs?: number;
}

export class Heartbeat {
  private readonly lastSeen = new Map<string, number>();
  /** Phones found silent at the last tick: declared gone only if still silent at the next one, so that
   *  answers already queued behind a busy moment of this tab are read first. */
  private readonly suspects = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;
  private lastTick = performance.now();
  /** No phone is judged before this (see `pardon`). */
  private quietUntil = 0;

  constructor(private readonly deps: HeartbeatDeps) {
    this.timer = setInterval(() => this.tick(), deps.intervalMs ?? 500);
  }

  /** Any message from the phone. */
  seen(phoneId: string): void {
    this.lastSeen.set(phoneId, performance.now());
    this.suspects.delete(phoneId);
  }

  /**
   * Judges no phone for `ms`: when a phone leaves, its neighbours close their connections to it, which
   * can hold their main thread for a second or two on a busy phone — that silence is not a fault.
   */
  pardon(ms: number): void {
    this.quietUntil = Math.max(this.quietUntil, performance.now() + ms);
  }

  forget(phoneId: string): void {
    this.lastSeen.delete(phoneId);
    this.suspects.delete(phoneId);
  }

  private tick(): void {
    const now = performance.now();
    const interval = this.deps.intervalMs ?? 500;
    const stalled = now - this.lastTick > interval * 3 || now < this.quietUntil;
    this.lastTick = now;
    // Silent past this at one tick and still at the next: gone — at most `timeoutMs` after the last
    // message (1.5–2 s with the defaults: a half-second tick, 2 s).
    const answering = this.deps.answering?.() ?? true;
    const timeout =
      (answering ? (this.deps.timeoutMs ?? 2000) : (this.deps.idleTimeoutMs ?? 10_000)) - 2 * interval;
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
