import { describe, expect, it } from "vitest";
import { concurrencyShare } from "./settings.ts";

describe("concurrencyShare", () => {
  it("splits a pod's maxConcurrency over its workers without exceeding it", () => {
    for (const total of [1, 2, 3, 4, 7, 10, 64, 100]) {
      for (const of of [1, 2, 3, 4, 8]) {
        if (of > total) continue;
        const shares = Array.from({ length: of }, (_, i) => concurrencyShare(total, { index: i + 1, of }));
        expect(
          shares.reduce((a, b) => a + b, 0),
          `${total} over ${of}`,
        ).toBe(total);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
  });

  it("keeps one slot per worker when there are more workers than slots", () => {
    expect(concurrencyShare(2, { index: 3, of: 4 })).toBe(1);
  });
});
