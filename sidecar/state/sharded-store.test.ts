import { describe, expect, it } from "vitest";
import { furthest } from "./sharded-store.ts";
import type { RequestRecord } from "./store.ts";

const base: RequestRecord = {
  id: "r1",
  revision: "rev",
  configHash: "rev",
  mode: "sync",
  method: "GET",
  path: "/",
  receivedAt: 1_000,
  state: "received",
  attempt: 1,
  queuedAt: null,
  dispatchedAt: null,
  finishedAt: null,
  status: null,
  error: null,
};

describe("furthest (which worker's row of a request the admin API answers)", () => {
  it("prefers the executing worker's row to the holder's", () => {
    const holder = { ...base, state: "queued" as const, queuedAt: 1_001 };
    const executor = { ...base, state: "dispatched" as const, dispatchedAt: 1_005 };
    expect(furthest([holder, executor])).toBe(executor);
    expect(furthest([executor, holder])).toBe(executor);
  });

  it("prefers a finished row, and a later attempt over an earlier one", () => {
    const done = { ...base, state: "done" as const, dispatchedAt: 1_005, finishedAt: 1_009, status: 200 };
    const dispatched = { ...base, state: "dispatched" as const, dispatchedAt: 1_005 };
    expect(furthest([dispatched, done])).toBe(done);
    const retried = { ...base, state: "queued" as const, attempt: 2, queuedAt: 1_020 };
    expect(furthest([done, retried])).toBe(retried);
  });

  it("skips workers without the request; none has it: undefined", () => {
    const only = { ...base };
    expect(furthest([undefined, only, undefined])).toBe(only);
    expect(furthest([undefined, undefined])).toBeUndefined();
  });
});
