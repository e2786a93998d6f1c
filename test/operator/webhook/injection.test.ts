// The real kube-apiserver calls the real webhook: pods are stored injected,
// refused with the webhook's message, or passed through.
import { AppsV1Api, CoreV1Api, type V1Container, type V1Pod, type V1PodSpec } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import type { VeltrixConfigSpec } from "../../../api/types.generated.ts";
import { createNamespace, eventually, kubeConfig } from "../../harness/env.ts";
import { sidecarImage, startTestWebhook, type TestWebhook } from "./webhook-env.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

async function createConfig(namespace: string, name: string, spec: VeltrixConfigSpec = {}): Promise<void> {
  await createVeltrixConfig(kc, namespace, name, { config: { a: "b" }, ...spec });
}

function appContainer(overrides: Partial<V1Container> = {}): V1Container {
  return {
    name: "web",
    image: "registry.example/web:1",
    ports: [{ name: "http", containerPort: 8080 }],
    securityContext: {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...overrides,
  };
}

function pod(name: string, annotations: Record<string, string> = {}): V1Pod {
  return { metadata: { name, annotations }, spec: { containers: [appContainer()] } };
}

function withoutTokenVolume(p: V1Pod): unknown {
  const spec = structuredClone(p.spec!);
  const keep = (name: string) => !name.startsWith("kube-api-access-");
  if (spec.volumes) spec.volumes = spec.volumes.filter((v) => keep(v.name));
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    if (c.volumeMounts) c.volumeMounts = c.volumeMounts.filter((m) => keep(m.name));
  }
  return spec;
}

