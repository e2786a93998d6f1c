import { describe, expect, it } from "vitest";
import { retryDelay } from "./executor.ts";

describe("retryDelay", () => {
  it("doubles from queue.retryDelay with each failed attempt, up to a minute", () => {
    expect([1, 2, 3, 4].map((a) => retryDelay(1_000, a))).toEqual([1_000, 2_000, 4_000, 8_000]);
    // The default (1s, maxDeliver 5) waits 15 s in all before the last attempt.
    expect([1, 2, 3, 4].reduce((sum, a) => sum + retryDelay(1_000, a), 0)).toBe(15_000);
    expect(retryDelay(10_000, 8)).toBe(60_000);
  });
});
