// Proves the chart's RBAC is sufficient: install the chart, mint a token for the chart's
// ServiceAccount (TokenRequest API), and run the real operator as a process with only that
// identity and the environment the chart's Deployment gives it; it must win the Lease, reconcile
// a sample VeltrixConfig to Ready, and clean up on delete, with no Forbidden anywhere.
// Its own control plane and NATS: a cluster-wide operator must not touch other test files'
// VeltrixConfigs on the shared API server.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1EnvVar,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { helm } from "../harness/helm.ts";
import { startNats, type NatsServer } from "../harness/nats.ts";
import { freePort } from "../harness/ports.ts";
import { ManagedProcess } from "../harness/process.ts";
import { repoRoot } from "../harness/tools.ts";
import { chartDir } from "./chart.ts";

const releaseNamespace = "veltrix-system";
const appNamespace = "shop";
const podName = "vx-veltrix-6d4f-abcde";
const target = {
  group: "veltrix.io",
  version: "v1alpha1",
  plural: "veltrixconfigs",
  namespace: appNamespace,
};

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface VeltrixConfigObject {
  metadata: { name: string; finalizers?: string[] };
  status?: { conditions?: Condition[]; revision?: string };
}

/** The container env as the kubelet would resolve it for the pod the Deployment creates. */
function resolveEnv(env: V1EnvVar[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) out[e.name] = e.value;
    else if (field === "metadata.namespace") out[e.name] = releaseNamespace;
    else if (field === "metadata.name") out[e.name] = podName;
    else if (!e.valueFrom)
      out[e.name] = ""; // value "" is omitted by the API server
    else throw new Error(`env ${e.name}: unsupported valueFrom in this test`);
  }
  return out;
}

/**
 * test/harness/control-plane.ts asks freePort() for etcd's client and peer ports one after the
 * other, and the OS can hand out the same port twice (etcd then fails with "address already in
 * use"); one retry in a fresh directory until the harness reserves its ports together.
 */
async function startOwnControlPlane(dir: string): Promise<ControlPlane> {
  try {
    return await startControlPlane({ dir: join(dir, "attempt-1"), controllerManager: false });
  } catch (err) {
    if (!/address already in use|exited before/.test(String(err))) throw err;
    return startControlPlane({ dir: join(dir, "attempt-2"), controllerManager: false });
  }
}

/** POSTs an AdmissionReview over HTTPS, verifying the server against `ca` for `servername`. */
function postReview(
  port: number,
  ca: string,
  servername: string,
  review: object,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mutate",
        method: "POST",
        ca,
        servername,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(body) as Record<string, unknown>);
          } catch (err) {
            reject(new Error(`status ${res.statusCode}: ${body}`, { cause: err }));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(review));
  });
}

