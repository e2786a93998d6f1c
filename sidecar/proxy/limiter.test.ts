import { describe, expect, it } from "vitest";
import { Limiter } from "./limiter.ts";

describe("Limiter", () => {
  it("grants up to the limit, queues FIFO up to maxWaiting, refuses beyond", async () => {
    const l = new Limiter(
      () => 2,
      () => 2,
    );
    expect(l.acquire(1_000)).toBe("granted");
    expect(l.acquire(1_000)).toBe("granted");
    const third = l.acquire(1_000);
    const fourth = l.acquire(1_000);
    expect(l.acquire(1_000)).toBe("full");
    expect(l.waiting).toBe(2);
    l.release();
    expect(await third).toBe(true);
    l.release();
    expect(await fourth).toBe(true);
    expect(l.inFlight).toBe(2);
  });

  it("times a waiter out without taking its slot, and skips it later", async () => {
    const l = new Limiter(
      () => 1,
      () => 10,
    );
    expect(l.acquire(1_000)).toBe("granted");
    const late = l.acquire(10);
    const next = l.acquire(1_000);
    expect(await late).toBe(false);
    l.release();
    expect(await next).toBe(true);
    expect(l.inFlight).toBe(1);
    expect(l.waiting).toBe(0);
  });

  it("grows its ring past the initial size and keeps order", async () => {
    const l = new Limiter(
      () => 1,
      () => 1_000,
    );
    expect(l.acquire(1_000)).toBe("granted");
    const order: number[] = [];
    const waits = Array.from({ length: 200 }, (_, i) =>
      (l.acquire(5_000) as Promise<boolean>).then(() => order.push(i)),
    );
    for (let i = 0; i < 200; i++) {
      l.release();
      await Promise.resolve();
    }
    await Promise.all(waits);
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
