import { describe, expect, it } from "vitest";
import { isTerminal, transition } from "./request-state.ts";

describe("request state transitions", () => {
  it("walks the sync happy path", () => {
    expect(transition("received", { type: "enqueue" })).toEqual({ ok: true, state: "queued" });
    expect(transition("queued", { type: "dispatch" })).toEqual({ ok: true, state: "dispatched" });
    expect(transition("dispatched", { type: "complete", status: 200 })).toEqual({ ok: true, state: "done" });
  });
  it("lets direct mode skip the queue and redelivery go back to queued", () => {
    expect(transition("received", { type: "dispatch" })).toEqual({ ok: true, state: "dispatched" });
    expect(transition("dispatched", { type: "redeliver" })).toEqual({ ok: true, state: "queued" });
  });
  it("refuses moves out of terminal states", () => {
    for (const s of ["done", "failed", "shed", "expired"] as const) {
      expect(isTerminal(s)).toBe(true);
      expect(transition(s, { type: "dispatch" }).ok).toBe(false);
      expect(transition(s, { type: "complete", status: 200 }).ok).toBe(false);
    }
  });
  it("never sheds a dispatched request", () => {
    expect(transition("dispatched", { type: "shed", reason: "x" })).toEqual({
      ok: false,
      from: "dispatched",
      event: "shed",
    });
  });
});
