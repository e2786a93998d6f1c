// Two operator processes (`node operator/main.ts`) compete for one Lease: exactly one
// reconciles; kill -9 the leader, change a VeltrixConfig meanwhile, and the other
// takes over and reconciles the change.
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configDocument } from "../../../api/resolve.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { freePort } from "../../../devenv/ports.ts";
import type { ManagedProcess } from "../../../devenv/process.ts";
import { operatorProcess } from "../../harness/operator-process.ts";
import { createVxc, getVxc, readyVxc, updateSpec } from "../helpers.ts";

interface Replica {
  name: string;
  port: number;
  proc: ManagedProcess;
}

async function isLeader(r: Replica): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${r.port}/metrics`);
  return /^veltrix_operator_leader 1$/m.test(await res.text());
}

describe("leader election (two operator processes)", () => {
  let namespace: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    await installCrd(kubeConfig());
    namespace = await createNamespace("op-leader");
    const dir = tempDir("op-leader");
    for (const name of ["op-a", "op-b"]) {
      const port = await freePort();
      const proc = operatorProcess({
        name,
        logDir: dir,
        namespace,
        watchNamespace: namespace,
        httpPort: port,
        args: [
          "--lease-duration=3s",
          "--renew-deadline=2s",
          "--retry-period=500ms",
          "--log-level=debug",
          "--webhook-cert-mode=disabled",
        ],
      });
      proc.start();
      replicas.push({ name, port, proc });
    }
    for (const r of replicas) {
      await r.proc.waitUntil("ready", async () => (await fetch(`http://127.0.0.1:${r.port}/readyz`)).ok);
    }
  });
  afterAll(async () => {
    for (const r of replicas) await r.proc.stop();
  });

  it("one replica leads; after kill -9 the other takes over and reconciles a change made meanwhile", async () => {
    const leader = await eventually("a leader", async () => {
      const states = await Promise.all(replicas.map(isLeader));
      return states.filter(Boolean).length === 1 ? replicas[states.indexOf(true)] : undefined;
    });
    const follower = replicas.find((r) => r !== leader);
    if (!leader || !follower) throw new Error("no leader/follower");
    expect(await isLeader(follower)).toBe(false);
    const lease = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "veltrix-operator", namespace });
    expect(lease.spec?.holderIdentity).toBe(leader.name);

    await createVxc(namespace, "web", { config: { v: "1" } });
    await eventually("web Ready", () => readyVxc(namespace, "web"));

    await leader.proc.kill();
    const changed = await updateSpec(namespace, "web", (s) => ({ ...s, config: { v: "2" } }));
    const want = configDocument({ namespace, name: "web" }, changed.spec).revision;

    await eventually(
      "the follower leads",
      async () => ((await isLeader(follower)) ? true : undefined),
      30_000,
    );
    const web = await eventually(
      "the change reconciled by the new leader",
      async () => {
        const v = await readyVxc(namespace, "web");
        return v?.status?.revision === want ? v : undefined;
      },
      30_000,
    );
    expect(web.status?.observedGeneration).toBe(changed.metadata?.generation);
    const after = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "veltrix-operator", namespace });
    expect(after.spec?.holderIdentity).toBe(follower.name);
    expect(after.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
    expect((await getVxc(namespace, "web")).status?.revision).toBe(want);

    // SIGTERM: the new leader shuts down cleanly and releases the Lease for the next one.
    await follower.proc.stop();
    expect(follower.proc.tail(3)).toMatch(/exited code=0 signal=null/);
    const released = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "veltrix-operator", namespace });
    expect(released.spec?.holderIdentity).toBe("");
  });
});
