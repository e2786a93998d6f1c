// helm lint and helm template with each supported values file; every rendered manifest is
// checked for the properties the chart promises and validated by the real API server.
import { execFile } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  type V1ClusterRole,
  type V1ConfigMap,
  type V1CustomResourceDefinition,
  type V1Deployment,
  type V1LabelSelectorRequirement,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1NetworkPolicy,
  type V1PodDisruptionBudget,
  type V1PodTemplateSpec,
  type V1PolicyRule,
  type V1Role,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metricsPortName } from "../../api/injected-pod.ts";
import { readFlags } from "../../operator/main.ts";
import { natsClientSettings } from "../../lib/nats-flags.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { repoRoot } from "../../devenv/tools.ts";
import {
  chartDir,
  dryRunApply,
  envOf,
  find,
  kinds,
  renderChart,
  thirdPartyCrds,
  valuesFiles,
  type Manifest,
} from "./chart.ts";

const releaseNamespace = "veltrix-system";

interface Certificate {
  metadata: { annotations?: Record<string, string> };
  spec: { secretName: string; dnsNames: string[]; issuerRef: Record<string, string> };
}
interface Issuer {
  spec: Record<string, unknown>;
}
interface ServiceMonitor {
  metadata: { labels: Record<string, string> };
  spec: { endpoints: unknown[] };
}
interface PodMonitor {
  metadata: { labels: Record<string, string> };
  spec: Record<string, unknown>;
}

function webhooks(manifests: Manifest[]): V1MutatingWebhook[] {
  return find<V1MutatingWebhookConfiguration>(manifests, "MutatingWebhookConfiguration").webhooks ?? [];
}

function nsExpressions(webhook: V1MutatingWebhook | undefined): V1LabelSelectorRequirement[] {
  return webhook?.namespaceSelector?.matchExpressions ?? [];
}

function excludedNamespaces(webhook: V1MutatingWebhook): string[] | undefined {
  const byName = nsExpressions(webhook).find((e) => e.key === "kubernetes.io/metadata.name");
  expect(byName?.operator).toBe("NotIn");
  return byName?.values;
}

function sidecarDefaults(manifests: Manifest[]): Record<string, unknown> {
  const cm = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-sidecar-defaults");
  return JSON.parse(cm.data?.["defaults.json"] ?? "null") as Record<string, unknown>;
}

function rulesFor(rules: V1PolicyRule[] | undefined, resource: string): V1PolicyRule[] {
  return (rules ?? []).filter((r) => r.resources?.includes(resource));
}

