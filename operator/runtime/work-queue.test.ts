import { describe, expect, it } from "vitest";
import { type Clock, RateLimiter, WorkQueue } from "./work-queue.ts";

/** A clock the test moves by hand. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  const timers = new Set<{ at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const t = { at: now + ms, fn };
      timers.add(t);
      return t;
    },
    clearTimeout(h) {
      timers.delete(h as { at: number; fn: () => void });
    },
    advance(ms) {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= now) {
          timers.delete(t);
          t.fn();
        }
      }
    },
  };
}

describe("WorkQueue", () => {
  it("de-duplicates a key that is already waiting", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands out a key twice at once; re-adds during processing run after done()", async () => {
    const q = new WorkQueue();
    q.add("a");
    const first = await q.get();
    q.add("a"); // changed while being reconciled
    q.add("a");
    expect(q.length).toBe(0); // not available to a second worker
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(first ?? "");
    await Promise.resolve();
    expect(second).toBe("a"); // exactly once more
    q.done("a");
    expect(q.length).toBe(0);
  });

  it("wakes a waiting worker on add and releases workers on shutDown", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add("x");
    expect(await waiting).toBe("x");
    const blocked = q.get();
    q.shutDown();
    expect(await blocked).toBeUndefined();
    q.add("y");
    expect(await q.get()).toBeUndefined();
  });

  it("addAfter delays a key and keeps the earliest deadline", async () => {
    const clock = manualClock();
    const q = new WorkQueue({}, clock);
    q.addAfter("a", 1000);
    q.addAfter("a", 5000);
    expect(q.delayed).toBe(1);
    clock.advance(999);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("backs off exponentially per key and resets on forget", () => {
    const clock = manualClock();
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 }, clock);
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited("a"))).toEqual([10, 20, 40, 80, 100]);
    expect(q.addRateLimited("b")).toBe(10); // per key
    q.forget("a");
    expect(q.addRateLimited("a")).toBe(10);
  });
});

describe("RateLimiter token bucket", () => {
  it("lets a burst through, then spaces keys at qps", () => {
    const clock = manualClock();
    const r = new RateLimiter({ baseDelayMs: 0, qps: 10, burst: 2 }, clock);
    expect(r.when("a")).toBe(0);
    expect(r.when("b")).toBe(0);
    expect(r.when("c")).toBe(100);
    expect(r.when("d")).toBe(200);
    clock.advance(1000); // refills
    expect(r.when("e")).toBe(0);
  });
});