async function admissionCount(webhook: TestWebhook): Promise<number> {
  return (await webhook.metrics.admissions.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** Admissions counted with this outcome (and reason, when given). */
async function admissions(webhook: TestWebhook, outcome: string, reason?: string): Promise<number> {
  return (await webhook.metrics.admissions.get()).values
    .filter((v) => v.labels.outcome === outcome && (reason === undefined || v.labels.reason === reason))
    .reduce((sum, v) => sum + v.value, 0);
}

const sidecarOf = (p: V1Pod) => p.spec?.initContainers?.find((c) => c.name === "veltrix-sidecar");

describe("mutating webhook through the real API server", () => {
  let webhook: TestWebhook;

  beforeAll(async () => {
    webhook = await startTestWebhook();
  });
  afterAll(async () => {
    await webhook.close();
  });

  it("stores an annotated pod with the sidecar, volumes, env and stamps", async () => {
    const namespace = await createNamespace("vx-inject", webhook.selector);
    await createConfig(namespace, "web-config", { store: { sizeLimit: "3Gi" } });
    const callsBefore = await admissionCount(webhook);
    const created = await core.createNamespacedPod({
      namespace,
      body: pod("orders", { "veltrix.io/inject": "true", "veltrix.io/config": "web-config" }),
    });
    // One call: the sidecar already carries the token mount the ServiceAccount plugin would
    // add after us, so the API server has no reason to reinvoke the webhook.
    expect((await admissionCount(webhook)) - callsBefore).toBe(1);
    const stored = await core.readNamespacedPod({ name: "orders", namespace });
    expect(stored.spec).toEqual(created.spec);
    const sidecar = sidecarOf(stored);
    expect(sidecar?.restartPolicy).toBe("Always");
    expect(sidecar?.image).toBe(sidecarImage);
    expect(sidecar?.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ["http", 15080],
      ["vx-admin", 15090],
      ["vx-metrics", 15091],
    ]);
    expect(stored.spec?.containers[0]?.ports?.[0]).toMatchObject({ name: "vx-app", containerPort: 8080 });
    expect(stored.spec?.volumes?.find((v) => v.name === "veltrix-state")?.emptyDir?.sizeLimit).toBe("3Gi");
    expect(stored.spec?.containers[0]?.volumeMounts).toContainEqual(
      expect.objectContaining({ name: "veltrix-config", mountPath: "/etc/veltrix", readOnly: true }),
    );
    expect(sidecar?.env?.find((e) => e.name === "VELTRIX_POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.name",
    );
    expect(stored.metadata?.annotations?.["veltrix.io/status"]).toBe("injected");
    expect(stored.metadata?.annotations?.["veltrix.io/injected-revision"]).toMatch(/.+/);
    expect(stored.metadata?.labels?.["veltrix.io/config"]).toBe("web-config");
  });

  it("injects the pods a Deployment makes through kube-controller-manager (generateName)", async () => {
    const namespace = await createNamespace("vx-deploy", webhook.selector);
    await createConfig(namespace, "default");
    const labels = { app: "shop" };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "shop" },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { "veltrix.io/inject": "true" } },
            spec: { containers: [appContainer()] },
          },
        },
      },
    });
    const pods = await eventually("two pods for the Deployment", async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: "app=shop" });
      return list.items.length === 2 ? list.items : undefined;
    });
    for (const p of pods) {
      expect(p.metadata?.generateName).toMatch(/^shop-/);
      expect(sidecarOf(p)).toBeDefined();
      expect(p.metadata?.labels?.["veltrix.io/config"]).toBe("default");
    }
  });

  it("injects by namespace label and honours the pod's opt-out", async () => {
    const namespace = await createNamespace("vx-nsopt", {
      ...webhook.selector,
      "veltrix.io/injection": "enabled",
    });
    await createConfig(namespace, "default");
    const inNamespace = await core.createNamespacedPod({ namespace, body: pod("plain") });
    expect(sidecarOf(inNamespace)).toBeDefined();
    const skippedBefore = await admissions(webhook, "skip", "opted-out");
    const optedOut = await core.createNamespacedPod({
      namespace,
      body: pod("opted-out", { "veltrix.io/inject": "false" }),
    });
    expect(optedOut.spec?.initContainers).toBeUndefined();
    expect(optedOut.metadata?.annotations?.["veltrix.io/status"]).toBeUndefined();
    // The webhook saw it and chose to skip it (not a pod the API server never sent).
    expect((await admissions(webhook, "skip", "opted-out")) - skippedBefore).toBe(1);
  });

  it("leaves pods alone in a namespace that does not opt in", async () => {
    const namespace = await createNamespace("vx-none", webhook.selector);
    const callsBefore = await admissionCount(webhook);
    const skippedBefore = await admissions(webhook, "skip", "not-opted-in");
    const created = await core.createNamespacedPod({ namespace, body: pod("plain") });
    expect(created.spec?.initContainers).toBeUndefined();
    // Called once, and it skipped the pod for not opting in.
    expect((await admissionCount(webhook)) - callsBefore).toBe(1);
    expect((await admissions(webhook, "skip", "not-opted-in")) - skippedBefore).toBe(1);
  });

  it("refuses a pod naming a missing config, with every problem in the message", async () => {
    const namespace = await createNamespace("vx-missing", webhook.selector);
    const error = await core
      .createNamespacedPod({
        namespace,
        body: pod("lost", {
          "veltrix.io/inject": "true",
          "veltrix.io/config": "nowhere",
          "veltrix.io/drain-seconds": "later",
        }),
      })
      .then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    expect(error?.message).toContain("VeltrixConfig 'nowhere' does not exist in namespace");
    expect(error?.message).toContain("invalid value 'later' for annotation 'veltrix.io/drain-seconds'");
    await expect(core.readNamespacedPod({ name: "lost", namespace })).rejects.toThrow();
  });

  it("admits the injected pod in a namespace enforcing Pod Security restricted", async () => {
    const namespace = await createNamespace("vx-restricted", {
      ...webhook.selector,
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
    });
    await createConfig(namespace, "default");
    const body = pod("strict", { "veltrix.io/inject": "true" });
    body.spec!.securityContext = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
    const created = await core.createNamespacedPod({ namespace, body });
    expect(sidecarOf(created)).toBeDefined();
    // The namespace really enforces: a pod that is not restricted-compliant is rejected.
    await expect(
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: "loose" },
          spec: { containers: [{ name: "c", image: "registry.example/c:1" }] },
        },
      }),
    ).rejects.toThrow(/violates PodSecurity/);
  });

  it("gives the same result for the same pod twice", async () => {
    const namespace = await createNamespace("vx-twice", webhook.selector);
    await createConfig(namespace, "default");
    const annotations = { "veltrix.io/inject": "true" };
    const a = await core.createNamespacedPod({ namespace, body: pod("same-a", annotations) });
    const b = await core.createNamespacedPod({ namespace, body: pod("same-b", annotations) });
    // Equal but for the service-account token volume, whose name the API server randomizes.
    expect(withoutTokenVolume(b)).toEqual(withoutTokenVolume(a));
    expect(b.metadata?.annotations).toEqual(a.metadata?.annotations);
    expect(a.spec?.initContainers?.filter((c) => c.name === "veltrix-sidecar")).toHaveLength(1);
  });

  it("refuses a pod whose names collide with the injection, naming each, and stores nothing", async () => {
    const namespace = await createNamespace("vx-collide", webhook.selector);
    await createConfig(namespace, "default");
    const body = pod("collides", { "veltrix.io/inject": "true" });
    body.spec!.containers[0]!.ports!.push({ name: "vx-admin", containerPort: 15080 });
    body.spec!.volumes = [{ name: "veltrix-state", emptyDir: {} }];
    const refusedBefore = await admissions(webhook, "refuse");
    const error = await core.createNamespacedPod({ namespace, body }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toContain("Veltrix cannot inject this pod");
    expect(error?.message).toContain("the pod already has a volume named 'veltrix-state'");
    expect(error?.message).toContain("container 'web' already uses port 15080");
    expect(error?.message).toContain("container 'web' already has a port named 'vx-admin'");
    expect((await admissions(webhook, "refuse")) - refusedBefore).toBe(1);
    await expect(core.readNamespacedPod({ name: "collides", namespace })).rejects.toThrow();
  });

  it("refuses a pod with its own container named veltrix-sidecar (not injected by Veltrix)", async () => {
    const namespace = await createNamespace("vx-lookalike", webhook.selector);
    await createConfig(namespace, "default");
    const body = pod("lookalike", { "veltrix.io/inject": "true" });
    body.spec!.containers.push({ name: "veltrix-sidecar", image: "registry.example/my-own-sidecar:1" });
    const error = await core.createNamespacedPod({ namespace, body }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toContain(
      "the pod already has a container named 'veltrix-sidecar' that Veltrix did not inject",
    );
    await expect(core.readNamespacedPod({ name: "lookalike", namespace })).rejects.toThrow();
    // The same pod after our injection (status annotation and sidecar) passes through
    // untouched: already injected.
    const injected = await core.createNamespacedPod({
      namespace,
      body: pod("first", { "veltrix.io/inject": "true" }),
    });
    const skippedBefore = await admissions(webhook, "skip", "already-injected");
    const again = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "again", annotations: injected.metadata?.annotations ?? {} },
        spec: withoutTokenVolume(injected) as V1PodSpec,
      },
    });
    expect(again.spec?.initContainers?.filter((c) => c.name === "veltrix-sidecar")).toHaveLength(1);
    expect((await admissions(webhook, "skip", "already-injected")) - skippedBefore).toBe(1);
  });

  it("counts what it did", async () => {
    const namespace = await createNamespace("vx-count", webhook.selector);
    await createConfig(namespace, "default");
    const counted = async () => [
      await admissions(webhook, "inject", ""),
      await admissions(webhook, "refuse", ""),
      await admissions(webhook, "skip", "opted-out"),
    ];
    const before = await counted();
    await core.createNamespacedPod({ namespace, body: pod("in", { "veltrix.io/inject": "true" }) });
    await core
      .createNamespacedPod({
        namespace,
        body: pod("refused", { "veltrix.io/inject": "true", "veltrix.io/config": "nowhere" }),
      })
      .catch(() => undefined);
    await core.createNamespacedPod({ namespace, body: pod("out", { "veltrix.io/inject": "false" }) });
    expect(await counted()).toEqual(before.map((n) => n + 1));
    const text = await webhook.registry.metrics();
    expect(text).toMatch(/veltrix_webhook_admissions_total\{outcome="inject",reason=""\} [1-9]/);
    expect(text).toMatch(/veltrix_webhook_certificate_expiry_timestamp_seconds \d+/);
  });
});
