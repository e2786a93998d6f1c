// The node suite's full form (npm run test:node): what happens to an injected app while
// the cluster changes under steady load: scaling, a rolling restart, a killed sidecar, a
// killed NATS, helm upgrade and helm uninstall. Each claim is one the docs make.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type V1ContainerStatus, type V1Pod, Watch } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { natsCredentialsSecretName } from "../../api/contract.ts";
import { eventually } from "../../devenv/eventually.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { nodeFailedMarker } from "./setup.ts";
import { type Outcome, startSteadyLoad, summarize, undocumented } from "./steady-load.ts";
import {
  deployDemo,
  podReady,
  releaseName,
  releaseNamespace,
  startVeltrixOnNode,
  type VeltrixOnNode,
} from "./veltrix-on-node.ts";

/** Polls `check` with this suite's longer deadline (90 s) at the node suite's pace (250 ms). */
const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> =>
  eventually(what, check, timeoutMs, 250);

const ns = "ops";

/** Waits until the load got `n` more successful answers: it ran through the current state. */
function answeredMore(outcomes: readonly Outcome[], n: number): Promise<true> {
  const from = outcomes.length;
  return until(`${n} more answers under load`, () =>
    Promise.resolve(outcomes.slice(from).filter((o) => o.status === 200).length >= n ? true : undefined),
  );
}

