// Proves the chart's RBAC is sufficient: install the chart, mint a token for the chart's
// ServiceAccount (TokenRequest API), and run the real operator as a process with only that
// identity and the environment the chart's Deployment gives it (mounted files written where the
// env points). It must win the Lease, reconcile a sample VeltrixConfig to Ready, clean up on
// delete, and serve the webhook (self-managed certificates, then cert-manager mode), with no
// Forbidden anywhere. Its own control plane and NATS: a cluster-wide operator must not touch
// other test files' VeltrixConfigs on the shared API server.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1CustomResourceDefinition,
  type V1EnvVar,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createCertificateAuthority, issueServingCertificate } from "../../operator/certs/issue.ts";
import { operatorNodeFlags } from "../../operator/node-flags.ts";
import { startControlPlane, type ControlPlane } from "../../devenv/control-plane.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { startNats, type NatsServer } from "../../devenv/nats.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { chartDir, thirdPartyCrds } from "./chart.ts";
import { podAdmissionReview, postReview } from "../../devenv/admission-review.ts";

const appNamespace = "shop";
const target = {
  group: "veltrix.io",
  version: "v1alpha1",
  plural: "veltrixconfigs",
  namespace: appNamespace,
};

interface Condition {
  type: string;
  status: string;
}
interface VeltrixConfigObject {
  metadata: { name: string; finalizers?: string[] };
  status?: { conditions?: Condition[]; revision?: string };
}

/**
 * devenv/control-plane.ts asks freePort() for etcd's client and peer ports one after the
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

/** An AdmissionReview for a pod that opts in to `config`, as the API server would send it. */
function podReview(uid: string, config: string): object {
  return podAdmissionReview(uid, appNamespace, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `app-${uid.slice(0, 4)}`,
      namespace: appNamespace,
      labels: { "veltrix.io/inject": "true" },
      annotations: { "veltrix.io/config": config },
    },
    spec: {
      containers: [
        {
          name: "app",
          image: "registry.example.com/app:1",
          ports: [{ name: "http", containerPort: 8080 }],
        },
      ],
    },
  });
}

interface RunningOperator {
  process: ManagedProcess;
  webhookPort: number;
  podName: string;
  forbiddenLines(): string[];
}

