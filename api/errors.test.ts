import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorTable, isSidecarErrorCode, operatorErrors, sidecarErrors, VeltrixError } from "./errors.ts";

describe("error table", () => {
  it("docs/operator.md lists every operator code", () => {
    const text = readFileSync(join(import.meta.dirname, "../docs/operator.md"), "utf8");
    const section = text.slice(text.indexOf("## Error codes"));
    const listed = [...section.matchAll(/^\|\s*`(VX_ERR_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(operatorErrors).sort());
  });

  it("gives every code one meaning: no code is both the sidecar's and the operator's", () => {
    expect(Object.keys(sidecarErrors).filter((c) => c in operatorErrors)).toEqual([]);
    expect(Object.keys(errorTable)).toHaveLength(
      Object.keys(sidecarErrors).length + Object.keys(operatorErrors).length,
    );
    expect(isSidecarErrorCode("VX_ERR_QUEUE_FULL")).toBe(true);
    expect(isSidecarErrorCode("VX_ERR_NATS_TLS")).toBe(false);
    expect(isSidecarErrorCode("toString")).toBe(false);
  });

  it("words a message as the code's sentence, then the detail", () => {
    const cause = new Error("ECONNREFUSED");
    const e = new VeltrixError("VX_ERR_NATS_UNAVAILABLE", "nats://a:4222", { cause });
    expect(e.message).toBe("NATS is unreachable: nats://a:4222");
    expect(e.code).toBe("VX_ERR_NATS_UNAVAILABLE");
    expect(e.cause).toBe(cause);
    expect(new VeltrixError("VX_ERR_QUEUE_FULL").message).toBe(sidecarErrors.VX_ERR_QUEUE_FULL.message);
  });
});