describe("an injected app on a real node while the cluster changes", () => {
  let env: VeltrixOnNode;
  let port: number;
  const runDir = inject("runDir");

  const pods = async (): Promise<V1Pod[]> =>
    (await env.core.listNamespacedPod({ namespace: ns, labelSelector: "app=ops" })).items;
  const oneAnswer = async (): Promise<boolean | undefined> => {
    const res = await fetch(`http://127.0.0.1:${port}/probe`, { signal: AbortSignal.timeout(5_000) });
    await res.text();
    return res.status === 200 ? true : undefined;
  };

  beforeAll(async () => {
    env = await startVeltrixOnNode(join(runDir, "operations"));
    await deployDemo(env.kc, {
      namespace: ns,
      name: "ops",
      spec: { config: { step: "start" }, queue: { mode: "sync", maxConcurrency: 4 } },
    });
    const service = await env.core.readNamespacedService({ name: "ops", namespace: ns });
    port = await env.cluster.expose(service.spec?.clusterIP ?? "", 80);
    await until("an answer through the Service", oneAnswer);
  }, 480_000);

  afterAll(async () => {
    await env?.stop();
  }, 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") writeFileSync(join(runDir, nodeFailedMarker), ctx.task.name);
  });

  it("scales 1 -> 3 -> 1 and rolls under steady load: every request answered as documented, once, repeats marked", async () => {
    // The kubelet deletes a pod's logs with the pod: keep a copy of every container's log
    // while pods come and go, so a failure here can be read afterwards (pod-logs-kept/).
    const logs = join(env.cluster.dir, "kubelet", "pod-logs");
    const kept = join(env.cluster.dir, "pod-logs-kept");
    const copier = setInterval(() => {
      execFile("cp", ["-r", "-u", `${logs}/.`, kept], () => undefined);
    }, 1_000);
    mkdirSync(kept, { recursive: true });
    const load = startSteadyLoad(port, { concurrency: 4, pauseMs: 10, maxMs: 240_000 });
    const t0 = Date.now();
    const marks: string[] = [];
    const mark = (what: string): void => {
      marks.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    };
    await answeredMore(load.outcomes, 50);
    mark("scale to 3");
    await env.kubectl(["-n", ns, "scale", "deploy/ops", "--replicas=3"]);
    await until(
      "3 Ready pods",
      async () => ((await pods()).filter(podReady).length === 3 ? true : undefined),
      120_000,
    );
    await answeredMore(load.outcomes, 50);
    mark("scale to 1");
    await env.kubectl(["-n", ns, "scale", "deploy/ops", "--replicas=1"]);
    await until("1 pod left", async () => ((await pods()).length === 1 ? true : undefined), 120_000);
    mark("rollout restart");
    await env.kubectl(["-n", ns, "rollout", "restart", "deploy/ops"]);
    await env.kubectl(["-n", ns, "rollout", "status", "deploy/ops", "--timeout=120s"]);
    await until("the old pod gone", async () => ((await pods()).length === 1 ? true : undefined), 120_000);
    await answeredMore(load.outcomes, 50);
    const outcomes = await load.stop();
    clearInterval(copier);
    mark("done");
    console.log(
      `node suite: scale and roll under load: ${JSON.stringify(summarize(outcomes))}; ${marks.join(", ")}`,
    );
    for (const o of undocumented(outcomes)) {
      console.log(
        `node suite: undocumented answer at ${((o.at - t0) / 1000).toFixed(1)}s: ${JSON.stringify(o)}`,
      );
    }
    const ok = outcomes.filter((o) => o.status === 200);
    expect(ok.length).toBeGreaterThan(100);
    expect(undocumented(outcomes)).toEqual([]);
    const ids = ok.map((o) => o.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    // A request redelivered (a draining pod handed it back, or its executor went away) is
    // answered with attempt > 1: the promise is that a repeat is marked, never silent. Whether
    // the demo app ran it twice it cannot say (it keeps no record of ids).
    expect(ok.filter((o) => !o.attempt || Number(o.attempt) < 1)).toEqual([]);
    console.log(`node suite: answered on a later attempt: ${ok.filter((o) => o.attempt !== "1").length}`);
  });

  it("the kubelet restarts a sidecar killed through the runtime, and requests recover", async () => {
    const [pod] = (await pods()).filter(podReady);
    const status = pod?.status?.initContainerStatuses?.find((s) => s.name === "veltrix-sidecar");
    const id = (status?.containerID ?? "").replace(/^containerd:\/\//, "");
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const restarts = status?.restartCount ?? 0;
    await env.cluster.containerd.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
    await until("the sidecar restarted and the pod Ready", async () => {
      const now = await env.core.readNamespacedPod({ name: pod?.metadata?.name ?? "", namespace: ns });
      const s = now.status?.initContainerStatuses?.find((c) => c.name === "veltrix-sidecar");
      return (s?.restartCount ?? 0) > restarts && podReady(now) ? true : undefined;
    });
    await until("an answer through the Service", oneAnswer, 60_000);
  });

  it("answers as documented while NATS is killed, and recovers when it is back", async () => {
    const nats = await env.core.readNamespacedPod({
      name: `${releaseName}-nats-0`,
      namespace: releaseNamespace,
    });
    const id = (nats.status?.containerStatuses?.[0]?.containerID ?? "").replace(/^containerd:\/\//, "");
    const load = startSteadyLoad(port, { concurrency: 2, pauseMs: 50, maxMs: 180_000 });
    await answeredMore(load.outcomes, 5);
    await env.cluster.containerd.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
    await until("NATS Ready again", async () => {
      const now = await env.core.readNamespacedPod({
        name: `${releaseName}-nats-0`,
        namespace: releaseNamespace,
      });
      return podReady(now) && (now.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0 ? true : undefined;
    });
    await until(
      "answers again",
      () => {
        const recent = load.outcomes.slice(-10);
        return Promise.resolve(
          recent.length === 10 && recent.every((o) => o.status === 200) ? true : undefined,
        );
      },
      120_000,
    );
    const outcomes = await load.stop();
    console.log(`node suite: NATS killed under load: ${JSON.stringify(summarize(outcomes))}`);
    expect(undocumented(outcomes)).toEqual([]);
  });

  it("answers as documented while the NATS pod is deleted (its emptyDir store lost), and recovers once it is back", async () => {
    const natsPod = async (): Promise<V1Pod> =>
      env.core.readNamespacedPod({ name: `${releaseName}-nats-0`, namespace: releaseNamespace });
    const uid = (await natsPod()).metadata?.uid;
    const load = startSteadyLoad(port, { concurrency: 2, pauseMs: 50, maxMs: 300_000 });
    await answeredMore(load.outcomes, 5);
    await env.core.deleteNamespacedPod({ name: `${releaseName}-nats-0`, namespace: releaseNamespace });
    await until(
      "a new NATS pod Ready",
      async () => {
        const now = await natsPod();
        return now.metadata?.uid !== uid && podReady(now) ? true : undefined;
      },
      180_000,
    );
    const sent = load.outcomes.length;
    // The operator makes the stream, consumer and buckets again (the new pod's store is
    // empty) and the sidecar attaches to them: ten answers in a row after the new pod.
    await until(
      "answers again",
      () => {
        const recent = load.outcomes.slice(sent).slice(-10);
        return Promise.resolve(
          recent.length === 10 && recent.every((o) => o.status === 200) ? true : undefined,
        );
      },
      240_000,
    );
    const outcomes = await load.stop();
    console.log(`node suite: NATS pod deleted under load: ${JSON.stringify(summarize(outcomes))}`);
    expect(undocumented(outcomes)).toEqual([]);
  });

  it("deleting a pod runs the app's preStop sleep before it stops, and the sidecar stops after the app", async () => {
    const [pod] = (await pods()).filter(podReady);
    const name = pod?.metadata?.name ?? "";
    const app = pod?.spec?.containers.find((c) => c.name === "app");
    expect(app?.lifecycle?.preStop?.sleep?.seconds).toBe(5);
    // Every status the kubelet writes while the pod terminates.
    const seen: V1Pod[] = [];
    const watching = await new Watch(env.kc).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { fieldSelector: `metadata.name=${name}` },
      (_phase, obj: V1Pod) => seen.push(obj),
      () => undefined,
    );
    const deleted = Date.now();
    await env.core.deleteNamespacedPod({ name, namespace: ns });
    await until(
      "the pod gone",
      async () => ((await pods()).some((p) => p.metadata?.name === name) ? undefined : true),
      120_000,
    );
    watching.abort();
    const status = (p: V1Pod, container: string): V1ContainerStatus | undefined =>
      [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find(
        (c) => c.name === container,
      );
    // The first status with the app stopped: the sidecar still ran then, or stopped after it.
    // (The watch hands raw JSON: times are RFC 3339 strings with whole seconds.)
    const at = (t: Date | string | undefined): number => new Date(t ?? 0).getTime();
    const appStopped = seen.find((p) => status(p, "app")?.state?.terminated);
    expect(appStopped, "a status with the app terminated").toBeDefined();
    const appFinished = at(status(appStopped as V1Pod, "app")?.state?.terminated?.finishedAt);
    const sidecarThen = status(appStopped as V1Pod, "veltrix-sidecar")?.state;
    if (!sidecarThen?.running) {
      expect(at(sidecarThen?.terminated?.finishedAt)).toBeGreaterThanOrEqual(appFinished);
    }
    // The app ran at least its preStop sleep after the deletion (5 s, less at most one
    // second of truncation).
    expect(appFinished - Math.floor(deleted / 1000) * 1000).toBeGreaterThanOrEqual(4_000);
    await until("a Ready pod again", async () => ((await pods()).some(podReady) ? true : undefined), 120_000);
    await until("an answer through the Service", oneAnswer, 60_000);
  });

  it("helm upgrade with changed values rolls the operator; the app keeps answering", async () => {
    const before = (
      await env.core.listNamespacedPod({
        namespace: releaseNamespace,
        labelSelector: "app.kubernetes.io/component=operator",
      })
    ).items.map((p) => p.metadata?.name);
    await env.helm([
      "upgrade",
      releaseName,
      join(repoRoot, "charts/veltrix"),
      "-n",
      releaseNamespace,
      "--reuse-values",
      "--set",
      "operator.logLevel=debug",
      "--wait",
      "--timeout",
      "3m",
    ]);
    // --wait returns once the new replicas are Ready; the old ones may still be terminating.
    const after = await until("only the new operator pods", async () => {
      const now = (
        await env.core.listNamespacedPod({
          namespace: releaseNamespace,
          labelSelector: "app.kubernetes.io/component=operator",
        })
      ).items;
      return now.length === 2 && now.every(podReady) ? now : undefined;
    });
    expect(after.some((p) => before.includes(p.metadata?.name))).toBe(false);
    await until("an answer through the Service", oneAnswer, 60_000);
  });

  it("helm uninstall leaves no webhook configuration, no operator pods and no object of the release but the CRD", async () => {
    await env.helm(["uninstall", releaseName, "-n", releaseNamespace, "--wait"]);
    await until(
      "the release namespace empty of pods",
      async () =>
        (await env.core.listNamespacedPod({ namespace: releaseNamespace })).items.length === 0
          ? true
          : undefined,
      120_000,
    );
    const webhooks = await env.kubectl(["get", "mutatingwebhookconfigurations", "-o", "name"]);
    expect(webhooks.trim()).toBe("");
    await until(
      "the Lease and Secret collected",
      async () => {
        const left = await env.kubectl([
          "-n",
          releaseNamespace,
          "get",
          "leases,secrets,configmaps,services,statefulsets,deployments,persistentvolumeclaims",
          "-o",
          "name",
        ]);
        const names = left
          .split("\n")
          .filter(Boolean)
          .filter((n) => n !== "configmap/kube-root-ca.crt");
        return names.length === 0 ? true : undefined;
      },
      60_000,
    );
    expect(await env.kubectl(["get", "crd", "veltrixconfigs.veltrix.io", "-o", "name"])).toContain(
      "veltrixconfigs",
    );
    // What the VeltrixConfigs own stays with them (docs/install.md): the minted NATS user's Secret.
    const minted = await env.core.readNamespacedSecret({
      name: natsCredentialsSecretName("ops"),
      namespace: ns,
    });
    expect(minted.metadata?.ownerReferences?.map((o) => o.kind)).toEqual(["VeltrixConfig"]);
  });
});
