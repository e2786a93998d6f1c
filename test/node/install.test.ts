// The short form of the node suite (in the default run): helm install on a real node, the
// operator in pods holding the Lease, an injected demo Deployment Ready with the native
// sidecar, and requests through its ClusterIP Service and its DNS name reaching the app in
// sync mode with the operator's revision.
import { writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PolicyV1Api, StorageV1Api, type V1Pod } from "@kubernetes/client-node";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ConfigRef,
  inboxPrefix,
  natsCredentialsKey,
  natsCredentialsSecretName,
} from "../../api/contract.ts";
import { eventually } from "../../devenv/eventually.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { attemptsTable, tryEverythingOf } from "../operator/nats-identity/attempts.ts";
import { checkAnswers, checkConfigChange, checkInSync, checkNativeSidecar } from "./demo-checks.ts";
import { dockerfileTarget, readLayerFile, readOciImage } from "./image-contract.ts";
import { nodeFailedMarker } from "./setup.ts";
import {
  containerSpec,
  deployDemo,
  localImageValues,
  podReady,
  releaseName,
  releaseNamespace,
  startVeltrixOnNode,
  type VeltrixOnNode,
  volumeFiles,
} from "./veltrix-on-node.ts";

/** Polls with the node suite's deadline (60 s) and pace (250 ms). */
const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  eventually(what, check, timeoutMs, 250);

/** Every file and directory under `dir`, relative to it. */
async function readdirRecursive(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
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
    const created = Date.now();
    const { pod } = await deployDemo(env.kc, {
      namespace: appNamespace,
      name: "demo",
      spec: { config: { greeting: "hello from the node" }, queue: { mode: "sync", maxConcurrency: 4 } },
    });
    console.log(
      `node suite: demo pod Ready ${(Date.now() - created) / 1000} s after the VeltrixConfig was created`,
    );
    checkNativeSidecar(pod);
  });

  it("answers through the ClusterIP Service and its DNS name, in sync mode, with the operator's revision", async () => {
    const revision = (await readConfig()).status?.revision ?? "";
    expect(revision).toBeTruthy();
    const service = await env.core.readNamespacedService({ name: "demo", namespace: appNamespace });
    const viaIp = await env.cluster.expose(service.spec?.clusterIP ?? "", 80);
    servicePort = viaIp;
    const viaDns = await env.cluster.expose(`demo.${appNamespace}.svc.cluster.local`, 80);
    await checkAnswers(`http://127.0.0.1:${viaIp}`, revision, "ip");
    await checkAnswers(`http://127.0.0.1:${viaDns}`, revision, "dns");
  });

  it("shows the pod in sync in kubectl get vxc, and a config change reaches the running pod", async () => {
    await checkInSync(env.kc, appNamespace, "demo", "1/1");
    const table = await env.kubectl(["-n", appNamespace, "get", "vxc", "demo"]);
    expect(table).toMatch(/demo\s+.*1\/1/);
    const { ms } = await checkConfigChange(env.kc, appNamespace, "demo", `http://127.0.0.1:${servicePort}`, {
      greeting: "changed on the node",
    });
    console.log(
      `node suite: the new revision reached the pod ${ms / 1000} s after the operator published it`,
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

  it("refuses to install the bundled NATS on a PVC no StorageClass can bind, naming what to set", async () => {
    // This node has no StorageClass (the suite installs with persistence=emptyDir). Server dry
    // runs of another release: the chart looks the classes up as a real install does.
    const attempt = (set: string[]): Promise<string> =>
      env
        .helm([
          "install",
          "pvc-check",
          join(repoRoot, "charts/veltrix"),
          "-n",
          "pvc-check",
          "--dry-run=server",
          // The release's CRD and cluster objects exist already (owned by the suite's release).
          "--take-ownership",
          "--set",
          "nats.install=true",
          ...set.flatMap((value) => ["--set", value]),
          ...localImageValues(),
        ])
        .then(
          () => "would install",
          (err: unknown) => String(err),
        );
    expect(await attempt([])).toMatch(
      /nats\.bundled\.persistence=persistentVolumeClaim: this cluster has no default StorageClass \(it has: none\) and nats\.bundled\.storageClassName is empty, so the bundled NATS's PVC data-pvc-check-veltrix-nats-0 would stay Pending and NATS with it\. Set nats\.bundled\.storageClassName=<class>, or nats\.bundled\.persistence=emptyDir for a trial/,
    );
    expect(await attempt(["nats.bundled.storageClassName=fast-ssd"])).toMatch(
      /StorageClass 'fast-ssd' does not exist in this cluster \(it has: none\)/,
    );
    // The positive control: with a default StorageClass the same dry runs would install.
    const storage = env.kc.makeApiClient(StorageV1Api);
    await storage.createStorageClass({
      body: {
        metadata: {
          name: "vx-local",
          annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "WaitForFirstConsumer",
      },
    });
    try {
      expect(await attempt([])).toBe("would install");
      expect(await attempt(["nats.bundled.storageClassName=vx-local"])).toBe("would install");
      expect(await attempt(["nats.bundled.storageClassName=fast-ssd"])).toMatch(
        /StorageClass 'fast-ssd' does not exist in this cluster \(it has: vx-local\)/,
      );
    } finally {
      await storage.deleteStorageClass({ name: "vx-local" });
    }
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
