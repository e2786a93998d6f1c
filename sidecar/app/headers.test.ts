import { describe, expect, it } from "vitest";
import { endToEnd, requestIdFrom } from "./headers.ts";

describe("endToEnd", () => {
  it("drops hop-by-hop headers and every header named in Connection", () => {
    const out = endToEnd(
      {
        connection: "keep-alive, X-Secret",
        "keep-alive": "timeout=5",
        "x-secret": "s",
        te: "trailers",
        "transfer-encoding": "chunked",
        upgrade: "websocket",
        "proxy-authorization": "Basic x",
        host: "example",
        "x-keep": "k",
        "set-cookie": ["a=1", "b=2"],
      },
      false,
    );
    expect(out).toEqual({ host: "example", "x-keep": "k", "set-cookie": ["a=1", "b=2"] });
  });

  it("drops Veltrix's own headers from clients but keeps the request id", () => {
    const out = endToEnd(
      { "x-veltrix-config-revision": "forged", "x-veltrix-attempt": "9", "x-veltrix-request-id": "abcdefgh" },
      true,
    );
    expect(out).toEqual({ "x-veltrix-request-id": "abcdefgh" });
  });
});

describe("requestIdFrom", () => {
  it("keeps a valid client id and replaces anything else", () => {
    expect(requestIdFrom("order-1234.retry:2")).toBe("order-1234.retry:2");
    for (const bad of [undefined, "short", "has space 123", "x".repeat(129), ["a-valid-id", "b-valid-id"]]) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("generates time-ordered UUIDs (v7), so records append to the store's index in order", () => {
    const ids = Array.from({ length: 1000 }, () => requestIdFrom(undefined));
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
