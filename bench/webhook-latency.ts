// Admission webhook benchmark against a real kube-apiserver (+ etcd, kube-controller-manager):
//  1. admission latency p50/p99 at 1, 50 and 200 concurrent requests posted straight to
//     the webhook's HTTPS endpoint (load from a worker thread; namespace and config
//     lookups through the real API server behind the webhook's 2 s cache), each level
//     beside a minimal node:https server answering the same review with the same patch
//     (a closed loop on two shared cores cannot give an absolute figure; the ratio holds);
//  2. pod-creation throughput through the API server with and without the webhook.
//   scripts/with-node24 node bench/webhook-latency.ts [--short]
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { createVeltrixConfig } from "../devenv/veltrixconfig-client.ts";
import { installCrd } from "../devenv/crd.ts";
import { createCertificateAuthority, issueServingCertificate } from "../operator/certs/issue.ts";
import { injectionFeaturesFor } from "../operator/webhook/config-input.ts";
import { createKubeLookups } from "../operator/webhook/kube-lookups.ts";
import { createWebhookMetrics } from "../operator/webhook/metrics.ts";
import { admissionPath, startWebhookServer } from "../operator/webhook/server.ts";
import { type ControlPlane, startControlPlane } from "../devenv/control-plane.ts";
import { podBody } from "./webhook-fixtures.ts";
import { median, type Row, printTable, short, writeResults } from "./lib/report.ts";
import { injectionWebhookConfiguration } from "../devenv/webhook-config.ts";
import { podAdmissionReview } from "../devenv/admission-review.ts";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function namespaceWithSa(kc: KubeConfig, labels: Record<string, string>): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `bench-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name, labels } } });
  for (let i = 0; i < 300; i++) {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return name;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`no default ServiceAccount in ${name}`);
}

function runWorker<T>(data: Record<string, unknown>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(new URL("./webhook-load.ts", import.meta.url), { workerData: data });
    worker.once("message", (m: T) => resolve(m));
    worker.once("error", reject);
  });
}

function load(port: number, ca: string, body: string, concurrency: number, warmup: number, requests: number) {
  return runWorker<{ latencies: number[]; seconds: number }>({
    kind: "reviews",
    port,
    ca,
    body,
    concurrency,
    warmup,
    requests,
  });
}

function fetchText(plane: ControlPlane, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${plane.server}${path}`,
      { headers: { authorization: `Bearer ${plane.adminToken}` }, ca: readFileSync(plane.caFile) },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve(body));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Sum of a metric's samples for the webhook "pod.inject.veltrix.io" (Prometheus text format). */
function apiMetric(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) && l.includes('name="pod.inject.veltrix.io"'))
    .reduce((acc, l) => acc + Number(l.split(" ").at(-1)), 0);
}

