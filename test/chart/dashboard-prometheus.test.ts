// The chart's Grafana dashboard against a real Prometheus (built from Go modules): it
// scrapes a running operator (reconciles, its webhook called by the real API server) and
// two real sidecars (one async, one direct) through their /metrics-only listeners, as a
// cluster's PodMonitor and ServiceMonitor would; then every panel's query, as Grafana
// would send it, returns data.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVeltrixConfig } from "../../devenv/veltrixconfig-client.ts";
import { installCrd } from "../../devenv/crd.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { toolPath } from "../../devenv/tools.ts";
import { createNamespace, eventually, kubeConfig, natsUrl, tempDir } from "../harness/env.ts";
import { localhostWebhook, operatorProcess } from "../harness/operator-process.ts";
import { startApp, startSidecar, writeVeltrixConfig, type Sidecar } from "../sidecar/helpers.ts";
import { chartDir } from "./chart.ts";

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(chartDir, "files/dashboards/veltrix.json"), "utf8")) as {
  panels: Panel[];
};
/** Grafana's $__rate_interval, as it resolves for a 1 s scrape interval (4 x the interval, at least). */
const rateInterval = "15s";

describe("the Grafana dashboard's queries on a real Prometheus", () => {
  const kc = kubeConfig();
  const dir = tempDir("dashboard-prometheus");
  const stops: (() => Promise<unknown>)[] = [];
  let prometheus = "";
  const webhookConfigName = `veltrix-dash-${Date.now()}`;

  async function query(expr: string): Promise<unknown[]> {
    const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? res.status}`);
    return body.data?.result ?? [];
  }

  beforeAll(async () => {
    // The operator, serving the webhook the API server calls for pods in `apps`.
    await installCrd(kc);
    const home = await createNamespace("vx-dash-home");
    const apps = await createNamespace("vx-dash-apps", { "veltrix.test/webhook": webhookConfigName });
    await createVeltrixConfig(kc, apps, "default", {});
    const operatorHttp = await freePort();
    const webhook = await localhostWebhook(kc, webhookConfigName);
    const operator = operatorProcess({
      name: "op-dash",
      logDir: dir,
      namespace: home,
      watchNamespace: apps,
      httpPort: operatorHttp,
      args: webhook.args,
    });
    await webhook.register();
    operator.start();
    stops.push(() => operator.stop());
    stops.push(() => webhook.unregister());
    await operator.waitUntil(
      "ready",
      async () => (await fetch(`http://127.0.0.1:${operatorHttp}/readyz`)).ok,
    );

    // Two sidecars, each before its own app, with their /metrics-only listeners.
    const sidecar = async (name: string, queue: Record<string, unknown>): Promise<[Sidecar, number]> => {
      const app = await startApp(dir, `app-${name}`);
      stops.push(() => app.process.stop());
      const metricsPort = await freePort();
      const configFile = writeVeltrixConfig(dir, { name: `dash-${name}`, queue }, `${name}.yaml`);
      const sc = await startSidecar({
        dir,
        name: `sidecar-${name}`,
        configFile,
        appPort: app.port,
        natsUrl: natsUrl(),
        extraArgs: ["--metrics-port", String(metricsPort)],
      });
      stops.push(() => sc.process.stop());
      return [sc, metricsPort];
    };
    const [queued, queuedMetrics] = await sidecar("async", { mode: "async", maxDeliver: 1 });
    const [direct, directMetrics] = await sidecar("direct", {
      mode: "direct",
      maxConcurrency: 1,
      maxQueueDepth: 0,
    });

    // Prometheus, scraping every second, with the labels a PodMonitor/ServiceMonitor adds.
    const promPort = await freePort();
    const config = join(dir, "prometheus.yml");
    const target = (port: number, pod: string) =>
      `      - targets: ["127.0.0.1:${port}"]\n        labels: { namespace: ${apps}, pod: ${pod} }`;
    writeFileSync(
      config,
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "scrape_configs:",
        "  - job_name: sidecars",
        "    static_configs:",
        target(queuedMetrics, "queued-0"),
        target(directMetrics, "direct-0"),
        "  - job_name: operator",
        "    static_configs:",
        target(operatorHttp, "operator-0"),
        "",
      ].join("\n"),
    );
    const prom = new ManagedProcess({
      name: "prometheus",
      command: toolPath("prometheus"),
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "prometheus-data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      logFile: join(dir, "prometheus.log"),
    });
    prom.start();
    stops.push(() => prom.stop());
    prometheus = `http://127.0.0.1:${promPort}`;
    await prom.waitUntil("ready", async () => (await fetch(`${prometheus}/-/ready`)).ok);

    // What each panel shows: requests in both modes, a shed (the direct sidecar's one slot
    // taken, no room to wait), a dead letter (the app cuts the connection, maxDeliver 1),
    // an admission through the webhook, reconciles.
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${queued.url}/ok-${i}`, { method: "POST" })).status).toBe(202);
      expect((await fetch(`${direct.url}/ok-${i}`)).status).toBe(200);
    }
    await fetch(`${queued.url}/dead?crash=1`, { method: "POST" });
    const held = fetch(`${direct.url}/held?delay=3000`);
    await eventually("a shed", async () =>
      (await fetch(`${direct.url}/shed`)).status === 503 ? true : undefined,
    );
    await held;
    await kc.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: apps,
      body: {
        metadata: { name: "web", labels: { "veltrix.io/inject": "true" } },
        spec: {
          containers: [{ name: "web", image: "registry.example/web:1", ports: [{ containerPort: 8080 }] }],
        },
      },
    });
    await eventually("every target scraped", async () => {
      const res = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as {
        data: { activeTargets: { health: string }[] };
      };
      const t = res.data.activeTargets;
      return t.length === 3 && t.every((x) => x.health === "up") ? true : undefined;
    });
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it("every panel's query returns data", async () => {
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => [p.title, t.expr.replaceAll("$__rate_interval", rateInterval)] as const),
    );
    expect(exprs.length).toBeGreaterThan(15);
    const empty = await eventually(
      "every panel with data",
      async () => {
        const missing: string[] = [];
        for (const [title, expr] of exprs)
          if ((await query(expr)).length === 0) missing.push(`${title}: ${expr}`);
        return missing.length === 0 ? missing : undefined;
      },
      60_000,
    ).catch(async (err: unknown) => {
      // Name the panels that stayed empty.
      const missing: string[] = [];
      for (const [title, expr] of exprs)
        if ((await query(expr)).length === 0) missing.push(`${title}: ${expr}`);
      throw new Error(`panels without data:\n${missing.join("\n")}`, { cause: err });
    });
    expect(empty).toEqual([]);
  });
});