describe("chart on its own control plane: the operator with exactly the chart's RBAC, then a CRD upgrade", () => {
  let cp: ControlPlane;
  let nats: NatsServer;
  let operator: ManagedProcess;
  let httpPort = 0;
  let webhookPort = 0;
  let helmHome = "";

  function forbiddenLines(): string[] {
    return readFileSync(operator.spec.logFile, "utf8")
      .split("\n")
      .filter((line) => /forbidden/i.test(line));
  }

  beforeAll(async () => {
    const dir = tempDir("chart-rbac");
    [nats, cp] = await Promise.all([startNats({ dir, name: "nats-rbac" }), startOwnControlPlane(dir)]);
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    for (const name of [releaseNamespace, appNamespace]) {
      await core.createNamespace({ body: { metadata: { name } } });
    }
    await helm(
      [
        "install",
        "vx",
        chartDir,
        "--namespace",
        releaseNamespace,
        "--set",
        `nats.url=${nats.url}`,
        "--timeout",
        "60s",
      ],
      { home: (helmHome = join(dir, "helm")), kubeconfig: cp.kubeconfigPath },
    );

    // A token for the chart's ServiceAccount, and a kubeconfig holding only that.
    const token = await core.createNamespacedServiceAccountToken({
      name: "vx-veltrix",
      namespace: releaseNamespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const kubeconfig = join(dir, "operator.kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority": cp.caFile } }],
        users: [{ name: "vx-veltrix", user: { token: token.status?.token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "vx-veltrix" } }],
        "current-context": "c",
      }),
      { mode: 0o600 },
    );

    // The environment the chart's Deployment sets, as installed.
    const deploy = await cp
      .kubeConfig()
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "vx-veltrix", namespace: releaseNamespace });
    const container = deploy.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(["operator/main.js"]);
    const env = resolveEnv(container?.env ?? []);
    expect(env["VELTRIX_NATS_URL"]).toBe(nats.url);
    // The chart mounts its sidecar-defaults ConfigMap at the path in VELTRIX_SIDECAR_DEFAULTS_FILE.
    const defaults = await core.readNamespacedConfigMap({
      name: "vx-veltrix-sidecar-defaults",
      namespace: releaseNamespace,
    });
    expect(env["VELTRIX_SIDECAR_DEFAULTS_FILE"]).toBe("/etc/veltrix/sidecar/defaults.json");
    env["VELTRIX_SIDECAR_DEFAULTS_FILE"] = join(dir, "sidecar-defaults.json");
    writeFileSync(env["VELTRIX_SIDECAR_DEFAULTS_FILE"], defaults.data?.["defaults.json"] ?? "");
    httpPort = await freePort();
    webhookPort = await freePort();
    operator = new ManagedProcess({
      name: "operator-as-chart-sa",
      command: process.execPath,
      // The image runs the compiled operator/main.js; here the same program from source.
      args: [join(repoRoot, "operator/main.ts"), "--http-host", "127.0.0.1"],
      logFile: join(dir, "operator.log"),
      env: {
        PATH: process.env["PATH"],
        KUBECONFIG: kubeconfig,
        ...env,
        VELTRIX_HTTP_PORT: String(httpPort),
        VELTRIX_WEBHOOK_PORT: String(webhookPort),
        VELTRIX_WEBHOOK_HOST: "127.0.0.1",
      },
      cwd: repoRoot,
    });
    operator.start();
    await operator.waitUntil(
      "ready",
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok,
      60_000,
    );
  }, 240_000);

  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
    await nats?.stop();
  });

  it("takes the leader Lease the chart's Role allows", async () => {
    const lease = await eventually("lease held", async () => {
      const l = await cp
        .kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: "vx-veltrix-leader", namespace: releaseNamespace });
      return l.spec?.holderIdentity ? l : undefined;
    });
    expect(lease.spec?.holderIdentity).toBe(podName);
  });

  it("reconciles a sample VeltrixConfig to Ready and cleans up on delete, with no Forbidden", async () => {
    const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    const sample = parse(readFileSync(join(repoRoot, "crds/samples/minimal.yaml"), "utf8")) as object;
    await custom.createNamespacedCustomObject({ ...target, body: sample });
    // Polls until Ready, or stops early when the operator logs a Forbidden (RBAC too narrow).
    const outcome = await eventually(
      "VeltrixConfig Ready (or a Forbidden in the operator log)",
      async () => {
        const denied = forbiddenLines();
        if (denied.length > 0) return { denied, vxc: undefined };
        const vxc = (await custom.getNamespacedCustomObject({
          ...target,
          name: "minimal",
        })) as VeltrixConfigObject;
        const cond = vxc.status?.conditions?.find((c) => c.type === "Ready");
        return cond?.status === "True" ? { denied, vxc } : undefined;
      },
      60_000,
    );
    expect(outcome.denied).toEqual([]);
    const ready = outcome.vxc!;
    expect(ready.status?.revision).toMatch(/\S+/);
    expect(ready.metadata.finalizers?.length).toBeGreaterThan(0);
    const configMaps = await cp
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .listNamespacedConfigMap({ namespace: appNamespace });
    expect(configMaps.items.length).toBeGreaterThan(0);

    await custom.deleteNamespacedCustomObject({ ...target, name: "minimal" });
    await eventually(
      "VeltrixConfig gone (finalizer removed by the operator)",
      async () => {
        try {
          await custom.getNamespacedCustomObject({ ...target, name: "minimal" });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      },
      60_000,
    );
    expect(forbiddenLines()).toEqual([]);
    expect(operator.running).toBe(true);
  });

  it("creates its certificate Secret, writes the caBundle into the chart's webhook configuration and serves with it", async () => {
    const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
    const caBundle = await eventually(
      "caBundle in the chart's webhook configuration",
      async () => {
        const config = await admission.readMutatingWebhookConfiguration({
          name: `vx-veltrix-${releaseNamespace}`,
        });
        const bundles = config.webhooks?.map((w) => w.clientConfig.caBundle ?? "") ?? [];
        return bundles.length === 2 && bundles.every((b) => b !== "") ? bundles[0] : undefined;
      },
      60_000,
    );
    const secret = await cp
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "vx-veltrix-webhook-tls", namespace: releaseNamespace });
    expect(Object.keys(secret.data ?? {})).toEqual(expect.arrayContaining(["tls.crt", "tls.key"]));
    const ca = Buffer.from(caBundle ?? "", "base64").toString("utf8");
    const uid = "7d0c9a4e-0000-4000-8000-000000000001";
    const response = await postReview(webhookPort, ca, `vx-veltrix.${releaseNamespace}.svc`, {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid,
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        namespace: appNamespace,
        operation: "CREATE",
        userInfo: { username: "test" },
        object: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "app", namespace: appNamespace, labels: { "veltrix.io/inject": "false" } },
          spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
        },
      },
    });
    expect(response["response"]).toMatchObject({ uid, allowed: true });
    expect(forbiddenLines()).toEqual([]);
  });

  it("helm upgrade upgrades the CRD in place (templated, not crds/) and keeps the VeltrixConfigs", async () => {
    const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    const sample = parse(readFileSync(join(repoRoot, "crds/samples/checkout.yaml"), "utf8")) as object;
    await custom.createNamespacedCustomObject({ ...target, body: sample });
    // The next chart version's CRD: one more printer column.
    const next = join(tempDir("chart-next"), "veltrix");
    cpSync(chartDir, next, { recursive: true });
    const crdFile = join(next, "files/crds/veltrixconfig.yaml");
    const crdText = readFileSync(crdFile, "utf8");
    const marker = "      additionalPrinterColumns:\n";
    expect(crdText).toContain(marker);
    writeFileSync(
      crdFile,
      crdText.replace(
        marker,
        `${marker}        - name: Upgraded\n          type: string\n          jsonPath: .spec.queue.mode\n`,
      ),
    );
    await helm(
      ["upgrade", "vx", next, "--namespace", releaseNamespace, "--reuse-values", "--timeout", "60s"],
      { home: helmHome, kubeconfig: cp.kubeconfigPath },
    );
    const crd = await cp
      .kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
    expect(crd.spec.versions[0]?.additionalPrinterColumns?.[0]?.name).toBe("Upgraded");
    await custom.getNamespacedCustomObject({ ...target, name: "checkout" });
  });
});
