import { describe, expect, it } from "vitest";
import { isUnsafe, Lane } from "./pipeline-order.ts";

describe("pipeline order", () => {
  it("lets safe requests on one connection run together", () => {
    const lane = new Lane();
    expect(lane.take(isUnsafe("GET"))).toBeUndefined();
    expect(lane.take(isUnsafe("HEAD"))).toBeUndefined();
  });

  it("starts an unsafe request after those before it, and those after it after it", async () => {
    const lane = new Lane();
    const started: string[] = [];
    const get = lane.take(isUnsafe("GET"));
    const post = lane.take(isUnsafe("POST"));
    const put = lane.take(isUnsafe("PUT"));
    const after = lane.take(isUnsafe("GET"));
    expect(get).toBeUndefined();
    for (const [name, ready] of [
      ["post", post],
      ["put", put],
      ["after", after],
    ] as const) {
      void ready?.then(() => started.push(name));
    }
    await Promise.resolve();
    expect(started).toEqual([]);
    lane.done(false);
    await Promise.resolve();
    expect(started).toEqual(["post"]);
    lane.done(true);
    await Promise.resolve();
    expect(started).toEqual(["post", "put"]);
    lane.done(true);
    await Promise.resolve();
    expect(started).toEqual(["post", "put", "after"]);
  });

  it("keeps connections apart", () => {
    const a = new Lane();
    void a.take(true);
    expect(new Lane().take(true)).toBeUndefined();
    expect(a.take(true)).toBeDefined();
  });

  it("treats a missing method as GET", () => {
    expect(isUnsafe(undefined)).toBe(false);
    expect(isUnsafe("POST")).toBe(true);
  });
});
