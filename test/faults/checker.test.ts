// The checker itself: each breach it exists to find, found in a history made for it.
import { describe, expect, it } from "vitest";
import { breaches, classify, judge, noBreaches, type Answer, type Execution } from "./checker.ts";

const answer = (
  id: string,
  status: number,
  code: string | null = null,
  extra: Partial<Answer> = {},
): Answer => ({
  id,
  mode: "sync",
  status,
  code,
  outcome: null,
  at: 0,
  ...extra,
});
const ran = (id: string, attempt = 1, inFlight = 1, app = "a"): Execution => ({ id, attempt, inFlight, app });

describe("fault checker", () => {
  it("a clean history has no breach", () => {
    const v = judge([answer("1", 200), answer("2", 503, "VX_ERR_QUEUE_TIMEOUT")], [ran("1")], 4);
    expect(breaches(v)).toEqual(noBreaches);
    expect([v.sent, v.acknowledged, v.executed]).toEqual([2, 1, 1]);
  });

  it("finds an acknowledged request that never ran, and a clean refusal that ran", () => {
    const v = judge(
      [answer("1", 202, null, { mode: "async" }), answer("2", 503, "VX_ERR_QUEUE_FULL")],
      [ran("2")],
      4,
    );
    expect(v.lost).toEqual(["1"]);
    expect(v.refusedButRan).toEqual(["2"]);
  });

  it("tells a declared repeat (attempt 2) from an undeclared one (attempt 1 twice)", () => {
    const v = judge([answer("1", 200), answer("2", 200)], [ran("1"), ran("1", 2), ran("2"), ran("2")], 4);
    expect(v.declaredDuplicates).toBe(1);
    expect(v.undeclaredDuplicates).toEqual(["2"]);
  });

  it("indefinite answers may have run; an unmarked 5xx is a breach", () => {
    expect(classify(answer("1", 504, "VX_ERR_OUTCOME_UNKNOWN", { outcome: "unknown" }), 1)).toBe(
      "indefinite",
    );
    expect(classify(answer("1", 0, "ECONNRESET"), 1)).toBe("indefinite");
    expect(classify(answer("1", 0, "ECONNREFUSED"), 0)).toBe("refused");
    expect(classify(answer("1", 502, "VX_ERR_DEAD_LETTERED"), 3)).toBe("failed");
    expect(judge([answer("1", 500, "VX_ERR_INTERNAL")], [], 4).unmarked).toEqual(["1"]);
  });

  it("finds the bound passed and async records that are not final or say done for what never ran", () => {
    const async = { mode: "async" } as const;
    const v = judge(
      [answer("1", 202, null, async), answer("2", 202, null, async), answer("3", 202, null, async)],
      [ran("1", 1, 5), ran("3", 1), ran("3", 2)],
      4,
      new Map([
        ["1", "queued"],
        ["2", "done"],
        ["3", "expired"],
      ]),
    );
    expect(v.overBound).toBe(true);
    expect(v.recordDisagrees).toEqual(["1", "2"]);
  });
});
