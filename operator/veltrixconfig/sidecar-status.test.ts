import { describe, expect, it } from "vitest";
import { sidecarStatusKey } from "../../api/contract.ts";
import { podsInSync, SidecarStatusIndex } from "./sidecar-status.ts";

describe("SidecarStatusIndex", () => {
  const ref = { namespace: "shop", name: "checkout" };
  const report = (revision: string) => ({ revision, pod: "p", at: "2026-01-01T00:00:00Z" });

  it("indexes reports by config and pod, forgets deleted ones and stale ones", () => {
    let now = 0;
    const idx = new SidecarStatusIndex({ now: () => now, ttlMs: 1_000 });
    expect(idx.apply(sidecarStatusKey(ref, "web-1.x"), report("r1"))).toBe("shop/checkout");
    expect(idx.revision(ref, "web-1.x")).toBe("r1");
    expect(idx.revision({ ...ref, name: "other" }, "web-1.x")).toBeUndefined();
    now = 1_001; // no refresh within the TTL: the sidecar stopped reporting
    expect(idx.revision(ref, "web-1.x")).toBeUndefined();
    idx.apply(sidecarStatusKey(ref, "web-1.x"), report("r2"));
    expect(idx.revision(ref, "web-1.x")).toBe("r2");
    idx.apply(sidecarStatusKey(ref, "web-1.x"), undefined);
    expect(idx.revision(ref, "web-1.x")).toBeUndefined();
    expect(idx.apply("malformed", report("r"))).toBeUndefined();
  });
});

describe("podsInSync", () => {
  const pod = (name: string, ready: "True" | "False" | undefined) => ({
    metadata: { name },
    status: ready === undefined ? {} : { conditions: [{ type: "Ready", status: ready }] },
  });
  const reports: Record<string, string> = { ready: "r2", starting: "r2", behind: "r1", silent: "" };

  it("counts a pod only once it is Ready and its sidecar reports the revision", () => {
    const pods = [
      pod("ready", "True"),
      pod("starting", "False"),
      pod("new", undefined),
      pod("behind", "True"),
    ];
    const inSync = podsInSync(pods, (name) => reports[name], "r2");
    expect(inSync.map((p) => p.metadata.name)).toEqual(["ready"]);
    // The same pods once all are Ready: the one behind still is not.
    const later = pods.map((p) => pod(p.metadata.name, "True"));
    expect(podsInSync(later, (name) => reports[name], "r2").map((p) => p.metadata.name)).toEqual([
      "ready",
      "starting",
    ]);
  });
});
