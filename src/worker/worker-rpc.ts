/**
 * The one way the page talks to its Web Workers (inference, placement): Comlink for the calls, plus the
 * one thing Comlink lacks. A worker that dies — its script fails to load, or an error escapes every
 * handler — leaves Comlink's calls pending forever, so every call here races a "dead" promise that the
 * worker's error events reject, and once dead every later call fails at once with the same reason.
 */
import * as Comlink from 'comlink';

/** What a connection needs of a Worker: a subset, so Node tests can use a MessagePort-backed fake. */
export interface WorkerLike extends Comlink.Endpoint {
  terminate(): void;
}

/**
 * The worker's API as the page calls it. Our APIs take and return plain data only (no proxies, no
 * callbacks), so each method is the same call returning a Promise of the same value; Comlink's own
 * Remote type spreads union results into unions of Promises, which callers cannot use as declared.
 */
export type Remote<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R>
    ? (...args: A) => Promise<R>
    : never;
};

export class WorkerConnection<T> {
  private readonly remote: Remote<T>;
  private reason: Error | null = null;
  private readonly died: Promise<never>;
  private declareDead: (reason: Error) => void = () => {};

  /** `label` names the worker in errors, e.g. "inference worker". */
  constructor(
    private readonly worker: WorkerLike,
    private readonly label: string,
  ) {
    // Held for the connection's life: Comlink releases the worker's side once all its proxies are gone.
    this.remote = Comlink.wrap<T>(worker) as unknown as Remote<T>;
    this.died = new Promise<never>((_, reject) => {
      this.declareDead = reject;
    });
    // A worker may die with no call waiting; later calls see `reason` instead.
    this.died.catch(() => undefined);
    // The workers answer every failure of a call themselves, so an error event means the worker could
    // not start or something beyond its handlers broke: nothing pending will ever be answered.
    worker.addEventListener('error', (ev: Event) => {
      ev.preventDefault();
      const e = ev as Partial<ErrorEvent>;
      const where = e.filename ? ` (${e.filename}:${e.lineno})` : '';
      this.kill(new Error(`${label} failed: ${e.message || 'its script could not be loaded'}${where}`));
    });
    worker.addEventListener('messageerror', () => {
      this.kill(new Error(`${label} sent a reply that could not be deserialised`));
    });
  }

  /** Why the worker is gone, or null while it is up. */
  get dead(): Error | null {
    return this.reason;
  }

  /**
   * One call, named `what` in its errors: "<what> failed in the <label>: …" when the worker threw,
   * "<what>: <label> failed: …" when it died first or since.
   */
  async call<R>(what: string, send: (remote: Remote<T>) => Promise<R>): Promise<R> {
    if (this.reason) throw new Error(`${what}: ${this.reason.message}`);
    try {
      return await Promise.race([send(this.remote), this.died]);
    } catch (e) {
      // Not `this.reason` itself: TypeScript keeps it narrowed to null from the check above the await.
      const died = this.dead;
      if (died && e === died) throw new Error(`${what}: ${died.message}`);
      // postMessage throws a DataCloneError here, in this thread, when an argument cannot be cloned or
      // transferred. (The workers post nothing themselves, so none of theirs comes back by that name.)
      if (e instanceof Error && e.name === 'DataCloneError')
        throw new Error(`${what}: could not post to the ${this.label}: ${e.message}`);
      throw new Error(`${what} failed in the ${this.label}: ${describeError(e)}`);
    }
  }

  /** Terminates the worker and fails every pending and later call with `reason`. */
  kill(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.worker.terminate();
    this.declareDead(reason);
  }
}

/** A message for anything thrown: the wasm runtime sometimes throws plain strings or numbers. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === 'string' ? e : `non-Error thrown: ${String(e)}`;
}

/**
 * For a worker's exposed methods: rethrows whatever `run` throws as an Error with a message, because
 * Comlink passes non-Errors on as they are and an Error's empty message would read as nothing.
 */
export async function asError<R>(run: () => Promise<R>): Promise<R> {
  try {
    return await run();
  } catch (e) {
    throw e instanceof Error && e.message ? e : new Error(describeError(e));
  }
}
