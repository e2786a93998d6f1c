import { describe, expect, it } from "vitest";
import { headerRoomBytes, payloadLimitWarning } from "./payload-limit.ts";

describe("payload limit", () => {
  it("warns when the largest body and its headers do not fit in max_payload", () => {
    expect(payloadLimitWarning(1024 * 1024, 1024 * 1024)).toContain("exceeds NATS's max_payload (1048576)");
    expect(payloadLimitWarning(8 * 1024 * 1024, 8 * 1024 * 1024)).toContain(
      "413 VX_ERR_BODY_OVER_BROKER_LIMIT",
    );
  });

  it("is quiet when it fits or the server's limit is unknown", () => {
    expect(payloadLimitWarning(1024 * 1024 - headerRoomBytes, 1024 * 1024)).toBeUndefined();
    expect(payloadLimitWarning(1024 * 1024, undefined)).toBeUndefined();
  });
});
