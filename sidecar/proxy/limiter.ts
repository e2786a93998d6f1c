// The local concurrency bound: at most `limit()` holders; others wait in FIFO order,
// at most `maxWaiting()` of them and each for at most its timeout. Waiters sit in a
// ring buffer (no array shifting); a waiter that times out is skipped when reached.

interface Waiter {
  resolve: (granted: boolean) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export type Acquire = "granted" | "full" | Promise<boolean>;

export class Limiter {
  private active = 0;
  private ring: (Waiter | undefined)[] = new Array<Waiter | undefined>(64);
  private head = 0;
  private size = 0;
  private live = 0;
  private readonly limit: () => number;
  private readonly maxWaiting: () => number;
  /** Told after every release: another user of the app's slots may take the freed one. */
  onRelease: (() => void) | undefined;

  constructor(limit: () => number, maxWaiting: () => number) {
    this.limit = limit;
    this.maxWaiting = maxWaiting;
  }

  get inFlight(): number {
    return this.active;
  }

  get waiting(): number {
    return this.live;
  }

  /** "granted" now, "full" when the wait queue is full, or a promise of the wait's result. */
  acquire(timeoutMs: number): Acquire {
    if (this.active < this.limit() && this.live === 0) {
      this.active++;
      return "granted";
    }
    if (this.live >= this.maxWaiting()) return "full";
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { resolve, timer: undefined, done: false };
      w.timer = setTimeout(() => {
        if (w.done) return;
        w.done = true;
        this.live--;
        resolve(false);
      }, timeoutMs);
      this.push(w);
      this.live++;
    });
  }

  release(): void {
    this.active--;
    this.pump();
    this.onRelease?.();
  }

  /** Grants waiting slots (also after the limit was raised). */
  pump(): void {
    while (this.active < this.limit() && this.size > 0) {
      const w = this.shift();
      if (!w || w.done) continue;
      w.done = true;
      this.live--;
      clearTimeout(w.timer);
      this.active++;
      w.resolve(true);
    }
  }

  /** Rejects every waiter (drain). */
  rejectAll(): void {
    while (this.size > 0) {
      const w = this.shift();
      if (!w || w.done) continue;
      w.done = true;
      this.live--;
      clearTimeout(w.timer);
      w.resolve(false);
    }
  }

  private push(w: Waiter): void {
    if (this.size === this.ring.length) {
      const bigger = new Array<Waiter | undefined>(this.ring.length * 2);
      for (let i = 0; i < this.size; i++) bigger[i] = this.ring[(this.head + i) % this.ring.length];
      this.ring = bigger;
      this.head = 0;
    }
    this.ring[(this.head + this.size) % this.ring.length] = w;
    this.size++;
  }

  private shift(): Waiter | undefined {
    const w = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    return w;
  }
}
