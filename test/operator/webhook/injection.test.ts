// The real kube-apiserver calls the real webhook: pods are stored injected,
// refused with the webhook's message, or passed through.
import { AppsV1Api, CoreV1Api, type V1Container, type V1Pod } from "@kubernetes/client-node";
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
    const optedOut = await core.createNamespacedPod({
      namespace,
      body: pod("opted-out", { "veltrix.io/inject": "false" }),
    });
    expect(optedOut.spec?.initContainers).toBeUndefined();
    expect(optedOut.metadata?.annotations?.["veltrix.io/status"]).toBeUndefined();
  });

  it("leaves pods alone in a namespace that does not opt in", async () => {
    const namespace = await createNamespace("vx-none", webhook.selector);
    const created = await core.createNamespacedPod({ namespace, body: pod("plain") });
    expect(created.spec?.initContainers).toBeUndefined();
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

  it("counts what it did", async () => {
    const text = await webhook.registry.metrics();
    expect(text).toMatch(/veltrix_webhook_admissions_total\{outcome="inject",reason=""\} [1-9]/);
    expect(text).toMatch(/veltrix_webhook_admissions_total\{outcome="refuse",reason=""\} [1-9]/);
    expect(text).toMatch(/veltrix_webhook_admissions_total\{outcome="skip",reason="opted-out"\} [1-9]/);
    expect(text).toMatch(/veltrix_webhook_certificate_expiry_timestamp_seconds \d+/);
  });
});
