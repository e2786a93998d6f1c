import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { takeTurn } from "./pipeline-order.ts";

const connection = (): Socket => ({}) as Socket;

describe("pipeline order", () => {
  it("lets safe requests on one connection run together", () => {
    const c = connection();
    expect(takeTurn(c, "GET").ready).toBeUndefined();
    expect(takeTurn(c, "HEAD").ready).toBeUndefined();
  });

  it("starts an unsafe request after those before it, and those after it after it", async () => {
    const c = connection();
    const started: string[] = [];
    const get = takeTurn(c, "GET");
    const post = takeTurn(c, "POST");
    const put = takeTurn(c, "PUT");
    const after = takeTurn(c, "GET");
    expect(get.ready).toBeUndefined();
    for (const [name, t] of [
      ["post", post],
      ["put", put],
      ["after", after],
    ] as const) {
      void t.ready?.then(() => started.push(name));
    }
    await Promise.resolve();
    expect(started).toEqual([]);
    get.done();
    await Promise.resolve();
    expect(started).toEqual(["post"]);
    post.done();
    await Promise.resolve();
    expect(started).toEqual(["post", "put"]);
    put.done();
    await Promise.resolve();
    expect(started).toEqual(["post", "put", "after"]);
  });

  it("keeps connections apart", () => {
    const a = connection();
    takeTurn(a, "POST");
    expect(takeTurn(connection(), "POST").ready).toBeUndefined();
    expect(takeTurn(a, "POST").ready).toBeDefined();
  });
});