describe("helm lint", () => {
  it("is clean with the defaults and every ci values file", async () => {
    for (const file of Object.values(valuesFiles)) {
      const { stdout } = await helm(["lint", "--strict", chartDir, "--values", file], {
        home: tempDir("helm"),
      });
      expect(stdout, file).toContain("1 chart(s) linted, 0 chart(s) failed");
      expect(stdout, file).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });
});

describe("helm package", () => {
  it("ships the CRD copy, the schema and the docs, not the ci values", async () => {
    const out = tempDir("helm-package");
    const { stdout } = await helm(["package", chartDir, "--destination", out], { home: tempDir("helm") });
    const tgz = /saved it to: (\S+)/.exec(stdout)?.[1] ?? "";
    expect(tgz).toMatch(/veltrix-0\.1\.0\.tgz$/);
    const listing = await promisify(execFile)("tar", ["-tzf", tgz]);
    const files = listing.stdout.split("\n");
    for (const f of [
      "Chart.yaml",
      "values.yaml",
      "values.schema.json",
      "README.md",
      "files/crds/veltrixconfig.yaml",
    ]) {
      expect(files).toContain(`veltrix/${f}`);
    }
    expect(files.filter((f) => f.startsWith("veltrix/ci/"))).toEqual([]);
  });
});

describe("helm template: defaults", () => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await renderChart({ values: [valuesFiles.defaults] });
  });

  it("renders the operator, its RBAC, Service, PDB, webhook and CRD, and nothing optional", () => {
    expect(kinds(manifests)).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "CustomResourceDefinition",
      "Deployment",
      "MutatingWebhookConfiguration",
      "PodDisruptionBudget",
      "Role",
      "RoleBinding",
      "Service",
      "ServiceAccount",
    ]);
  });

  it("runs 2 replicas with leader election, probes, resources, spread and a restricted securityContext", () => {
    const deploy = find<V1Deployment>(manifests, "Deployment");
    const pod = deploy.spec?.template.spec;
    const container = pod?.containers[0];
    expect(deploy.spec?.replicas).toBe(2);
    expect(deploy.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(envOf(container)).toMatchObject({
      VELTRIX_LEADER_ELECT: "true",
      VELTRIX_LEASE_DURATION: "15s",
      VELTRIX_HTTP_PORT: "8080",
      VELTRIX_LEASE_NAME: "vx-veltrix-leader",
      VELTRIX_NAMESPACE: "valueFrom",
      VELTRIX_NATS_URL: "nats://nats.nats.svc:4222",
    });
    expect(container?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container?.resources).toEqual({
      requests: { cpu: "50m", memory: "96Mi" },
      limits: { memory: "256Mi" },
    });
    expect(pod?.topologySpreadConstraints?.map((t) => t.topologyKey)).toEqual([
      "topology.kubernetes.io/zone",
      "kubernetes.io/hostname",
    ]);
    expect(pod?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels).toEqual(
      deploy.spec?.selector.matchLabels,
    );
    // Pod Security "restricted".
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container?.image).toBe("ghcr.io/veltrix/operator:0.1.0");
    const pdb = find<V1PodDisruptionBudget>(manifests, "PodDisruptionBudget");
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: deploy.spec?.selector });
  });

  it("grants no cluster-wide access to Secrets and scopes the Lease and cert Secret to the release namespace", () => {
    const clusterRole = find<V1ClusterRole>(manifests, "ClusterRole");
    for (const rule of clusterRole.rules ?? []) {
      expect(rule.resources).not.toContain("secrets");
      expect(rule.resources).not.toContain("*");
      expect(rule.verbs).not.toContain("*");
    }
    expect(rulesFor(clusterRole.rules, "mutatingwebhookconfigurations")[0]?.resourceNames).toEqual([
      `vx-veltrix-${releaseNamespace}`,
    ]);
    const role = find<V1Role>(manifests, "Role");
    expect(role.metadata?.namespace).toBe(releaseNamespace);
    expect(rulesFor(role.rules, "secrets")).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["vx-veltrix-webhook-tls"],
        verbs: ["get", "update"],
      },
    ]);
  });

  it("configures the webhook: never system or release namespaces, opt-in only, no side effects", () => {
    const hooks = webhooks(manifests);
    expect(hooks.map((w) => w.name)).toEqual(["namespace.inject.veltrix.io", "pod.inject.veltrix.io"]);
    for (const w of hooks) {
      expect(excludedNamespaces(w)).toEqual([
        "kube-system",
        "kube-public",
        "kube-node-lease",
        releaseNamespace,
      ]);
      expect(w.sideEffects).toBe("None");
      expect(w.reinvocationPolicy).toBe("IfNeeded");
      expect(w.failurePolicy).toBe("Fail");
      expect(w.timeoutSeconds).toBe(5);
      expect(w.rules).toEqual([
        {
          apiGroups: [""],
          apiVersions: ["v1"],
          operations: ["CREATE"],
          resources: ["pods"],
          scope: "Namespaced",
        },
      ]);
      expect(w.clientConfig.service).toMatchObject({
        name: "vx-veltrix",
        namespace: releaseNamespace,
        port: 443,
      });
      // Namespaces labelled off are never matched.
      const injection = nsExpressions(w).find((e) => e.key === "veltrix.io/injection");
      if (injection?.operator === "In") expect(injection.values).not.toContain("disabled");
      else {
        expect(injection?.operator).toBe("NotIn");
        expect(injection?.values).toContain("disabled");
      }
    }
    const [byNamespace, byPod] = hooks;
    expect(nsExpressions(byNamespace)[1]).toEqual({
      key: "veltrix.io/injection",
      operator: "In",
      values: ["enabled"],
    });
    expect(byNamespace?.objectSelector?.matchExpressions).toEqual([
      { key: "veltrix.io/inject", operator: "NotIn", values: ["false"] },
    ]);
    expect(byPod?.objectSelector?.matchExpressions).toEqual([
      { key: "veltrix.io/inject", operator: "In", values: ["true"] },
    ]);
  });

  it("ships the CRD from crds/ unchanged except for Helm's labels and the keep policy", () => {
    const source = readFileSync(join(repoRoot, "crds/veltrixconfig.yaml"), "utf8");
    // A symlink to crds/ (one source); should it ever become a copy, it must stay the same bytes.
    const chartFile = join(chartDir, "files/crds/veltrixconfig.yaml");
    expect(realpathSync(chartFile)).toBe(realpathSync(join(repoRoot, "crds/veltrixconfig.yaml")));
    expect(readFileSync(chartFile, "utf8")).toBe(source);
    const rendered = find<V1CustomResourceDefinition>(manifests, "CustomResourceDefinition");
    const expected = parse(source) as V1CustomResourceDefinition;
    expect(rendered.spec).toEqual(expected.spec);
    expect(rendered.metadata?.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
    expect(rendered.metadata?.labels).toMatchObject({
      ...expected.metadata?.labels,
      "app.kubernetes.io/managed-by": "Helm",
    });
  });

  it("publishes the cluster-wide sidecar defaults the operator reads", () => {
    expect(sidecarDefaults(manifests)).toEqual({
      image: "ghcr.io/veltrix/sidecar:0.1.0",
      imagePullPolicy: "IfNotPresent",
      port: 15080,
      adminPort: 15090,
      resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
      stateVolumeSizeLimit: "1Gi",
      nativeSidecar: true,
      natsUrl: "nats://nats.nats.svc:4222",
      natsTls: false,
      natsTlsServerName: "",
      natsTlsFrom: { secretName: "", configMapName: "" },
      natsCredentials: { secretName: "", key: "creds" },
    });
  });
});

