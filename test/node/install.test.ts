// The short form of the node suite (in the default run): helm install on a real node, the
// operator in pods holding the Lease, an injected demo Deployment Ready with the native
// sidecar, and requests through its ClusterIP Service and its DNS name reaching the app in
// sync mode with the operator's revision.
import { writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PolicyV1Api, type V1Pod } from "@kubernetes/client-node";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ConfigRef,
  inboxPrefix,
  natsCredentialsKey,
  natsCredentialsSecretName,
} from "../../api/contract.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { attemptsTable, tryEverythingOf } from "../operator/nats-identity/attempts.ts";
import { dockerfileTarget, readLayerFile, readOciImage } from "./image-contract.ts";
import { nodeFailedMarker } from "./setup.ts";
import {
  containerSpec,
  demoDeployment,
  demoService,
  podReady,
  releaseName,
  releaseNamespace,
  startVeltrixOnNode,
  type VeltrixOnNode,
  until,
  volumeFiles,
} from "./veltrix-on-node.ts";

/** Every file and directory under `dir`, relative to it. */
async function readdirRecursive(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
}

interface DemoAnswer {
  path: string;
  requestId: string | null;
  configRevision: string | null;
  attempt: string | null;
}

describe("Veltrix on a real node (helm install, pods, native sidecar)", () => {
  let env: VeltrixOnNode;
  const appNamespace = "shop";
  const runDir = inject("runDir");
  let servicePort = 0;
  const natsService = `${releaseName}-nats.${releaseNamespace}.svc.cluster.local`;
  const demoPod = async (): Promise<V1Pod> => {
    const pods = await env.core.listNamespacedPod({ namespace: appNamespace, labelSelector: "app=demo" });
    const pod = pods.items.find(podReady);
    if (!pod) throw new Error("no Ready demo pod");
    return pod;
  };
  const demoAnswers = async (path: string): Promise<boolean> =>
    (await fetch(`http://127.0.0.1:${servicePort}/${path}`)).status === 200;
  const readConfig = async (): Promise<{ status?: { revision?: string; pods?: { summary?: string } } }> =>
    (await env.custom.getNamespacedCustomObject({
      group: "veltrix.io",
      version: "v1alpha1",
      namespace: appNamespace,
      plural: "veltrixconfigs",
      name: "demo",
    })) as { status?: { revision?: string; pods?: { summary?: string } } };

  beforeAll(async () => {
    env = await startVeltrixOnNode(join(runDir, "install"));
    console.log(`node suite: ${JSON.stringify(env.timings)}; node: ${JSON.stringify(env.cluster.timings)}`);
  }, 420_000);

  afterAll(async () => {
    await env?.stop();
  }, 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") writeFileSync(join(runDir, nodeFailedMarker), ctx.task.name);
  });

  it("builds images with the release Dockerfile's app tree, entrypoint, user and flags", async () => {
    const bundleFiles = (await readdirRecursive(env.bundle)).map((p) => `app/${p}`).sort();
    for (const target of ["operator", "sidecar"] as const) {
      const intent = dockerfileTarget(join(repoRoot, "images/Dockerfile"), target);
      const image = await readOciImage(env.images[target].layout);
      expect(image.config.Entrypoint, target).toEqual(intent.entrypoint);
      expect(image.config.Cmd, target).toEqual(intent.cmd);
      expect(image.config.User, target).toBe(intent.user);
      expect(image.config.WorkingDir, target).toBe(intent.appDir);
      expect(image.config.WorkingDir, target).toBe(intent.workingDir);
      for (const [key, value] of Object.entries(intent.env))
        expect(image.config.Env, target).toContain(`${key}=${value}`);
      expect(Object.keys(image.config.ExposedPorts ?? {}).sort(), target).toEqual(
        intent.exposedPorts.map((p) => `${p}/tcp`).sort(),
      );
      // The application tree is the bundle, file for file.
      const app = (image.layers.at(-1) ?? []).filter((p) => p.startsWith("app/")).sort();
      expect(app, target).toEqual(bundleFiles);
      // The runtime base: glibc, CA certificates, nonroot 65532, Node, and no shell.
      const base = image.layers[0] ?? [];
      expect(base).toContain("etc/ssl/certs/ca-certificates.crt");
      expect(base.some((p) => /lib\/x86_64-linux-gnu\/libc\.so\.6$/.test(p))).toBe(true);
      expect(base.some((p) => /(^|\/)bin\/(sh|bash|dash)$/.test(p))).toBe(false);
      expect(image.layers[1]).toContain("nodejs/bin/node");
      expect(await readLayerFile(env.images[target].layout, 0, "etc/passwd")).toMatch(
        /^nonroot:x:65532:65532:/m,
      );
    }
  });

  it("runs the operator's replicas in pods; one holds the Lease", async () => {
    const pods = await env.core.listNamespacedPod({
      namespace: releaseNamespace,
      labelSelector: "app.kubernetes.io/component=operator",
    });
    expect(pods.items.filter(podReady).map((p) => p.metadata?.name)).toHaveLength(2);
    const names = pods.items.map((p) => p.metadata?.name ?? "");
    const holder = await until("a leader", async () => {
      const lease = await env.coordination.readNamespacedLease({
        name: `${releaseName}-leader`,
        namespace: releaseNamespace,
      });
      return lease.spec?.holderIdentity ?? undefined;
    });
    expect(names.some((name) => holder.includes(name))).toBe(true);
  });

  it("injects the native sidecar into an annotated Deployment that becomes Ready", async () => {
    await env.core.createNamespace({
      body: { metadata: { name: appNamespace, labels: { "veltrix.io/injection": "enabled" } } },
    });
    await until("the default ServiceAccount", () =>
      env.core.readNamespacedServiceAccount({ name: "default", namespace: appNamespace }),
    );
    await env.custom.createNamespacedCustomObject({
      group: "veltrix.io",
      version: "v1alpha1",
      namespace: appNamespace,
      plural: "veltrixconfigs",
      body: {
        apiVersion: "veltrix.io/v1alpha1",
        kind: "VeltrixConfig",
        metadata: { name: "demo" },
        spec: { config: { greeting: "hello from the node" }, queue: { mode: "sync", maxConcurrency: 4 } },
      },
    });
    await until("VeltrixConfig Ready", async () => {
      const vxc = (await env.custom.getNamespacedCustomObject({
        group: "veltrix.io",
        version: "v1alpha1",
        namespace: appNamespace,
        plural: "veltrixconfigs",
        name: "demo",
      })) as { status?: { conditions?: { type: string; status: string }[] } };
      return vxc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        ? true
        : undefined;
    });
    const created = Date.now();
    await env.apps.createNamespacedDeployment({
      namespace: appNamespace,
      body: demoDeployment("demo", "demo"),
    });
    await env.core.createNamespacedService({ namespace: appNamespace, body: demoService("demo") });
    const pod = await until(
      "a Ready demo pod",
      async () => {
        const pods = await env.core.listNamespacedPod({ namespace: appNamespace, labelSelector: "app=demo" });
        return pods.items.find(podReady);
      },
      120_000,
    );
    console.log(
      `node suite: demo pod Ready ${(Date.now() - created) / 1000} s after the Deployment was created`,
    );
    const sidecar = pod.spec?.initContainers?.find((c) => c.name === "veltrix-sidecar");
    expect(sidecar?.restartPolicy).toBe("Always");
    expect(pod.metadata?.annotations?.["veltrix.io/status"]).toBe("injected");
    const statuses = pod.status?.initContainerStatuses?.find((s) => s.name === "veltrix-sidecar");
    expect(statuses?.started).toBe(true);
    expect(statuses?.ready).toBe(true);
  });

  it("answers through the ClusterIP Service and its DNS name, in sync mode, with the operator's revision", async () => {
    const vxc = (await env.custom.getNamespacedCustomObject({
      group: "veltrix.io",
      version: "v1alpha1",
      namespace: appNamespace,
      plural: "veltrixconfigs",
      name: "demo",
    })) as { status?: { revision?: string } };
    const revision = vxc.status?.revision;
    expect(revision).toBeTruthy();
    const service = await env.core.readNamespacedService({ name: "demo", namespace: appNamespace });
    const clusterIp = service.spec?.clusterIP ?? "";
    const viaIp = await env.cluster.expose(clusterIp, 80);
    servicePort = viaIp;
    const viaDns = await env.cluster.expose(`demo.${appNamespace}.svc.cluster.local`, 80);
    for (const [how, port] of [
      ["ClusterIP", viaIp],
      ["DNS name", viaDns],
    ] as const) {
      const answers = await until(`answers via the ${how}`, async () => {
        const all = await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            const res = await fetch(`http://127.0.0.1:${port}/${how === "DNS name" ? "dns" : "ip"}/${i}`);
            return { status: res.status, body: (await res.json()) as DemoAnswer, headers: res.headers };
          }),
        );
        return all.every((a) => a.status === 200) ? all : undefined;
      });
      for (const a of answers) {
        expect(a.body.requestId).toMatch(/.+/);
        expect(a.body.configRevision).toBe(revision);
        expect(a.body.attempt).toBe("1");
      }
    }
  });

  it("shows the pod in sync in kubectl get vxc, and a config change reaches the running pod", async () => {
    await until("1/1 in sync", async () =>
      (await readConfig()).status?.pods?.summary === "1/1" ? true : undefined,
    );
    const table = await env.kubectl(["-n", appNamespace, "get", "vxc", "demo"]);
    expect(table).toMatch(/demo\s+.*1\/1/);
    const before = (await readConfig()).status?.revision;
    await env.kubectl([
      "-n",
      appNamespace,
      "patch",
      "vxc",
      "demo",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ spec: { config: { greeting: "changed on the node" } } }),
    ]);
    const after = await until("a new revision", async () => {
      const revision = (await readConfig()).status?.revision;
      return revision && revision !== before ? revision : undefined;
    });
    const changed = Date.now();
    await until("the pod answering with the new revision", async () => {
      const res = await fetch(`http://127.0.0.1:${servicePort}/after-change`);
      const body = (await res.json()) as DemoAnswer;
      return body.configRevision === after ? true : undefined;
    });
    console.log(
      `node suite: the new revision reached the pod ${(Date.now() - changed) / 1000} s after the operator published it`,
    );
  });
  it("runs the pod as the kubelet was told: read-only root file systems, user 65532, SQLite on an emptyDir as 65532", async () => {
    const pod = await demoPod();
    const sidecar = pod.status?.initContainerStatuses?.find((s) => s.name === "veltrix-sidecar");
    const app = pod.status?.containerStatuses?.find((s) => s.name === "app");
    for (const [name, status] of [
      ["veltrix-sidecar", sidecar],
      ["app", app],
    ] as const) {
      const spec = await containerSpec(env, status?.containerID);
      expect(spec.root?.readonly, name).toBe(true);
      expect(spec.process?.user?.uid, name).toBe(65532);
    }
    // The sidecar's state volume: its SQLite files, made by the sidecar running as 65532.
    const state = await volumeFiles(env, pod, "empty-dir", "veltrix-state");
    expect(state.map((f) => f.path)).toEqual(expect.arrayContaining(["config.db"]));
    expect(state.some((f) => /^requests-\d+\.db$/.test(f.path))).toBe(true);
    expect(state.filter((f) => f.uid !== 65532)).toEqual([]);
  });

  it("mounts the config's minted NATS credentials Secret; the bundled NATS refuses a client without credentials", async () => {
    const pod = await demoPod();
    const vxc = (await env.custom.getNamespacedCustomObject({
      group: "veltrix.io",
      version: "v1alpha1",
      namespace: appNamespace,
      plural: "veltrixconfigs",
      name: "demo",
    })) as { metadata: { uid: string } };
    const volume = pod.spec?.volumes?.find((v) => v.name === "veltrix-nats");
    expect(volume?.secret?.secretName).toBe(natsCredentialsSecretName("demo"));
    const secret = await env.core.readNamespacedSecret({
      name: natsCredentialsSecretName("demo"),
      namespace: appNamespace,
    });
    // Owned by the VeltrixConfig: it goes with the config, not with the release.
    expect(secret.metadata?.ownerReferences?.map((o) => [o.kind, o.uid])).toEqual([
      ["VeltrixConfig", vxc.metadata.uid],
    ]);
    const creds = Buffer.from(secret.data?.[natsCredentialsKey] ?? "", "base64").toString("utf8");
    expect(creds).toMatch(/BEGIN NATS USER JWT/);
    // What the kubelet mounted is the Secret's user (the sidecar connected with it: it answered).
    const mounted = await volumeFiles(env, pod, "secret", "veltrix-nats", true);
    expect(mounted.find((f) => f.path === natsCredentialsKey)?.content).toBe(creds);
    const port = await env.cluster.expose(natsService, 4222);
    const refused = await connect({ servers: `127.0.0.1:${port}`, reconnect: false }).then(
      async (nc) => {
        await nc.close();
        return "connected";
      },
      (err: unknown) => String(err),
    );
    expect(refused).toMatch(/authorization violation/i);
  });

  it("isolates tenants on the bundled NATS: another config's minted user reaches none of this one's traffic", async () => {
    const a: ConfigRef = { namespace: appNamespace, name: "demo" };
    const b: ConfigRef = { namespace: "other-team", name: "other" };
    await env.core.createNamespace({ body: { metadata: { name: b.namespace } } });
    await env.custom.createNamespacedCustomObject({
      group: "veltrix.io",
      version: "v1alpha1",
      namespace: b.namespace,
      plural: "veltrixconfigs",
      body: {
        apiVersion: "veltrix.io/v1alpha1",
        kind: "VeltrixConfig",
        metadata: { name: b.name },
        spec: { config: {}, queue: { mode: "sync" } },
      },
    });
    // B's user as its sidecars would get it: read from its Secret through the API.
    const credsB = await until(`Secret ${natsCredentialsSecretName(b.name)}`, async () => {
      const s = await env.core.readNamespacedSecret({
        name: natsCredentialsSecretName(b.name),
        namespace: b.namespace,
      });
      const data = s.data?.[natsCredentialsKey];
      return data && Buffer.from(data, "base64").toString("utf8");
    });
    const port = await env.cluster.expose(natsService, 4222);
    const nc = await connect({
      servers: `127.0.0.1:${port}`,
      reconnect: false,
      authenticator: credsAuthenticator(new TextEncoder().encode(credsB)),
      inboxPrefix: inboxPrefix(b),
    });
    const attempts = await tryEverythingOf(nc, a).finally(() => nc.close());
    console.log(
      `node suite: attempts with ${b.namespace}'s minted user on ${a.namespace}:\n${attemptsTable(attempts)}`,
    );
    expect(attempts.length).toBeGreaterThan(30);
    expect(attempts.filter((t) => !t.refused)).toEqual([]);
    expect(await demoAnswers("after-isolation")).toBe(true);
  });

  it("has a PodDisruptionBudget that lets one operator replica be evicted and refuses the second", async () => {
    const policy = env.kc.makeApiClient(PolicyV1Api);
    await until("the PodDisruptionBudget allowing one disruption", async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({
        name: releaseName,
        namespace: releaseNamespace,
      });
      return pdb.status?.currentHealthy === 2 && pdb.status.disruptionsAllowed === 1 ? pdb : undefined;
    });
    const [first, second] = (
      await env.core.listNamespacedPod({
        namespace: releaseNamespace,
        labelSelector: "app.kubernetes.io/component=operator",
      })
    ).items.map((p) => p.metadata?.name ?? "");
    const evict = (name: string | undefined): Promise<string> =>
      env.core
        .createNamespacedPodEviction({
          name: name ?? "",
          namespace: releaseNamespace,
          body: { metadata: { name: name ?? "", namespace: releaseNamespace } },
        })
        .then(
          () => "evicted",
          (err: unknown) => `refused ${(err as { code?: number }).code}: ${String(err)}`,
        );
    expect(await evict(first)).toBe("evicted");
    expect(await evict(second)).toMatch(/^refused 429: [\s\S]*would violate the pod's disruption budget/);
    // The Deployment replaces the evicted replica.
    await until(
      "two Ready operator replicas again",
      async () => {
        const pods = await env.core.listNamespacedPod({
          namespace: releaseNamespace,
          labelSelector: "app.kubernetes.io/component=operator",
        });
        const ready = pods.items.filter(podReady).map((p) => p.metadata?.name);
        return ready.length === 2 && !ready.includes(first) ? true : undefined;
      },
      120_000,
    );
  });
});
