// A work queue with client-go's guarantees: a key waits in the queue at most once
// (de-duplication), is never handed to two workers at once (a key added while it is
// processed is queued again when its worker calls done()), and failures back off per
// key exponentially (rateLimited) with an overall token bucket on top.
// Time comes from a Clock so the tests can drive it.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BackoffOptions {
  /** First retry delay (default 5 ms, as client-go). */
  baseDelayMs?: number;
  /** Ceiling of the per-key delay (default 5 minutes). */
  maxDelayMs?: number;
  /** Token bucket: sustained rate of rate-limited adds per second (default 10). */
  qps?: number;
  /** Token bucket: burst (default 100). */
  burst?: number;
}

/** Per-key exponential backoff combined with a token bucket: the larger delay wins. */
export class RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly base: number;
  private readonly max: number;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly clock: Clock;

  constructor(opts: BackoffOptions = {}, clock: Clock = systemClock) {
    this.base = opts.baseDelayMs ?? 5;
    this.max = opts.maxDelayMs ?? 300_000;
    this.qps = opts.qps ?? 10;
    this.burst = opts.burst ?? 100;
    this.tokens = this.burst;
    this.clock = clock;
    this.last = clock.now();
  }

  /** Delay before `key` may be retried; counts one more failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const backoff = Math.min(this.max, this.base * 2 ** Math.min(n, 40));
    return Math.max(backoff, this.bucketDelay());
  }

  private bucketDelay(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; handle: unknown }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  readonly limiter: RateLimiter;
  private readonly clock: Clock;

  constructor(opts: BackoffOptions = {}, clock: Clock = systemClock) {
    this.clock = clock;
    this.limiter = new RateLimiter(opts, clock);
  }

  /** Keys waiting to be processed (not counting delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys waiting for a delay to pass. */
  get delayed(): number {
    return this.waiting.size;
  }

  get busy(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    const getter = this.getters.shift();
    if (getter) {
      this.processing.add(key);
      this.dirty.delete(key);
      getter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds `key` after `ms`; an earlier pending add-after for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    (handle as { unref?: () => void }).unref?.();
    this.waiting.set(key, { at, handle });
  }

  /** Adds `key` after its backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    const delay = this.limiter.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff (call after a successful reconcile). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** Next key to process, or undefined once shut down. Call done(key) when finished. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key)) return;
    // Added while it was processed: queue it again now that its worker is finished.
    this.dirty.delete(key);
    this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.waiting.values()) this.clock.clearTimeout(handle);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }
}
