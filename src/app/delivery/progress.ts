/**
 * Transfer progress of one phone, with rate and time left. The rate is measured over a sliding window
 * of recent bytes (not since the start), so a stall — the first bulk transfer on a fresh data channel
 * pauses for 1–2 s — shows up and then stops dragging the estimate.
 * Bytes read from the cache arrive instantly and are not part of the rate.
 */
export interface FetchProgress {
  readonly loadedBytes: number;
  readonly totalBytes: number;
  readonly filesDone: number;
  readonly filesTotal: number;
  /** Network bytes per second over the last few seconds; 0 before there is anything to measure. */
  readonly bytesPerSecond: number;
  /** Remaining bytes at the current rate; null while the rate is unknown. */
  readonly secondsLeft: number | null;
  readonly bytesFromNetwork: number;
  readonly bytesFromCache: number;
}

const WINDOW_MS = 4000;
const MIN_SPAN_MS = 200;

export class RateMeter {
  private readonly samples: { t: number; n: number }[] = [];
  private start: number | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  add(n: number): void {
    const t = this.now();
    this.start ??= t;
    this.samples.push({ t, n });
    while (this.samples.length > 1 && this.samples[0]!.t < t - WINDOW_MS) this.samples.shift();
  }

  bytesPerSecond(): number {
    if (this.start === null) return 0;
    const t = this.now();
    // The window opens at the first byte ever seen or WINDOW_MS ago, whichever is later.
    const from = Math.max(this.start, t - WINDOW_MS);
    const span = t - from;
    if (span < MIN_SPAN_MS) return 0;
    const bytes = this.samples.reduce((s, x) => (x.t >= from ? s + x.n : s), 0);
    return (bytes * 1000) / span;
  }
}

export function secondsLeft(remainingBytes: number, bytesPerSecond: number): number | null {
  if (remainingBytes <= 0) return 0;
  return bytesPerSecond > 0 ? remainingBytes / bytesPerSecond : null;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** "12.3 of 40.0 MB · 2.1 MB/s · 13 s left" (the detail line a phone card shows). */
export function formatProgress(p: FetchProgress): string {
  const parts = [`${mb(p.loadedBytes)} of ${mb(p.totalBytes)} MB`];
  if (p.bytesPerSecond > 0) parts.push(`${mb(p.bytesPerSecond)} MB/s`);
  if (p.secondsLeft !== null && p.loadedBytes < p.totalBytes)
    parts.push(`${Math.ceil(p.secondsLeft)} s left`);
  if (p.bytesFromCache > 0) parts.push(`${mb(p.bytesFromCache)} MB from cache`);
  return parts.join(' · ');
}