describe("helm template: webhook.podOptIn=annotation", () => {
  it("sends every pod outside opted-in namespaces to the webhook, but never blocks them", async () => {
    const manifests = await renderChart({ set: ["webhook.podOptIn=annotation"] });
    const [byNamespace, byPod] = webhooks(manifests);
    expect(byNamespace?.failurePolicy).toBe("Fail");
    expect(byPod?.failurePolicy).toBe("Ignore");
    expect(byPod?.objectSelector?.matchExpressions).toEqual([
      { key: "veltrix.io/inject", operator: "NotIn", values: ["false"] },
    ]);
    expect(excludedNamespaces(byPod!)).toContain("kube-system");
  });
});

describe("helm template: cert-manager mode with ServiceMonitor and NetworkPolicy", () => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await renderChart({ values: [valuesFiles.certManager] });
  });

  it("lets cert-manager issue the certificate and inject the caBundle", () => {
    const hook = find<V1MutatingWebhookConfiguration>(manifests, "MutatingWebhookConfiguration");
    expect(hook.metadata?.annotations?.["cert-manager.io/inject-ca-from"]).toBe(
      `${releaseNamespace}/vx-veltrix-webhook`,
    );
    const cert = find<Certificate>(manifests, "Certificate", "vx-veltrix-webhook");
    expect(cert.spec.secretName).toBe("vx-veltrix-webhook-tls");
    expect(cert.spec.dnsNames).toEqual([
      `vx-veltrix.${releaseNamespace}.svc`,
      `vx-veltrix.${releaseNamespace}.svc.cluster.local`,
    ]);
    expect(cert.spec.issuerRef).toEqual({ kind: "Issuer", name: "vx-veltrix-ca" });
    expect(find<Issuer>(manifests, "Issuer", "vx-veltrix-selfsigned").spec).toEqual({ selfSigned: {} });
    const pod = find<V1Deployment>(manifests, "Deployment").spec?.template.spec;
    expect(pod?.volumes).toContainEqual({
      name: "webhook-tls",
      secret: { secretName: "vx-veltrix-webhook-tls" },
    });
    expect(envOf(pod?.containers[0])).toMatchObject({ VELTRIX_WEBHOOK_CERT_DIR: "/etc/veltrix/webhook-tls" });
  });

  it("drops the operator's access to Secrets and keeps only reading its webhook configuration", () => {
    const rules = [
      ...(find<V1ClusterRole>(manifests, "ClusterRole").rules ?? []),
      ...(find<V1Role>(manifests, "Role").rules ?? []),
    ];
    const resources = rules.flatMap((r) => r.resources ?? []);
    expect(resources).not.toContain("secrets");
    // Readiness checks that cert-manager's CA injector wrote a caBundle that trusts the certificate.
    const webhookRules = rules.filter((r) => r.resources?.includes("mutatingwebhookconfigurations"));
    expect(webhookRules.map((r) => [r.verbs, r.resourceNames?.length])).toEqual([[["get"], 1]]);
  });

  it("renders the ServiceMonitor, the sidecars' PodMonitor and the NetworkPolicy", () => {
    const sm = find<ServiceMonitor>(manifests, "ServiceMonitor");
    expect(sm.metadata.labels["release"]).toBe("prometheus");
    expect(sm.spec.endpoints).toEqual([{ port: "metrics", path: "/metrics", interval: "30s" }]);
    // Every injected pod (label veltrix.io/config) in any namespace, on the webhook's port name.
    const pm = find<PodMonitor>(manifests, "PodMonitor");
    expect(pm.metadata.labels["release"]).toBe("prometheus");
    expect(pm.spec).toEqual({
      selector: { matchExpressions: [{ key: "veltrix.io/config", operator: "Exists" }] },
      namespaceSelector: { any: true },
      podMetricsEndpoints: [{ port: metricsPortName, path: "/metrics", interval: "30s" }],
    });
    const np = find<V1NetworkPolicy>(manifests, "NetworkPolicy");
    expect(np.spec?.ingress?.map((i) => i.ports?.[0]?.port)).toEqual(["webhook", "metrics"]);
  });
});

