// Live events arrive one by one, sometimes thousands a second (a wide foreach starting).
// The batcher hands them on in batches, at most once per interval: the first event after a
// quiet spell goes out at once (no added latency), a burst is applied a few times a second
// however long it lasts, so the page renders a few times a second, not once per event.

export interface Timers {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const FLUSH_INTERVAL_MS = 250;

export class Batcher<T> {
  private buffer: T[] = [];
  private timer: unknown = null;
  private lastFlush = Number.NEGATIVE_INFINITY;
  /** How many batches were handed on (for tests and the perf check). */
  flushes = 0;

  constructor(
    private readonly apply: (items: T[]) => void,
    private readonly intervalMs: number = FLUSH_INTERVAL_MS,
    private readonly timers: Timers = realTimers,
  ) {}

  push(item: T): void {
    this.buffer.push(item);
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => this.flush(), wait);
  }

  /** Hands on whatever is buffered now (also used when the page goes away). */
  flush(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.buffer.length) return;
    const items = this.buffer;
    this.buffer = [];
    this.lastFlush = this.timers.now();
    this.flushes++;
    this.apply(items);
  }

  get pending(): number {
    return this.buffer.length;
  }

  dispose(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
  }
}
