// The chart's cluster-wide sidecar defaults (sidecar.port, adminPort, stateVolumeSizeLimit)
// reach the injected sidecar when a VeltrixConfig leaves them unset, and lose to what a
// VeltrixConfig or a pod annotation sets: built-in → chart → VeltrixConfig → namespace →
// pod. Real pieces: helm renders the defaults ConfigMap, the VeltrixConfigs go through the
// real API server (with the CRD's defaulting), and startWebhook reads the file as in a pod.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi, type V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiVersion, group, kind, plural, version } from "../../../api/contract.ts";
import { installCrd } from "../../../devenv/crd.ts";
import type { VeltrixConfigSpec } from "../../../api/types.generated.ts";
import { createCertificateAuthority, issueServingCertificate } from "../../../operator/certs/issue.ts";
import { applyPatch, type PatchOperation } from "../../../operator/webhook/json-patch.ts";
import type { RunningWebhook } from "../../../operator/webhook/start.ts";
import { postReview } from "../../../devenv/admission-review.ts";
import { startMountedCertWebhook } from "./webhook-env.ts";
import { find, renderChart } from "../../chart/chart.ts";
import { createNamespace, kubeConfig, tempDir } from "../../harness/env.ts";
import { podAdmissionReview } from "../../../devenv/admission-review.ts";

interface ContainerJson {
  name: string;
  ports?: { name?: string; containerPort: number }[];
}
interface PodJson {
  spec: {
    containers: ContainerJson[];
    initContainers?: ContainerJson[];
    volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
  };
}

describe("chart sidecar defaults through the webhook", () => {
  let running: RunningWebhook | undefined;
  let caPem: string;
  let namespace: string;

  function post(body: string): Promise<{ response: Record<string, unknown> }> {
    return postReview(running!.server.port, caPem, body);
  }

  /** The injected pod for a pod naming `config` (with extra pod annotations). */
  async function inject(config: string, annotations: Record<string, string> = {}) {
    const pod = {
      metadata: {
        generateName: "web-",
        labels: { "veltrix.io/inject": "true" },
        annotations: { "veltrix.io/config": config, ...annotations },
      },
      spec: { containers: [{ name: "web", image: "web:1", ports: [{ name: "http", containerPort: 8080 }] }] },
    };
    const reply = await post(JSON.stringify(podAdmissionReview(`defaults-${config}`, namespace, pod)));
    expect(reply.response, JSON.stringify(reply.response)).toMatchObject({
      allowed: true,
      patchType: "JSONPatch",
    });
    const patch = JSON.parse(
      Buffer.from(String(reply.response["patch"]), "base64").toString(),
    ) as PatchOperation[];
    const out = applyPatch(pod, patch) as unknown as PodJson;
    const sidecar = [...(out.spec.initContainers ?? []), ...out.spec.containers].find(
      (c) => c.name === "veltrix-sidecar",
    );
    const ports: Record<string, number> = {};
    for (const p of sidecar?.ports ?? []) ports[p.name ?? ""] = p.containerPort;
    const state: string | undefined = out.spec.volumes?.find((v) => v.name === "veltrix-state")?.emptyDir
      ?.sizeLimit;
    return { ports, state };
  }

  async function createConfig(name: string, spec: VeltrixConfigSpec): Promise<void> {
    await kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .createNamespacedCustomObject({
        group,
        version,
        plural,
        namespace,
        body: { apiVersion, kind, metadata: { name }, spec },
      });
  }

  beforeAll(async () => {
    const kc = kubeConfig();
    await installCrd(kc);
    namespace = await createNamespace("vx-chart-defaults");
    const dir = tempDir("vx-chart-defaults");
    // The defaults file exactly as the chart renders it.
    const manifests = await renderChart({
      set: ["sidecar.port=16080", "sidecar.adminPort=16090", "sidecar.stateVolumeSizeLimit=3Gi"],
    });
    const cm = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-sidecar-defaults");
    const defaultsFile = join(dir, "defaults.json");
    writeFileSync(defaultsFile, cm.data?.["defaults.json"] ?? "");

    const ca = await createCertificateAuthority("defaults-ca", 1);
    caPem = ca.certPem;
    const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"] }, 1);
    writeFileSync(join(dir, "tls.crt"), serving.certPem);
    writeFileSync(join(dir, "tls.key"), serving.keyPem);
    running = await startMountedCertWebhook({ kubeConfig: kc, certDir: dir, defaultsFile });
  });
  afterAll(async () => {
    await running?.stop();
  });

  it("applies the chart's ports and state size when the VeltrixConfig leaves them unset", async () => {
    await createConfig("unset", {});
    expect(await inject("unset")).toEqual({
      ports: { http: 16080, "vx-admin": 16090, "vx-metrics": 15091 },
      state: "3Gi",
    });
  });

  it("lets the VeltrixConfig override them field by field, and pod annotations override both", async () => {
    await createConfig("set", { sidecar: { ports: { proxy: 17080 } }, store: { sizeLimit: "5Gi" } });
    expect(await inject("set")).toEqual({
      ports: { http: 17080, "vx-admin": 16090, "vx-metrics": 15091 },
      state: "5Gi",
    });
    expect(await inject("set", { "veltrix.io/proxy-port": "18080", "veltrix.io/store-size": "2Gi" })).toEqual(
      { ports: { http: 18080, "vx-admin": 16090, "vx-metrics": 15091 }, state: "2Gi" },
    );
  });
});