describe("helm template: external NATS with TLS and credentials", () => {
  it("mounts the credentials and CA Secrets and passes TLS settings", async () => {
    const manifests = await renderChart({ values: [valuesFiles.externalNatsTls] });
    const pod = find<V1Deployment>(manifests, "Deployment").spec?.template.spec;
    expect(envOf(pod?.containers[0])).toMatchObject({
      VELTRIX_NATS_URL: "tls://nats-0.nats.messaging.svc:4222,tls://nats-1.nats.messaging.svc:4222",
      VELTRIX_NATS_TLS: "true",
      VELTRIX_NATS_TLS_DIR: "/etc/veltrix/nats/tls",
      VELTRIX_NATS_TLS_SERVER_NAME: "nats.messaging.svc",
      VELTRIX_NATS_CREDENTIALS_DIR: "/etc/veltrix/nats/credentials",
      VELTRIX_WATCH_NAMESPACE: "shop",
    });
    // The operator reads exactly these (operator/main.ts): credentials and TLS from the mounts.
    const env = envOf(pod?.containers[0]);
    expect(natsClientSettings(readFlags([], env))).toEqual({
      credentialsFile: undefined,
      credentialsDir: "/etc/veltrix/nats/credentials",
      tls: true,
      tlsDir: "/etc/veltrix/nats/tls",
      tlsCaFile: undefined,
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
      tlsServerName: "nats.messaging.svc",
    });
    const mounts = pod?.containers[0]?.volumeMounts ?? [];
    expect(mounts).toContainEqual({
      name: "nats-credentials",
      mountPath: "/etc/veltrix/nats/credentials",
      readOnly: true,
    });
    expect(mounts).toContainEqual({ name: "nats-tls", mountPath: "/etc/veltrix/nats/tls", readOnly: true });
    expect(pod?.volumes).toContainEqual({
      name: "nats-credentials",
      secret: { secretName: "veltrix-nats-creds" },
    });
    expect(pod?.volumes).toContainEqual({ name: "nats-tls", secret: { secretName: "veltrix-nats-ca" } });
    for (const w of webhooks(manifests)) {
      expect(w.failurePolicy).toBe("Ignore");
      expect(w.timeoutSeconds).toBe(3);
      expect(excludedNamespaces(w)).toEqual([
        "kube-system",
        "kube-public",
        "kube-node-lease",
        releaseNamespace,
        "monitoring",
        "istio-system",
      ]);
    }
    expect(sidecarDefaults(manifests)).toMatchObject({
      image: "registry.example.com/veltrix/sidecar:0.1.0-rc.1",
      natsTls: true,
      natsTlsServerName: "nats.messaging.svc",
      natsTlsFrom: { secretName: "veltrix-sidecar-nats-tls", configMapName: "" },
      natsCredentials: { secretName: "veltrix-sidecar-nats", key: "creds" },
    });
    expect(kinds(manifests)).not.toContain("StatefulSet");
  });
});

