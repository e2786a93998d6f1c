import { describe, expect, it } from "vitest";
import { giveUpAt } from "./client.ts";

describe("giveUpAt (how long a held sync request waits)", () => {
  const held = { receivedAt: 1_000, maxWaitMs: 30_000, requestTimeoutMs: 5_000 };

  it("waits until maxWait while no executor has dispatched it", () => {
    expect(giveUpAt({ ...held, startedAt: 0 })).toBe(31_000);
  });

  it("once dispatched, waits the app's timeout plus room for the reply, earlier than maxWait", () => {
    expect(giveUpAt({ ...held, startedAt: 2_000 })).toBe(9_000);
  });

  it("or later than maxWait, when the dispatch came late", () => {
    expect(giveUpAt({ ...held, startedAt: 30_500 })).toBe(37_500);
  });
});