/** One AdmissionReview posted to the webhook; its response body. */
function post(port: number, ca: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: admissionPath, method: "POST", ca, servername: "localhost" },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`)),
        );
      },
    );
    req.on("error", reject);
    req.setHeader("content-type", "application/json");
    req.end(body);
  });
}

/**
 * The floor for any webhook in Node: parses the review and answers it with the patch the
 * real webhook gave for the same review (no lookups, no planning), on the same certificate.
 */
async function startMinimalWebhook(
  serving: { certPem: string; keyPem: string },
  sample: string,
): Promise<{ server: Server; port: number }> {
  const { response } = JSON.parse(sample) as { response: Record<string, unknown> };
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const { request: r } = JSON.parse(body) as { request: { uid: string } };
      const out = JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: { ...response, uid: r.uid },
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "vx-webhook-bench-"));
  const plane = await startControlPlane({ dir });
  try {
    const kc = plane.kubeConfig();
    await installCrd(kc);
    const selector = { "veltrix.bench/webhook": "on" };
    const injected = await namespaceWithSa(kc, selector);
    const plain = await namespaceWithSa(kc, {});
    await createVeltrixConfig(kc, injected, "default", {});
    await createVeltrixConfig(kc, plain, "default", {});

    const ca = await createCertificateAuthority("bench-ca", 1);
    const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] }, 1);
    const gitVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
    const registry = new Registry();
    const metrics = createWebhookMetrics(registry);
    const serverShare = async (le: number): Promise<number> => {
      const values = (await metrics.latency.get()).values;
      const bucket = (b: number | string) =>
        values.find(
          (v) => v.metricName?.endsWith("_bucket") && (v.labels as Record<string, unknown>)["le"] === b,
        )?.value ?? 0;
      const total = bucket("+Inf");
      return total === 0 ? 0 : (100 * bucket(le)) / total;
    };
    const server = await startWebhookServer({
      host: "127.0.0.1",
      port: 0,
      certificate: serving,
      lookups: createKubeLookups(kc, { defaults: { image: "ghcr.io/veltrix/sidecar:bench" } }),
      injection: { ...injectionFeaturesFor(gitVersion), nats: { url: "nats://nats:4222" } },
      metrics,
    });

    // 1. Straight to the endpoint, beside the minimal server answering the same review.
    const review = JSON.stringify(
      podAdmissionReview("bench", injected, {
        ...podBody(0),
        metadata: { generateName: "web-", annotations: { "veltrix.io/inject": "true" } },
      }),
    );
    const anchor = await startMinimalWebhook(serving, await post(server.port, ca.certPem, review));
    const latencyRows: Row[] = [];
    await load(server.port, ca.certPem, review, 10, 2_000, 1); // warm-up (JIT, lookup cache)
    await load(anchor.port, ca.certPem, review, 10, 2_000, 1);
    for (const concurrency of [1, 50, 200]) {
      const requests = short ? 1_000 : concurrency === 1 ? 3_000 : 10_000;
      // Warm-up at this concurrency opens the TLS connections the API server would keep alive.
      const warmup = Math.max(200, concurrency * 5);
      registry.resetMetrics();
      const measured = await load(server.port, ca.certPem, review, concurrency, warmup, requests);
      const floor = await load(anchor.port, ca.certPem, review, concurrency, warmup, requests);
      const p99 = percentile(measured.latencies, 99);
      const floorP99 = percentile(floor.latencies, 99);
      latencyRows.push({
        concurrency,
        requests,
        "p50 ms": percentile(measured.latencies, 50),
        "p99 ms": p99,
        "max ms": Math.max(...measured.latencies),
        "req/s": Math.round(requests / measured.seconds),
        // Server side (body read to response written, no queueing): share under 1 and 5 ms.
        "server <=1ms %": await serverShare(0.001),
        "server <=5ms %": await serverShare(0.005),
        "minimal p50 ms": percentile(floor.latencies, 50),
        "minimal p99 ms": floorP99,
        "minimal req/s": Math.round(requests / floor.seconds),
        "p99 x minimal": p99 / floorP99,
      });
    }
    anchor.server.close();
    console.log(
      "\nAdmission latency, AdmissionReview posted straight to the webhook (HTTPS keep-alive), " +
        "beside a minimal node:https server answering the same review with the same patch",
    );
    printTable(latencyRows);

    // 2. Through the API server, with and without the webhook.
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await admission.createMutatingWebhookConfiguration({
      body: injectionWebhookConfiguration({
        name: "veltrix-bench",
        url: `https://127.0.0.1:${server.port}${admissionPath}`,
        caBundlePem: ca.certPem,
        namespaceSelector: selector,
      }),
    });
    await sleep(1_000); // the API server picks up the new configuration
    const pods = short ? 100 : 300;
    const concurrency = 10;
    // Alternate the two cases, several rounds, so drift on a shared machine hits both alike.
    const rounds = short ? 1 : 3;
    const cases = [
      ["without webhook", plain],
      ["with webhook", injected],
    ] as const;
    const results = new Map<string, { rates: number[]; latencies: number[] }>(
      cases.map(([label]) => [label, { rates: [], latencies: [] }]),
    );
    const connectionsBefore = (await metrics.connections.get()).values[0]?.value ?? 0;
    for (let round = 0; round < rounds; round++) {
      for (const [label, namespace] of cases) {
        const { latencies, seconds } = await runWorker<{ latencies: number[]; seconds: number }>({
          kind: "pods",
          kubeconfigPath: plane.kubeconfigPath,
          namespace,
          round,
          count: pods,
          concurrency,
        });
        const r = results.get(label)!;
        r.rates.push(pods / seconds);
        r.latencies.push(...latencies);
      }
    }
    const throughputRows: Row[] = cases.map(([label]) => {
      const r = results.get(label)!;
      return {
        pods: label,
        "created/round": pods,
        rounds,
        concurrency,
        "median pods/s": Math.round(median(r.rates)),
        "p50 ms": percentile(r.latencies, 50),
        "p99 ms": percentile(r.latencies, 99),
      };
    });
    const rateWithout = Number(throughputRows[0]?.["median pods/s"]);
    for (const row of throughputRows) row["x without webhook"] = Number(row["median pods/s"]) / rateWithout;
    const check = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: "web-0-0", namespace: injected });
    if (!check.spec?.initContainers?.some((c) => c.name === "veltrix-sidecar")) {
      throw new Error("pods in the webhook namespace were not injected");
    }
    // What the API server itself measured for its calls to the webhook.
    const apiMetrics = await fetchText(plane, "/metrics");
    const sum = apiMetric(apiMetrics, "apiserver_admission_webhook_admission_duration_seconds_sum");
    const count = apiMetric(apiMetrics, "apiserver_admission_webhook_admission_duration_seconds_count");
    const webhookCallMs = count > 0 ? (1000 * sum) / count : 0;
    if (process.env["BENCH_DEBUG"]) {
      console.log(
        apiMetrics
          .split("\n")
          .filter((l) => l.includes("pod.inject.veltrix.io") && !l.includes("_bucket"))
          .join("\n"),
      );
    }
    console.log("\nPod creation through the API server (kube-apiserver + etcd on this machine)");
    printTable(throughputRows);
    const connections = ((await metrics.connections.get()).values[0]?.value ?? 0) - connectionsBefore;
    console.log(
      `API server's mean webhook call: ${webhookCallMs.toFixed(2)} ms over ${count} calls, ${connections} TLS connections`,
    );
    const file = writeResults("webhook-latency", {
      kubernetes: gitVersion,
      latency: latencyRows,
      throughput: throughputRows,
    });
    console.log(`\nresults: ${file}`);
    await server.close();
  } finally {
    await plane.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
