// helm install, upgrade and uninstall against the real API server: the CRD is established,
// RBAC grants what docs/rbac.md says and no more, the webhook configuration intercepts only
// opted-in pods, survives upgrades with its caBundle, and leaves nothing behind that could
// block pod creation.
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createNamespace, eventually, kubeConfig, tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { chartDir } from "./chart.ts";

const release = "vx";

function pod(name: string, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
  };
}

describe("helm install / upgrade / uninstall (real helm, real kube-apiserver)", () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const home = tempDir("helm");
  let namespace = "";
  let appNamespace = "";
  let webhookName = "";
  let installed = false;

  async function run(args: string[]): Promise<string> {
    return (await helm(args, { home, kubeconfig: inject("kubeconfigPath") })).stdout;
  }

  // The webhook configuration is cluster-scoped and other test files create opted-in pods:
  // an extra namespaceSelector limits this release's webhooks to this file's namespaces.
  function scopeArgs(): string[] {
    const scope = [{ key: "veltrix-test/chart-install", operator: "In", values: [namespace] }];
    return ["--set-json", `webhook.extraNamespaceSelectorExpressions=${JSON.stringify(scope)}`];
  }

  async function canI(
    verb: string,
    resource: string,
    ns?: string,
    name?: string,
    group = "",
  ): Promise<boolean> {
    const review = await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${namespace}:${release}-veltrix`,
          groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`],
          resourceAttributes: {
            verb,
            resource,
            group,
            ...(ns ? { namespace: ns } : {}),
            ...(name ? { name } : {}),
          },
        },
      },
    });
    return review.status?.allowed ?? false;
  }

  beforeAll(async () => {
    namespace = await createNamespace("chart-install");
    appNamespace = await createNamespace("chart-app", {
      "veltrix.io/injection": "enabled",
      "veltrix-test/chart-install": "",
    });
    // The label value must name the release namespace (set after both exist).
    await core.patchNamespace({
      name: appNamespace,
      body: [{ op: "replace", path: "/metadata/labels/veltrix-test~1chart-install", value: namespace }],
    });
    webhookName = `${release}-veltrix-${namespace}`;
    await run([
      "install",
      release,
      chartDir,
      "--namespace",
      namespace,
      "--take-ownership",
      "--timeout",
      "60s",
      ...scopeArgs(),
    ]);
    installed = true;
  });

  afterAll(async () => {
    if (installed) await run(["uninstall", release, "--namespace", namespace]).catch(() => undefined);
  });

  it("establishes the VeltrixConfig CRD", async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await eventually("CRD established", async () => {
      const got = await ext.readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? got
        : undefined;
    });
    expect(crd.metadata?.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    expect(crd.spec.names.shortNames).toEqual(["vxc"]);
  });

  it("creates the RBAC, and the ServiceAccount can do what the operator needs and no more", async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.readClusterRole({ name: `${release}-veltrix-${namespace}` });
    await rbac.readNamespacedRole({ name: `${release}-veltrix`, namespace });
    const secret = `${release}-veltrix-webhook-tls`;
    expect(await canI("watch", "veltrixconfigs", undefined, undefined, "veltrix.io")).toBe(true);
    expect(await canI("patch", "veltrixconfigs/status", appNamespace, undefined, "veltrix.io")).toBe(true);
    expect(await canI("create", "configmaps", appNamespace)).toBe(true);
    expect(await canI("list", "pods")).toBe(true);
    expect(await canI("get", "pods", appNamespace)).toBe(false);
    expect(
      await canI("update", "leases", namespace, `${release}-veltrix-leader`, "coordination.k8s.io"),
    ).toBe(true);
    expect(await canI("get", "secrets", namespace, secret)).toBe(true);
    const webhooksGroup = "admissionregistration.k8s.io";
    expect(await canI("update", "mutatingwebhookconfigurations", undefined, webhookName, webhooksGroup)).toBe(
      true,
    );
    // Not broader than needed.
    expect(await canI("list", "secrets")).toBe(false);
    expect(await canI("list", "secrets", namespace)).toBe(false);
    expect(await canI("delete", "configmaps", appNamespace)).toBe(false);
    expect(await canI("get", "secrets", appNamespace, secret)).toBe(false);
    expect(await canI("get", "secrets", namespace, "some-other-secret")).toBe(false);
    expect(await canI("create", "pods", appNamespace)).toBe(false);
    expect(await canI("delete", "pods", appNamespace)).toBe(false);
    expect(await canI("update", "leases", namespace, "someone-elses-lease", "coordination.k8s.io")).toBe(
      false,
    );
    expect(
      await canI(
        "update",
        "mutatingwebhookconfigurations",
        undefined,
        "istio-sidecar-injector",
        webhooksGroup,
      ),
    ).toBe(false);
    expect(
      await canI("create", "clusterrolebindings", undefined, undefined, "rbac.authorization.k8s.io"),
    ).toBe(false);
  });

  it("registers the webhook for opted-in pods only (the release namespace is never sent to it)", async () => {
    const config = await admission.readMutatingWebhookConfiguration({ name: webhookName });
    expect(config.webhooks?.map((w) => w.name)).toEqual([
      "namespace.inject.veltrix.io",
      "pod.inject.veltrix.io",
    ]);
    // No operator pod runs here (no kubelet), so with failurePolicy Fail an opted-in pod is refused...
    await expect(
      core.createNamespacedPod({ namespace: appNamespace, body: pod("opted-in") }),
    ).rejects.toThrow(/failed calling webhook \W*namespace\.inject\.veltrix\.io/);
    // ...while an opted-out pod, and any pod in the release namespace, are created.
    await core.createNamespacedPod({
      namespace: appNamespace,
      body: pod("opted-out", { "veltrix.io/inject": "false" }),
    });
    await core.createNamespacedPod({
      namespace,
      body: pod("in-release-namespace", { "veltrix.io/inject": "true" }),
    });
  });

  it("helm upgrade applies new settings and keeps the caBundle the operator patched in", async () => {
    const caBundle = Buffer.from(
      "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n",
    ).toString("base64");
    await admission.patchMutatingWebhookConfiguration({
      name: webhookName,
      body: [0, 1].map((i) => ({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle })),
    });
    await run([
      "upgrade",
      release,
      chartDir,
      "--namespace",
      namespace,
      "--timeout",
      "60s",
      "--set",
      "webhook.timeoutSeconds=7",
      ...scopeArgs(),
    ]);
    const config = await admission.readMutatingWebhookConfiguration({ name: webhookName });
    expect(config.webhooks?.map((w) => w.timeoutSeconds)).toEqual([7, 7]);
    expect(config.webhooks?.map((w) => w.clientConfig.caBundle)).toEqual([caBundle, caBundle]);
    const history = await run(["history", release, "--namespace", namespace, "--output", "json"]);
    expect((JSON.parse(history) as unknown[]).length).toBe(2);
  });

  it("helm uninstall leaves no webhook configuration behind, so pod creation is never blocked", async () => {
    await run(["uninstall", release, "--namespace", namespace, "--wait", "--timeout", "60s"]);
    installed = false;
    const left = await admission.listMutatingWebhookConfiguration();
    expect(left.items.map((w) => w.metadata?.name)).not.toContain(webhookName);
    expect(
      left.items.filter(
        (w) =>
          w.metadata?.labels?.["app.kubernetes.io/instance"] === release &&
          w.metadata.name?.endsWith(namespace),
      ),
    ).toEqual([]);
    // The pod that was refused while the release was installed is now admitted.
    await core.createNamespacedPod({ namespace: appNamespace, body: pod("opted-in") });
    // The CRD (and so every VeltrixConfig) is kept: helm.sh/resource-policy keep.
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
  });
});