describe("helm template: bundled NATS", () => {
  it("renders a JetStream NATS StatefulSet and points the operator and sidecars at it", async () => {
    const manifests = await renderChart({ values: [valuesFiles.bundledNats] });
    const sts = find<V1StatefulSet>(manifests, "StatefulSet", "vx-veltrix-nats");
    expect(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.["storage"]).toBe("2Gi");
    expect(sts.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"]).toContain(
      "max_file_store: 1932735283",
    );
    const url = `nats://vx-veltrix-nats.${releaseNamespace}.svc:4222`;
    const deploy = find<V1Deployment>(manifests, "Deployment");
    expect(envOf(deploy.spec?.template.spec?.containers[0])["VELTRIX_NATS_URL"]).toBe(url);
    expect(sidecarDefaults(manifests)["natsUrl"]).toBe(url);
  });

  it("turns NATS decentralised auth on by default: keys made by the operator, sidecar users minted", async () => {
    const manifests = await renderChart({ values: [valuesFiles.bundledNats] });
    const conf = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"] ?? "";
    expect(conf).toContain('include "../nats-auth/auth.conf"');
    const env = envOf(find<V1Deployment>(manifests, "Deployment").spec?.template.spec?.containers[0]);
    expect(env).toMatchObject({
      VELTRIX_NATS_AUTH_SECRET: "vx-veltrix-nats-auth",
      VELTRIX_NATS_AUTH_GENERATE: "true",
    });
    expect(sidecarDefaults(manifests)["natsCredentials"]).toEqual({ minted: true });
    // Minted Secrets in app namespaces: by name, never listed or watched.
    expect(rulesFor(find<V1ClusterRole>(manifests, "ClusterRole").rules, "secrets")).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "patch", "delete"] },
    ]);
    expect(rulesFor(find<V1Role>(manifests, "Role").rules, "secrets")).toContainEqual({
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: ["vx-veltrix-nats-auth"],
      verbs: ["get"],
    });
    // The flags the operator reads from that env.
    const flags = readFlags([], env);
    expect([flags["nats-auth-secret"], flags["nats-auth-generate"]]).toEqual([
      "vx-veltrix-nats-auth",
      "true",
    ]);

    const open = await renderChart({
      values: [valuesFiles.bundledNats],
      set: ["nats.bundled.auth.enabled=false"],
    });
    expect(find<V1ConfigMap>(open, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"]).not.toContain(
      "include",
    );
    expect(
      envOf(find<V1Deployment>(open, "Deployment").spec?.template.spec?.containers[0]),
    ).not.toHaveProperty("VELTRIX_NATS_AUTH_SECRET");
    expect(rulesFor(find<V1ClusterRole>(open, "ClusterRole").rules, "secrets")).toEqual([]);
  });

  it("serves TLS from a Secret when asked, and the operator and sidecars trust it", async () => {
    const manifests = await renderChart({
      values: [valuesFiles.bundledNats],
      set: ["nats.bundled.tls.secretName=nats-serving"],
    });
    const conf = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"] ?? "";
    expect(conf).toMatch(/tls \{\s+cert_file: \/etc\/nats-tls\/tls.crt\s+key_file: \/etc\/nats-tls\/tls.key/);
    const sts = find<V1StatefulSet>(manifests, "StatefulSet", "vx-veltrix-nats");
    expect(sts.spec?.template.spec?.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "nats-serving" },
    });
    const pod = find<V1Deployment>(manifests, "Deployment").spec?.template.spec;
    expect(envOf(pod?.containers[0])).toMatchObject({
      VELTRIX_NATS_TLS: "true",
      VELTRIX_NATS_TLS_DIR: "/etc/veltrix/nats/tls",
    });
    expect(pod?.volumes).toContainEqual({
      name: "nats-tls",
      secret: { secretName: "nats-serving", items: [{ key: "ca.crt", path: "ca.crt" }] },
    });
    expect(sidecarDefaults(manifests)["natsTls"]).toBe(true);
  });
});

