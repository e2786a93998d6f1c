// LeaderElector against the real API server: one of two candidates leads; when the
// Lease is taken from it, it stops leading at its next renewal; on stop() the leader
// releases the Lease and the other candidate takes over without waiting for expiry.
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { LeaderElector } from "../../../operator/runtime/leader-election.ts";
import { createLogger } from "../../../lib/log.ts";
import { createNamespace, eventually, kubeConfig } from "../../harness/env.ts";

describe("LeaderElector (real kube-apiserver)", () => {
  const electors: LeaderElector[] = [];
  afterEach(async () => {
    for (const e of electors.splice(0)) await e.stop();
  });

  function candidate(namespace: string, identity: string, log: string[]) {
    const e = new LeaderElector({
      api: kubeConfig().makeApiClient(CoordinationV1Api),
      namespace,
      name: "lease",
      identity,
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 200,
      log: createLogger({ level: "error", sink: () => undefined }),
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: () => log.push(`${identity} stopped`),
    });
    electors.push(e);
    return e;
  }

  it("hands over on release and stops at once when the Lease is taken away", async () => {
    const namespace = await createNamespace("op-lease");
    const api = kubeConfig().makeApiClient(CoordinationV1Api);
    const log: string[] = [];
    const a = candidate(namespace, "a", log);
    a.start();
    await eventually("a leads", () => Promise.resolve(a.isLeader || undefined));
    const b = candidate(namespace, "b", log);
    b.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(b.isLeader).toBe(false);

    // Someone else takes the Lease (as a replica with a newer view would).
    // Read-modify-write races the leader's renewals: retry on 409 Conflict.
    await eventually("the intruder holds the Lease", async () => {
      const lease = await api.readNamespacedLease({ name: "lease", namespace });
      await api.replaceNamespacedLease({
        name: "lease",
        namespace,
        body: {
          ...lease,
          spec: { ...lease.spec, holderIdentity: "intruder", renewTime: new V1MicroTime(Date.now()) },
        },
      });
      return true;
    });
    await eventually("a stops leading", () => Promise.resolve(!a.isLeader || undefined), 5_000);
    expect(log).toContain("a stopped");
    expect(b.isLeader).toBe(false); // the intruder's lease has not expired

    // The intruder never renews: after the lease duration one candidate takes over.
    await eventually(
      "a candidate takes over",
      () => Promise.resolve(a.isLeader || b.isLeader || undefined),
      10_000,
    );
    const leader = a.isLeader ? a : b;
    const other = leader === a ? b : a;
    electors.splice(electors.indexOf(leader), 1);
    await leader.stop(); // releases
    await eventually(
      "the other takes over after the release",
      () => Promise.resolve(other.isLeader || undefined),
      2_000,
    );
    const after = await api.readNamespacedLease({ name: "lease", namespace });
    expect(after.spec?.leaseTransitions).toBeGreaterThanOrEqual(2);
  });
});
