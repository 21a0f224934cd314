/**
 * Requests waiting for an answer that arrives later by message (a pong, a step's logits, a phone's
 * profile), each with a timeout, so a phone that never answers fails the wait with a clear message
 * instead of hanging it. The room's one such helper.
 */
interface Waiter<V> {
  resolve(value: V): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class PendingRequests<K, V> {
  private readonly waiting = new Map<K, Waiter<V>>();

  /**
   * Waits for `resolve(key, …)`. Rejects after `timeoutMs` (no timeout when it is Infinity) with
   * "`what` timed out after N ms". A second wait on the same key rejects the first.
   */
  wait(key: K, timeoutMs: number, what: string): Promise<V> {
    this.reject(key, new Error(`${what}: superseded by a newer wait`));
    return new Promise<V>((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.waiting.delete(key);
            reject(new Error(`${what} timed out after ${Math.round(timeoutMs)} ms`));
          }, timeoutMs)
        : undefined;
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  get size(): number {
    return this.waiting.size;
  }

  /** True when someone was waiting for `key`. */
  resolve(key: K, value: V): boolean {
    const w = this.take(key);
    w?.resolve(value);
    return !!w;
  }

  reject(key: K, error: Error): boolean {
    const w = this.take(key);
    w?.reject(error);
    return !!w;
  }

  /** Rejects every wait whose key matches (all of them without a predicate). */
  rejectWhere(error: Error, matches: (key: K) => boolean = () => true): void {
    for (const key of [...this.waiting.keys()]) if (matches(key)) this.reject(key, error);
  }

  private take(key: K): Waiter<V> | undefined {
    const w = this.waiting.get(key);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.waiting.delete(key);
    return w;
  }
}
