// The status builder: pure, so every case is a table row.
import { describe, expect, it } from "vitest";
import { VeltrixError } from "../../api/errors.ts";
import type { StreamState } from "./stream.ts";
import { desiredStatus, natsFailure, type Observed } from "./status.ts";

const ref = { namespace: "shop", name: "checkout" };
const t0 = new Date("2026-12-01T10:00:00Z");
const t1 = new Date("2026-12-01T10:05:00Z");
const stream = {
  stream: { state: { messages: 7 } },
  consumer: { num_ack_pending: 2 },
} as unknown as StreamState;

function observed(o: Partial<Observed> = {}): Observed {
  return {
    ref,
    generation: 3,
    revision: "r1",
    now: t0,
    old: {},
    stream,
    failure: undefined,
    pods: { injected: 2, inSync: 1 },
    body: { maxBodyBytes: 1024 * 1024, maxPayload: 8 * 1024 * 1024 },
    ...o,
  };
}

const condition = (s: ReturnType<typeof desiredStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("desiredStatus", () => {
  it("says whether the minted NATS user is in its Secret, and is not Ready while it cannot be issued", () => {
    expect(condition(desiredStatus(observed()), "NatsCredentials")).toBeUndefined();
    const ok = desiredStatus(observed({ credentials: "ok" }));
    expect(condition(ok, "NatsCredentials")).toMatchObject({ status: "True", reason: "Issued" });
    expect(condition(ok, "NatsCredentials")?.message).toContain("checkout-veltrix-nats");
    expect(condition(ok, "Ready")).toMatchObject({ status: "True" });
    const failed = desiredStatus(observed({ credentials: { failed: "secrets is forbidden" } }));
    expect(condition(failed, "NatsCredentials")).toMatchObject({
      status: "False",
      reason: "MintFailed",
      message: "secrets is forbidden",
    });
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "CredentialsFailed" });
    expect(condition(failed, "Ready")?.message).toContain("secrets is forbidden");
  });

  it("reports Ready with the stream, the pods in sync and the queue when NATS answered", () => {
    const s = desiredStatus(observed());
    expect(condition(s, "Ready")).toMatchObject({
      status: "True",
      reason: "Reconciled",
      observedGeneration: 3,
    });
    expect(condition(s, "StreamReady")).toMatchObject({ status: "True", reason: "StreamReady" });
    expect(condition(s, "ConfigPublished")).toMatchObject({ status: "True", reason: "Published" });
    expect(s).toMatchObject({
      observedGeneration: 3,
      revision: "r1",
      stream: "VX_shop_checkout",
      configMap: "checkout-veltrix-config",
      pods: { injected: 2, inSync: 1, summary: "1/2" },
      queue: { depth: 7, consumerPending: 2 },
    });
  });

  it("says whether maxBodyBytes fits NATS's max_payload, without touching Ready", () => {
    expect(condition(desiredStatus(observed()), "BodyFitsBroker")).toMatchObject({
      status: "True",
      reason: "Fits",
    });
    const tight = desiredStatus(observed({ body: { maxBodyBytes: 1024 * 1024, maxPayload: 1024 * 1024 } }));
    expect(condition(tight, "BodyFitsBroker")).toMatchObject({ status: "False", reason: "AboveMaxPayload" });
    expect(condition(tight, "BodyFitsBroker")?.message).toContain("VX_ERR_BODY_OVER_BROKER_LIMIT");
    expect(condition(tight, "Ready")?.status).toBe("True");
    const failure = natsFailure(new VeltrixError("VX_ERR_NATS_UNAVAILABLE", "nats://n:4222"));
    const down = desiredStatus(
      observed({ stream: undefined, failure, body: { maxBodyBytes: 1, maxPayload: undefined } }),
    );
    expect(condition(down, "BodyFitsBroker")).toMatchObject({ status: "Unknown", reason: "NatsUnavailable" });
  });

  it.each([
    ["VX_ERR_NATS_UNAVAILABLE", "NatsUnavailable"],
    ["VX_ERR_NATS_AUTH", "NatsAuthFailed"],
    ["VX_ERR_NATS_TLS", "NatsTLSFailed"],
  ] as const)("maps %s to the reason %s on every condition", (code, reason) => {
    const failure = natsFailure(new VeltrixError(code, "nats://n:4222"));
    const s = desiredStatus(
      observed({ stream: undefined, failure, old: { queue: { depth: 4, consumerPending: 1 } } }),
    );
    for (const type of ["Ready", "StreamReady", "ConfigPublished"])
      expect(condition(s, type), type).toMatchObject({ status: "False", reason });
    expect(condition(s, "ConfigPublished")?.message).toMatch(
      /is in ConfigMap checkout-veltrix-config only: /,
    );
    // Without NATS the last known queue stays.
    expect(s.queue).toEqual({ depth: 4, consumerPending: 1 });
  });

  it("calls any other failure NatsError", () => {
    expect(natsFailure(new Error("boom"))).toEqual({ reason: "NatsError", message: "boom" });
  });

  it("keeps lastTransitionTime while a condition's status stays, and moves it when it changes", () => {
    const first = desiredStatus(observed({ now: t0 }));
    const same = desiredStatus(observed({ now: t1, old: first, revision: "r2" }));
    expect(condition(same, "Ready")?.lastTransitionTime).toBe("2026-12-01T10:00:00Z");
    const failed = desiredStatus(
      observed({ now: t1, old: first, stream: undefined, failure: natsFailure(new Error("x")) }),
    );
    expect(condition(failed, "Ready")?.lastTransitionTime).toBe("2026-12-01T10:05:00Z");
  });
});
