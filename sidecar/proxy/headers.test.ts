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
});