describe("chart on its own control plane: the operator with exactly the chart's RBAC", () => {
  let cp: ControlPlane;
  let nats: NatsServer;
  let dir = "";
  const helmHome = (): string => join(dir, "helm");
  const running: ManagedProcess[] = [];

  async function install(release: string, namespace: string, set: string[], chart = chartDir): Promise<void> {
    await helm(
      [
        "upgrade",
        "--install",
        release,
        chart,
        "--namespace",
        namespace,
        "--create-namespace",
        // The CRD is shared by every release on this control plane; whichever installs
        // first owns it (the describe blocks run in any order).
        "--take-ownership",
        "--timeout",
        "60s",
      ]
        .concat(["--set", `nats.url=${nats.url}`])
        .concat(set.flatMap((s) => ["--set", s])),
      { home: helmHome(), kubeconfig: cp.kubeconfigPath },
    );
  }

  /**
   * Starts operator/main.ts as the chart's ServiceAccount with the installed Deployment's env:
   * fieldRefs resolved as the kubelet would, files the chart mounts written to a temp dir.
   */
  async function startOperatorAsChart(
    release: string,
    namespace: string,
    mounts: (env: Record<string, string>, own: string) => Promise<void> = async () => {},
    chartNatsUrl = nats.url,
  ): Promise<RunningOperator> {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    const fullname = `${release}-veltrix`;
    const podName = `${fullname}-6d4f-abcde`;
    const own = join(dir, `operator-${release}`);
    mkdirSync(own, { recursive: true });
    const token = await core.createNamespacedServiceAccountToken({
      name: fullname,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const kubeconfig = join(own, "kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority": cp.caFile } }],
        users: [{ name: fullname, user: { token: token.status?.token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: fullname } }],
        "current-context": "c",
      }),
      { mode: 0o600 },
    );
    const deploy = await cp
      .kubeConfig()
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: fullname, namespace });
    const container = deploy.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual([...operatorNodeFlags, "operator/main.js"]);
    const env: Record<string, string> = {};
    for (const e of container?.env ?? ([] as V1EnvVar[])) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (e.value !== undefined) env[e.name] = e.value;
      else if (field === "metadata.namespace") env[e.name] = namespace;
      else if (field === "metadata.name") env[e.name] = podName;
      else if (!e.valueFrom)
        env[e.name] = ""; // value "" is omitted by the API server
      else throw new Error(`env ${e.name}: unsupported valueFrom in this test`);
    }
    expect(env["VELTRIX_NATS_URL"]).toBe(chartNatsUrl);
    // The sidecar-defaults ConfigMap the chart mounts at VELTRIX_SIDECAR_DEFAULTS_FILE.
    const defaults = await core.readNamespacedConfigMap({ name: `${fullname}-sidecar-defaults`, namespace });
    expect(env["VELTRIX_SIDECAR_DEFAULTS_FILE"]).toBe("/etc/veltrix/sidecar/defaults.json");
    env["VELTRIX_SIDECAR_DEFAULTS_FILE"] = join(own, "sidecar-defaults.json");
    writeFileSync(env["VELTRIX_SIDECAR_DEFAULTS_FILE"], defaults.data?.["defaults.json"] ?? "");
    await mounts(env, own);
    const [httpPort, webhookPort] = [await freePort(), await freePort()];
    const proc = new ManagedProcess({
      name: `operator-as-${fullname}`,
      command: process.execPath,
      // The image runs the compiled operator/main.js; here the same program from source.
      args: [join(repoRoot, "operator/main.ts"), "--http-host", "127.0.0.1"],
      logFile: join(own, "operator.log"),
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
    running.push(proc);
    proc.start();
    await proc.waitUntil(
      "ready",
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok,
      60_000,
    );
    return {
      process: proc,
      webhookPort,
      podName,
      forbiddenLines: () =>
        readFileSync(proc.spec.logFile, "utf8")
          .split("\n")
          .filter((line) => /forbidden/i.test(line)),
    };
  }

  /** Creates a sample VeltrixConfig and waits for Ready, stopping early on a Forbidden. */
  async function createReady(
    op: RunningOperator,
    sample: string,
    name: string,
  ): Promise<VeltrixConfigObject> {
    const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    const body = parse(readFileSync(join(repoRoot, "crds/samples", sample), "utf8")) as {
      metadata: { name: string };
    };
    body.metadata.name = name;
    await custom.createNamespacedCustomObject({ ...target, body });
    const outcome = await eventually(
      `VeltrixConfig ${name} Ready (or a Forbidden in the operator log)`,
      async () => {
        const denied = op.forbiddenLines();
        if (denied.length > 0) return { denied, vxc: undefined };
        const vxc = (await custom.getNamespacedCustomObject({ ...target, name })) as VeltrixConfigObject;
        const cond = vxc.status?.conditions?.find((c) => c.type === "Ready");
        return cond?.status === "True" ? { denied, vxc } : undefined;
      },
      60_000,
    );
    expect(outcome.denied).toEqual([]);
    return outcome.vxc!;
  }

  beforeAll(async () => {
    dir = tempDir("chart-rbac");
    [nats, cp] = await Promise.all([startNats({ dir, name: "nats-rbac" }), startOwnControlPlane(dir)]);
    await cp
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: appNamespace } } });
  }, 240_000);

  afterAll(async () => {
    for (const p of running) await p.stop();
    await cp?.stop();
    await nats?.stop();
  });

  describe("self-managed certificates (defaults)", () => {
    const namespace = "veltrix-system";
    let op: RunningOperator;
    beforeAll(async () => {
      await install("vx", namespace, []);
      op = await startOperatorAsChart("vx", namespace);
    }, 120_000);
    afterAll(async () => {
      await op?.process.stop();
    });

    it("takes the leader Lease the chart's Role allows", async () => {
      const lease = await eventually("lease held", async () => {
        const l = await cp
          .kubeConfig()
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ name: "vx-veltrix-leader", namespace });
        return l.spec?.holderIdentity ? l : undefined;
      });
      expect(lease.spec?.holderIdentity).toBe(op.podName);
      // Owned by the chart's Deployment (read with the chart's Role), so uninstall deletes it.
      expect(lease.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ apiVersion: "apps/v1", kind: "Deployment", name: "vx-veltrix" }),
      ]);
      expect(op.forbiddenLines()).toEqual([]);
    });

    it("reconciles a sample VeltrixConfig to Ready and cleans up on delete, with no Forbidden", async () => {
      const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
      const ready = await createReady(op, "minimal.yaml", "minimal");
      expect(ready.status?.revision).toMatch(/\S+/);
      expect(ready.metadata.finalizers?.length).toBeGreaterThan(0);
      const configMaps = await cp
        .kubeConfig()
        .makeApiClient(CoreV1Api)
        .listNamespacedConfigMap({ namespace: appNamespace });
      expect(configMaps.items.map((c) => c.metadata?.name)).toContain("minimal-veltrix-config");

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
      expect(op.forbiddenLines()).toEqual([]);
      expect(op.process.running).toBe(true);
    });

    it("keeps its certificate in the Secret, writes the caBundle into the chart's webhook configuration, and injects", async () => {
      const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const caBundle = await eventually(
        "caBundle in the chart's webhook configuration",
        async () => {
          const config = await admission.readMutatingWebhookConfiguration({
            name: `vx-veltrix-${namespace}`,
          });
          const bundles = config.webhooks?.map((w) => w.clientConfig.caBundle ?? "") ?? [];
          return bundles.length === 2 && bundles.every((b) => b !== "") ? bundles[0] : undefined;
        },
        60_000,
      );
      const secret = await cp
        .kubeConfig()
        .makeApiClient(CoreV1Api)
        .readNamespacedSecret({ name: "vx-veltrix-webhook-tls", namespace });
      expect(Object.keys(secret.data ?? {})).toEqual(expect.arrayContaining(["tls.crt", "tls.key"]));
      expect(secret.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ apiVersion: "apps/v1", kind: "Deployment", name: "vx-veltrix" }),
      ]);
      // The webhook reads the pod's namespace and its VeltrixConfig with the chart's RBAC.
      await createReady(op, "minimal.yaml", "web");
      const ca = Buffer.from(caBundle ?? "", "base64").toString("utf8");
      const uid = "7d0c9a4e-0000-4000-8000-000000000001";
      const answer = await postReview(
        op.webhookPort,
        ca,
        podReview(uid, "web"),
        `vx-veltrix.${namespace}.svc`,
      );
      expect(answer["response"]).toMatchObject({ uid, allowed: true, patchType: "JSONPatch" });
      expect(op.forbiddenLines()).toEqual([]);
    });

    it("helm upgrade upgrades the CRD in place (templated, not crds/) and keeps the VeltrixConfigs", async () => {
      // The next chart version's CRD: one more printer column.
      const next = join(tempDir("chart-next"), "veltrix");
      cpSync(chartDir, next, { recursive: true });
      // files/crds/veltrixconfig.yaml is a symlink to crds/ (cpSync keeps it one): replace the
      // link itself with a regular file, so crds/ is never written through it.
      const crdFile = join(next, "files/crds/veltrixconfig.yaml");
      const crdText = readFileSync(join(repoRoot, "crds/veltrixconfig.yaml"), "utf8");
      rmSync(crdFile);
      const marker = "      additionalPrinterColumns:\n";
      expect(crdText).toContain(marker);
      writeFileSync(
        crdFile,
        crdText.replace(
          marker,
          `${marker}        - name: Upgraded\n          type: string\n          jsonPath: .spec.queue.mode\n`,
        ),
      );
      expect(readFileSync(join(repoRoot, "crds/veltrixconfig.yaml"), "utf8")).toBe(crdText);
      await createReady(op, "minimal.yaml", "kept");
      await install("vx", namespace, [], next);
      const crd = await cp
        .kubeConfig()
        .makeApiClient(ApiextensionsV1Api)
        .readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
      expect(crd.spec.versions[0]?.additionalPrinterColumns?.[0]?.name).toBe("Upgraded");
      await cp
        .kubeConfig()
        .makeApiClient(CustomObjectsApi)
        .getNamespacedCustomObject({ ...target, name: "kept" });
    });
  });

  describe("helm uninstall (a release of its own)", () => {
    const namespace = "veltrix-uninstall";

    it("removes the webhook configuration and keeps the CRD", async () => {
      await install("vy", namespace, []);
      const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const webhookName = `vy-veltrix-${namespace}`;
      const names = async () =>
        (await admission.listMutatingWebhookConfiguration()).items.map((w) => w.metadata?.name);
      expect(await names()).toContain(webhookName);
      await helm(["uninstall", "vy", "--namespace", namespace, "--wait", "--timeout", "60s"], {
        home: helmHome(),
        kubeconfig: cp.kubeconfigPath,
      });
      expect(await names()).not.toContain(webhookName);
      await cp
        .kubeConfig()
        .makeApiClient(ApiextensionsV1Api)
        .readCustomResourceDefinition({ name: "veltrixconfigs.veltrix.io" });
    });
  });

  describe("bundled NATS with auth (nats.install=true): NATS keys made, sidecar users minted and revoked", () => {
    const namespace = "veltrix-bundled";
    let op: RunningOperator;
    let bundled: NatsServer | undefined;
    beforeAll(async () => {
      await install("vb", namespace, ["nats.install=true", "nats.bundled.persistence=emptyDir"]);
      const port = await freePort();
      // The bundled NATS pod: it starts once the operator made the Secret it mounts.
      const natsUp = (async () => {
        const secret = await eventually(
          "the operator made vb-veltrix-nats-auth",
          async () => {
            try {
              return await cp
                .kubeConfig()
                .makeApiClient(CoreV1Api)
                .readNamespacedSecret({ name: "vb-veltrix-nats-auth", namespace });
            } catch {
              return undefined;
            }
          },
          60_000,
        );
        const authConf = Buffer.from(secret.data?.["auth.conf"] ?? "", "base64").toString("utf8");
        bundled = await startNats({ dir, name: "nats-bundled-rbac", port, extraConfig: authConf });
      })();
      op = await startOperatorAsChart(
        "vb",
        namespace,
        async (env) => {
          expect(env["VELTRIX_NATS_AUTH_SECRET"]).toBe("vb-veltrix-nats-auth");
          expect(env["VELTRIX_NATS_AUTH_GENERATE"]).toBe("true");
          // The Service's address on this machine.
          env["VELTRIX_NATS_URL"] = `nats://127.0.0.1:${port}`;
          await Promise.resolve();
        },
        `nats://vb-veltrix-nats.${namespace}.svc:4222`,
      );
      await natsUp;
    }, 180_000);
    afterAll(async () => {
      await op?.process.stop();
      await bundled?.stop();
    });

    it("mints a config's user into its namespace, injects it, and deletes it with the config, with no Forbidden", async () => {
      const core = cp.kubeConfig().makeApiClient(CoreV1Api);
      await createReady(op, "minimal.yaml", "bundled");
      const minted = await eventually("the minted Secret", async () => {
        try {
          return await core.readNamespacedSecret({ name: "bundled-veltrix-nats", namespace: appNamespace });
        } catch {
          return undefined;
        }
      });
      expect(Object.keys(minted.data ?? {})).toEqual(["creds"]);
      const uid = "7d0c9a4e-0000-4000-8000-000000000003";
      const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const caBundle = await eventually("caBundle", async () => {
        const config = await admission.readMutatingWebhookConfiguration({ name: `vb-veltrix-${namespace}` });
        return config.webhooks?.[0]?.clientConfig.caBundle || undefined;
      });
      const answer = await postReview(
        op.webhookPort,
        Buffer.from(caBundle, "base64").toString("utf8"),
        podReview(uid, "bundled"),
        `vb-veltrix.${namespace}.svc`,
      );
      const response = answer["response"] as { allowed: boolean; patch?: string };
      expect(response.allowed).toBe(true);
      expect(Buffer.from(response.patch ?? "", "base64").toString("utf8")).toContain(
        '"secret":{"secretName":"bundled-veltrix-nats"}',
      );

      await cp
        .kubeConfig()
        .makeApiClient(CustomObjectsApi)
        .deleteNamespacedCustomObject({ ...target, name: "bundled" });
      await eventually("the minted Secret deleted with its config", async () => {
        try {
          await core.readNamespacedSecret({ name: "bundled-veltrix-nats", namespace: appNamespace });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      });
      expect(op.forbiddenLines()).toEqual([]);
    });
  });

  describe("cert-manager mode (no access to Secrets; only reads the webhook configuration)", () => {
    const namespace = "veltrix-cm";
    let op: RunningOperator;
    let caPem = "";
    beforeAll(async () => {
      // Certificate and Issuer objects need their CRDs (stand-ins; no cert-manager runs here).
      const ext = cp.kubeConfig().makeApiClient(ApiextensionsV1Api);
      for (const crd of thirdPartyCrds()) {
        await ext.createCustomResourceDefinition({ body: crd as unknown as V1CustomResourceDefinition });
      }
      for (const crd of thirdPartyCrds()) {
        await eventually(`${crd.metadata.name} established`, async () => {
          const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
          return (
            got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") || undefined
          );
        });
      }
      // The CRD is kept from the release above; this release takes it over.
      await helm(
        ["install", "vc", chartDir, "--namespace", namespace, "--create-namespace", "--take-ownership"]
          .concat(["--set", `nats.url=${nats.url}`, "--set", "webhook.certificates.mode=certManager"])
          .concat(["--timeout", "60s"]),
        { home: helmHome(), kubeconfig: cp.kubeconfigPath },
      );
      // What cert-manager would put in the mounted Secret.
      const ca = await createCertificateAuthority("test-cert-manager-ca", 1);
      const serving = await issueServingCertificate(ca, { dnsNames: [`vc-veltrix.${namespace}.svc`] }, 1);
      caPem = ca.certPem;
      // What cert-manager's CA injector would write: without it the operator is not ready
      // (the API server could not verify the webhook).
      const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const webhookName = `vc-veltrix-${namespace}`;
      const config = await admission.readMutatingWebhookConfiguration({ name: webhookName });
      for (const w of config.webhooks ?? []) w.clientConfig.caBundle = Buffer.from(caPem).toString("base64");
      await admission.replaceMutatingWebhookConfiguration({ name: webhookName, body: config });
      op = await startOperatorAsChart("vc", namespace, async (env, own) => {
        expect(env["VELTRIX_WEBHOOK_CERT_MODE"]).toBe("certManager");
        expect(env["VELTRIX_WEBHOOK_CERT_DIR"]).toBe("/etc/veltrix/webhook-tls");
        env["VELTRIX_WEBHOOK_CERT_DIR"] = join(own, "webhook-tls");
        mkdirSync(env["VELTRIX_WEBHOOK_CERT_DIR"]);
        writeFileSync(join(env["VELTRIX_WEBHOOK_CERT_DIR"], "tls.crt"), serving.certPem);
        writeFileSync(join(env["VELTRIX_WEBHOOK_CERT_DIR"], "tls.key"), serving.keyPem);
        await Promise.resolve();
      });
    }, 120_000);
    afterAll(async () => {
      await op?.process.stop();
    });

    it("reconciles and injects with the narrower RBAC", async () => {
      await createReady(op, "reports-async.yaml", "reports");
      const uid = "7d0c9a4e-0000-4000-8000-000000000002";
      const answer = await postReview(
        op.webhookPort,
        caPem,
        podReview(uid, "reports"),
        `vc-veltrix.${namespace}.svc`,
      );
      expect(answer["response"]).toMatchObject({ uid, allowed: true, patchType: "JSONPatch" });
      expect(op.forbiddenLines()).toEqual([]);
    });
  });
});