describe("server-side dry run of every rendered manifest (real kube-apiserver)", () => {
  beforeAll(async () => {
    // ServiceMonitor, Certificate and Issuer need their CRDs; stand-ins with the real
    // group/version/kind (see fixtures/third-party-crds.yaml) are applied for real.
    const ext = kubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const crd of thirdPartyCrds()) {
      await ext
        .createCustomResourceDefinition({ body: crd as unknown as V1CustomResourceDefinition })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
      await eventually(`${crd.metadata.name} established`, async () => {
        const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
        return (
          got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") || undefined
        );
      });
    }
  });

  for (const [shape, file] of Object.entries(valuesFiles)) {
    it(`accepts every object rendered with ${shape}`, async () => {
      const namespace = await createNamespace("chart-dry");
      const manifests = await renderChart({ values: [file], namespace });
      const answers = await dryRunApply(kubeConfig(), manifests, namespace);
      expect(answers.size).toBe(manifests.length);
      expect(answers.has(`MutatingWebhookConfiguration/vx-veltrix-${namespace}`)).toBe(true);
      // The CRD reached the server whole: every CEL rule of crds/ is in the server's answer.
      const crd = answers.get("CustomResourceDefinition/veltrixconfigs.veltrix.io");
      const rules = JSON.stringify(crd).match(/"rule":/g)?.length ?? 0;
      const sourceRules = readFileSync(join(repoRoot, "crds/veltrixconfig.yaml"), "utf8").match(
        /- rule:/g,
      )?.length;
      expect(sourceRules).toBeGreaterThan(0);
      expect(rules).toBe(sourceRules);
    });
  }
});

describe("Pod Security restricted (real kube-apiserver's PodSecurity admission)", () => {
  for (const [shape, file] of Object.entries(valuesFiles)) {
    it(`admits the pods of every workload rendered with ${shape}`, async () => {
      const namespace = await createNamespace("chart-psa", {
        "pod-security.kubernetes.io/enforce": "restricted",
      });
      const manifests = await renderChart({ values: [file], namespace });
      // The pod each workload creates (a StatefulSet adds its claim templates as volumes).
      const templates = manifests
        .filter((m) => m.kind === "Deployment" || m.kind === "StatefulSet")
        .map((m) => {
          const spec = (m as unknown as V1StatefulSet).spec;
          const template = structuredClone(spec?.template) as V1PodTemplateSpec;
          for (const claim of spec?.volumeClaimTemplates ?? []) {
            const claimName = `${claim.metadata?.name}-${m.metadata.name}-0`;
            template.spec?.volumes?.push({
              name: claim.metadata?.name ?? "",
              persistentVolumeClaim: { claimName },
            });
          }
          return { name: m.metadata.name, template };
        });
      expect(templates.length).toBeGreaterThan(0);
      const core = kubeConfig().makeApiClient(CoreV1Api);
      // The ServiceAccount must exist for the pod to be admitted at all.
      for (const sa of manifests.filter((m) => m.kind === "ServiceAccount")) {
        await core.createNamespacedServiceAccount({
          namespace,
          body: { metadata: { name: sa.metadata.name } },
        });
      }
      for (const { name, template } of templates) {
        // PodSecurity enforces on Pods (workloads only get warnings), so dry-run their pod.
        await core.createNamespacedPod({
          namespace,
          dryRun: "All",
          body: {
            metadata: { name: `${name}-0`, labels: template.metadata?.labels ?? {} },
            ...(template.spec ? { spec: template.spec } : {}),
          },
        });
      }
    });
  }

  it("would refuse a pod that is not restricted (the check is live)", async () => {
    const namespace = await createNamespace("chart-psa", {
      "pod-security.kubernetes.io/enforce": "restricted",
    });
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await expect(
      core.createNamespacedPod({
        namespace,
        dryRun: "All",
        body: { metadata: { name: "root" }, spec: { containers: [{ name: "c", image: "busybox" }] } },
      }),
    ).rejects.toThrow(/violates PodSecurity \W*restricted/);
  });
});
