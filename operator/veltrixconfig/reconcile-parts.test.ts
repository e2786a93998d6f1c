// Pure parts of the reconciler: conditions, desired stream/consumer and drift, names.
import { describe, expect, it } from "vitest";
import { applyDefaults } from "../../api/resolve.ts";
import { setCondition, statusEqual } from "./conditions.ts";
import { resourceOf } from "../runtime/kube-config.ts";
import { desiredConsumer, desiredStream, drift, refOfStream } from "./stream.ts";

const ref = { namespace: "shop", name: "checkout" };

describe("conditions", () => {
  const t1 = new Date("2026-01-01T00:00:00.123Z");
  const t2 = new Date("2026-01-01T00:05:00Z");

  it("keeps lastTransitionTime while the status stays, moves it when it changes", () => {
    const a = setCondition([], { type: "Ready", status: "True", reason: "Reconciled", message: "ok" }, 1, t1);
    expect(a[0]).toEqual({
      type: "Ready",
      status: "True",
      reason: "Reconciled",
      message: "ok",
      lastTransitionTime: "2026-01-01T00:00:00Z",
      observedGeneration: 1,
    });
    const same = setCondition(
      a,
      { type: "Ready", status: "True", reason: "Reconciled", message: "still" },
      2,
      t2,
    );
    expect(same[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(same[0]?.observedGeneration).toBe(2);
    const flipped = setCondition(
      same,
      { type: "Ready", status: "False", reason: "NatsUnavailable", message: "x" },
      2,
      t2,
    );
    expect(flipped[0]?.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
  });

  it("compares statuses semantically (condition order does not matter)", () => {
    const c = (type: string) => ({
      type,
      status: "True" as const,
      reason: "r",
      message: "m",
      lastTransitionTime: "t",
    });
    expect(
      statusEqual(
        { revision: "a", conditions: [c("A"), c("B")] },
        { conditions: [c("B"), c("A")], revision: "a" },
      ),
    ).toBe(true);
    expect(statusEqual({ revision: "a", queue: { depth: 1 } }, { revision: "a", queue: { depth: 2 } })).toBe(
      false,
    );
  });
});

describe("stream and consumer", () => {
  const spec = applyDefaults({
    queue: { maxQueueDepth: 50, maxWait: "10s", requestTimeout: "20s", stream: { maxAge: "1h" } },
  });

  it("derives the work-queue stream and the durable consumer from the spec", () => {
    expect(desiredStream(ref, spec)).toMatchObject({
      name: "VX_shop_checkout",
      subjects: ["veltrix.q.shop.checkout.>"],
      retention: "workqueue",
      storage: "file",
      max_msgs: 50,
      discard: "new",
      max_age: 3_600_000_000_000,
      duplicate_window: 120_000_000_000,
      max_msg_size: 1_048_576 + 65_536,
    });
    expect(desiredConsumer(spec)).toMatchObject({
      durable_name: "sidecars",
      ack_policy: "explicit",
      max_deliver: 6, // maxDeliver 5 + the dead-letter delivery
      ack_wait: 25_000_000_000,
    });
  });

  it("reports only the fields that differ", () => {
    const want = desiredStream(ref, spec);
    expect(drift(want, { ...want })).toEqual([]);
    expect(drift(want, { ...want, max_msgs: 10, subjects: ["x"] })).toEqual(["subjects", "max_msgs"]);
  });

  it("maps stream names back to configs and ignores foreign streams", () => {
    expect(refOfStream("VX_shop_checkout")).toEqual(ref);
    expect(refOfStream("KV_veltrix-config")).toBeUndefined();
    expect(refOfStream("VX_a_b_c")).toBeUndefined();
  });
});

describe("resourceOf (API request accounting)", () => {
  it("names the resource and subresource of a request URL", () => {
    const s = "https://127.0.0.1:6443";
    expect(resourceOf(`${s}/apis/veltrix.io/v1alpha1/namespaces/x/veltrixconfigs/y/status`)).toBe(
      "veltrixconfigs/status",
    );
    expect(resourceOf(`${s}/api/v1/namespaces/x/configmaps`)).toBe("configmaps");
    expect(resourceOf(`${s}/api/v1/pods?watch=true`)).toBe("pods");
    expect(resourceOf(`${s}/apis/coordination.k8s.io/v1/namespaces/x/leases/l`)).toBe("leases");
  });
});
