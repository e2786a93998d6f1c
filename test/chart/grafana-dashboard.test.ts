// The Grafana dashboard the chart ships (charts/veltrix/files/dashboards/veltrix.json): off by
// default; on, a ConfigMap with Grafana's sidecar label carrying the file as it is, accepted by
// the real API server. Every panel's query names only metrics the sidecar, the operator and
// the webhook register (their real prom-client registries), and the panels are there.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import { createMetrics as createOperatorMetrics } from "../../operator/runtime/metrics.ts";
import { createWebhookMetrics } from "../../operator/webhook/metrics.ts";
import { createMetrics as createSidecarMetrics } from "../../sidecar/metrics.ts";
import { createNamespace, kubeConfig } from "../harness/env.ts";
import { chartDir, dryRunApply, type Manifest, renderChart, renderError, valuesFiles } from "./chart.ts";

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

const dashboardFile = join(chartDir, "files/dashboards/veltrix.json");

/** Every metric name the three registries expose (histograms as their base name). */
async function registeredMetrics(): Promise<Set<string>> {
  const operatorRegistry = createOperatorMetrics({ defaultMetrics: false }).registry;
  const webhookRegistry = new Registry();
  createWebhookMetrics(webhookRegistry);
  const sidecarRegistry = createSidecarMetrics().registry;
  const names = new Set<string>();
  for (const r of [operatorRegistry, webhookRegistry, sidecarRegistry])
    for (const m of await r.getMetricsAsJSON()) names.add(m.name);
  return names;
}

describe("chart: Grafana dashboard", () => {
  let enabled: Manifest[];
  beforeAll(async () => {
    enabled = await renderChart({
      values: [valuesFiles.defaults],
      set: ["grafana.dashboard.enabled=true", "grafana.dashboard.annotations.grafana_folder=Veltrix"],
    });
  });

  it("is off by default", async () => {
    const manifests = await renderChart({ values: [valuesFiles.defaults] });
    expect(manifests.filter((m) => m.metadata.labels?.["grafana_dashboard"] !== undefined)).toEqual([]);
  });

  it("renders a ConfigMap with the sidecar label carrying the dashboard file, accepted by the API server", async () => {
    const cm = enabled.find((m) => m.kind === "ConfigMap" && m.metadata.name === "vx-veltrix-dashboard") as
      (Manifest & V1ConfigMap) | undefined;
    expect(cm).toBeDefined();
    expect(cm!.metadata.labels?.["grafana_dashboard"]).toBe("1");
    expect(cm!.metadata.annotations).toEqual({ grafana_folder: "Veltrix" });
    expect(JSON.parse(cm!.data?.["veltrix.json"] ?? "")).toEqual(
      JSON.parse(readFileSync(dashboardFile, "utf8")),
    );
    const namespace = await createNamespace("vx-dashboard");
    const answers = await dryRunApply(kubeConfig(), [cm!], namespace);
    expect([...answers.keys()].join()).toContain("vx-veltrix-dashboard");
  });

  it("puts it where Grafana's sidecar looks when told, under the label it looks for", async () => {
    const manifests = await renderChart({
      values: [valuesFiles.defaults],
      set: [
        "grafana.dashboard.enabled=true",
        "grafana.dashboard.namespace=monitoring",
        "grafana.dashboard.label=my_dashboards",
        "grafana.dashboard.labelValue=yes",
      ],
    });
    const cm = manifests.find((m) => m.metadata.name === "vx-veltrix-dashboard")!;
    expect(cm.metadata.namespace).toBe("monitoring");
    expect(cm.metadata.labels?.["my_dashboards"]).toBe("yes");
    expect(
      await renderError({ values: [valuesFiles.defaults], set: ["grafana.dashboard.enabeld=true"] }),
    ).toContain("additional properties 'enabeld' not allowed");
  });

  it("queries only metrics the programs register, with a panel for each thing the issue names", async () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { uid: string; panels: Panel[] };
    expect(dashboard.uid).toBe("veltrix");
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    const registered = await registeredMetrics();
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        const names = [...t.expr.matchAll(/\bveltrix_[a-z_]+/g)].map((m) =>
          m[0].replace(/_(bucket|sum|count)$/, ""),
        );
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const name of names)
          expect(registered.has(name), `${p.title}: ${name} is not registered`).toBe(true);
      }
    }
    const byTitle = (re: RegExp): string[] =>
      panels.filter((p) => re.test(p.title)).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(byTitle(/^Request rate by mode/).join()).toMatch(/by \(mode\).*veltrix_sidecar_requests_total/);
    expect(byTitle(/^Queue wait by mode/).join()).toMatch(/by \(mode, le\).*queue_wait_seconds_bucket/);
    expect(byTitle(/^App latency/).join()).toContain("veltrix_sidecar_upstream_seconds_bucket");
    expect(byTitle(/^Queue depth/).join()).toContain("veltrix_sidecar_queue_depth");
    expect(byTitle(/^Shed/).join()).toContain("veltrix_sidecar_shed_total");
    expect(byTitle(/^Dead-lettered/).join()).toContain('outcome="expired"');
    expect(byTitle(/^Config revision per pod/).join()).toMatch(
      /by \(namespace, pod, revision\).*config_info/,
    );
    expect(byTitle(/^Store errors/).join()).toContain("veltrix_sidecar_store_errors_total");
    expect(byTitle(/^Reconcile rate/).join()).toContain("veltrix_operator_reconciles_total");
    expect(byTitle(/^Reconcile errors/).join()).toContain("veltrix_operator_reconcile_errors_total");
    expect(byTitle(/^Webhook latency/).join()).toContain("veltrix_webhook_admission_duration_seconds_bucket");
  });
});
