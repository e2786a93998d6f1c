// helm install, upgrade and uninstall against the real API server: the CRD is established,
// RBAC grants what docs/rbac.md says and no more, the webhook configuration intercepts only
// opted-in pods and survives upgrades with its caBundle. Uninstalling (its own release, with a
// real operator running as the chart starts it) leaves nothing behind: no object with the
// release's labels but the kept CRD, and neither the Lease nor the webhook Secret the operator
// made (owned by its Deployment, deleted by the garbage collector).
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  AppsV1Api,
  CoordinationV1Api,
  RbacAuthorizationV1Api,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createNamespace, eventually, kubeConfig, natsUrl, tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot, toolPath } from "../../devenv/tools.ts";
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
    // Its own Deployment only: the owner of the Lease and the Secret (deleted with it).
    expect(await canI("get", "deployments", namespace, `${release}-veltrix`, "apps")).toBe(true);
    expect(await canI("get", "deployments", namespace, "someone-elses", "apps")).toBe(false);
    expect(await canI("list", "deployments", namespace, undefined, "apps")).toBe(false);
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
});

/** Every object of every listable kind, in all namespaces, with this label selector (kind/name). */
async function everyObject(selector: string): Promise<string[]> {
  const kubectl = (args: string[]) =>
    promisify(execFile)(toolPath("kubectl"), [`--kubeconfig=${inject("kubeconfigPath")}`, ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
  const kinds = (await kubectl(["api-resources", "--verbs=list", "-o", "name"])).stdout
    .split("\n")
    .filter((k) => k !== "" && k !== "events" && k !== "events.events.k8s.io");
  const out = await kubectl(["get", kinds.join(","), "--all-namespaces", "-l", selector, "-o", "name"]);
  return out.stdout.split("\n").filter((line) => line !== "");
}

describe("helm uninstall with the operator running (real helm, API server and garbage collector)", () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const leases = kc.makeApiClient(CoordinationV1Api);
  const release = "vu";
  const fullname = `${release}-veltrix`;
  const home = tempDir("helm-uninstall");
  let operator: ManagedProcess | undefined;

  afterAll(async () => {
    await operator?.stop();
  });

  it("deletes every object of the release and the operator's Lease and webhook Secret; keeps the CRD", async () => {
    const namespace = await createNamespace("chart-uninstall");
    // Opted in, and selected by this release's webhook only (the label names the namespace).
    const appNamespace = await createNamespace("chart-uninstall-app", {
      "veltrix.io/injection": "enabled",
      "veltrix-test/chart-uninstall": namespace,
    });
    const run = async (args: string[]) =>
      (await helm(args, { home, kubeconfig: inject("kubeconfigPath") })).stdout;
    // Scoped to namespaces labelled for this release (none exist): other tests' pods are
    // never sent to this release's webhook.
    const scope = [{ key: "veltrix-test/chart-uninstall", operator: "In", values: [namespace] }];
    await run([
      "install",
      release,
      chartDir,
      "--namespace",
      namespace,
      "--take-ownership",
      "--timeout",
      "60s",
      "--set-json",
      `webhook.extraNamespaceSelectorExpressions=${JSON.stringify(scope)}`,
    ]);

    // The operator as the chart's Deployment starts it (no kubelet here): its env, with the
    // pod fields resolved, local ports, the suite's NATS, and this namespace only.
    const deploy = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: fullname, namespace });
    const env: Record<string, string> = {};
    for (const e of deploy.spec?.template.spec?.containers[0]?.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field === "metadata.namespace") env[e.name] = namespace;
      else if (field === "metadata.name") env[e.name] = `${fullname}-6d4f-abcde`;
      else env[e.name] = e.value ?? "";
    }
    expect(env["VELTRIX_OWNER_DEPLOYMENT"]).toBe(fullname);
    const [httpPort, webhookPort] = [await freePort(), await freePort()];
    operator = new ManagedProcess({
      name: "operator-uninstall",
      command: process.execPath,
      args: [join(repoRoot, "operator/main.ts")],
      logFile: join(home, "operator.log"),
      env: {
        PATH: process.env["PATH"],
        KUBECONFIG: inject("kubeconfigPath"),
        ...env,
        VELTRIX_NATS_URL: natsUrl(),
        VELTRIX_WATCH_NAMESPACE: namespace,
        VELTRIX_SIDECAR_DEFAULTS_FILE: "",
        VELTRIX_HTTP_PORT: String(httpPort),
        VELTRIX_HTTP_HOST: "127.0.0.1",
        VELTRIX_WEBHOOK_PORT: String(webhookPort),
        VELTRIX_WEBHOOK_HOST: "127.0.0.1",
      },
      cwd: repoRoot,
    });
    operator.start();
    const owner: V1OwnerReference = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: fullname,
      uid: deploy.metadata!.uid!,
    };
    // What the operator creates itself, owned by its Deployment.
    const lease = await eventually(
      "the operator holds its Lease",
      async () => {
        const l = await leases.readNamespacedLease({ name: `${fullname}-leader`, namespace });
        return l.spec?.holderIdentity ? l : undefined;
      },
      60_000,
    );
    expect(lease.metadata?.ownerReferences).toEqual([owner]);
    const secret = await eventually(
      "the webhook Secret",
      () => core.readNamespacedSecret({ name: `${fullname}-webhook-tls`, namespace }),
      60_000,
    );
    expect(secret.metadata?.ownerReferences).toEqual([owner]);
    const selector = `app.kubernetes.io/instance=${release}`;
    expect(await everyObject(selector)).toEqual(
      expect.arrayContaining([
        `deployment.apps/${fullname}`,
        `mutatingwebhookconfiguration.admissionregistration.k8s.io/${fullname}-${namespace}`,
      ]),
    );

    // Installed, the webhook is called for an opted-in pod (and, with no Service behind it
    // here, the call fails and the pod is refused)...
    await expect(core.createNamespacedPod({ namespace: appNamespace, body: pod("before") })).rejects.toThrow(
      /failed calling webhook/,
    );

    await run(["uninstall", release, "--namespace", namespace, "--wait", "--timeout", "60s"]);
    await operator.stop(); // as the kubelet would, once its pod is deleted

    const gone = async (read: () => Promise<unknown>) =>
      read().then(
        () => undefined,
        (err: unknown) => ((err as { code?: number }).code === 404 ? true : undefined),
      );
    await eventually(
      "the Lease collected",
      () => gone(() => leases.readNamespacedLease({ name: `${fullname}-leader`, namespace })),
      60_000,
    );
    await eventually(
      "the webhook Secret collected",
      () => gone(() => core.readNamespacedSecret({ name: `${fullname}-webhook-tls`, namespace })),
      60_000,
    );
    // Nothing with the release's labels is left but the CRD (helm.sh/resource-policy keep),
    // so no webhook configuration can block pod creation.
    const left = await eventually(
      "only the CRD left",
      async () => {
        const objects = await everyObject(selector);
        return objects.every((o) => o.startsWith("customresourcedefinition.")) ? objects : undefined;
      },
      60_000,
    );
    expect(left.filter((o) => !o.startsWith("customresourcedefinition."))).toEqual([]);
    // ...uninstalled, the same pod is admitted.
    await core.createNamespacedPod({ namespace: appNamespace, body: pod("before") });
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
  }, 180_000);
});
