// LeaderElector against the real API server: one of two candidates leads; when the
// Lease is taken from it, it stops leading at its next renewal; on stop() the leader
// releases the Lease and the other candidate takes over without waiting for expiry.
// The candidates' own lease duration is ten minutes, so nothing here can happen by a
// lease running out on a slow machine unless the test says so (the intruder's Lease
// carries its own, shorter duration).
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

  /** A candidate whose Lease reads are counted: each one is a look it acted on. */
  function candidate(namespace: string, identity: string, log: string[]) {
    const api = kubeConfig().makeApiClient(CoordinationV1Api);
    const looks = { count: 0 };
    const counted = new Proxy(api, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== "readNamespacedLease" || typeof value !== "function") return value;
        return (...args: unknown[]) => {
          looks.count++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const e = new LeaderElector({
      api: counted,
      namespace,
      name: "lease",
      identity,
      leaseDurationMs: 600_000,
      renewDeadlineMs: 300_000,
      retryPeriodMs: 200,
      log: createLogger({ level: "error", sink: () => undefined }),
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: () => log.push(`${identity} stopped`),
    });
    electors.push(e);
    return { e, looks };
  }

  /** Two more looks by `c` than now: it has read the Lease, decided, and read again. */
  async function twoMoreLooks(what: string, c: { looks: { count: number } }): Promise<void> {
    const from = c.looks.count;
    await eventually(what, () => Promise.resolve(c.looks.count >= from + 2 ? true : undefined));
  }

  it("hands over on release and stops at once when the Lease is taken away", async () => {
    const namespace = await createNamespace("op-lease");
    const api = kubeConfig().makeApiClient(CoordinationV1Api);
    const log: string[] = [];
    const { e: a } = candidate(namespace, "a", log);
    a.start();
    await eventually("a leads", () => Promise.resolve(a.isLeader || undefined));
    const bc = candidate(namespace, "b", log);
    const b = bc.e;
    b.start();
    // b has looked at a's Lease and decided, more than once: it does not lead.
    await twoMoreLooks("b looks at a's Lease", bc);
    expect(b.isLeader).toBe(false);
    expect(a.isLeader).toBe(true);

    // Someone else takes the Lease (as a replica with a newer view would), for ten minutes.
    // Read-modify-write races the leader's renewals: retry on 409 Conflict.
    const intrude = (leaseDurationSeconds: number) =>
      eventually("the intruder holds the Lease", async () => {
        const lease = await api.readNamespacedLease({ name: "lease", namespace });
        await api.replaceNamespacedLease({
          name: "lease",
          namespace,
          body: {
            ...lease,
            spec: {
              ...lease.spec,
              holderIdentity: "intruder",
              leaseDurationSeconds,
              renewTime: new V1MicroTime(Date.now()),
            },
          },
        });
        return true;
      });
    await intrude(600);
    await eventually("a stops leading", () => Promise.resolve(!a.isLeader || undefined));
    expect(log).toContain("a stopped");
    await twoMoreLooks("b looks at the intruder's Lease", bc);
    expect(b.isLeader).toBe(false); // the intruder's lease has not expired
    expect(a.isLeader).toBe(false);

    // The intruder renews once more with a one-second lease and never again: one
    // candidate takes over once it has seen that record unchanged for a second.
    await intrude(1);
    await eventually("a candidate takes over", () => Promise.resolve(a.isLeader || b.isLeader || undefined));
    const leader = a.isLeader ? a : b;
    const other = leader === a ? b : a;
    electors.splice(electors.indexOf(leader), 1);
    await leader.stop(); // releases
    // The leader's own Lease lasts ten minutes: only the release lets the other in now.
    await eventually("the other takes over after the release", () =>
      Promise.resolve(other.isLeader || undefined),
    );
    const after = await api.readNamespacedLease({ name: "lease", namespace });
    expect(after.spec?.leaseTransitions).toBeGreaterThanOrEqual(2);
  });
});
