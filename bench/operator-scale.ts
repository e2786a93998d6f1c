// Operator scale: create N VeltrixConfigs (default 1,000; --short 50) against a real
// kube-apiserver + etcd and nats-server, with the operator running as its own process
// (`node operator/main.ts`), and measure the time until all are Ready, the operator's
// RSS (idle, peak, end) and the API requests it made (its own counter, by verb).
//   scripts/with-node24 node bench/operator-scale.ts [--short] [--count N] [--workers N]
// runOperatorScale() is also driven by test/bench/operator-short.test.ts on the test env.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import {
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import { apiVersion, group, kind, plural, version } from "../api/contract.ts";
import { installCrd } from "../devenv/crd.ts";
import type { VeltrixConfig } from "../api/types.generated.ts";
import { startControlPlane } from "../devenv/control-plane.ts";
import { startNats } from "../devenv/nats.ts";
import { freePort } from "../devenv/ports.ts";
import { ManagedProcess } from "../devenv/process.ts";
import { repoRoot } from "../devenv/tools.ts";
import { printTable, short, writeResults, type Row } from "./lib/report.ts";

export interface ScaleOptions {
  kubeconfigPath: string;
  natsUrl: string;
  count: number;
  dir: string;
  namespace: string;
  workers?: number;
  timeoutMs?: number;
  /** The operator's entry point (default operator/main.ts; the image runs the bundle's operator/main.js). */
  entry?: string;
  /** The operator's environment (default this process's). */
  env?: NodeJS.ProcessEnv;
  /** After all are Ready, wait this long and read RSS again (idle with every config in the cache). */
  settleMs?: number;
}

export interface ScaleResult {
  count: number;
  workers: number;
  createSeconds: number;
  allReadySeconds: number;
  readyAfterLastCreateSeconds: number;
  rssIdleMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  /** RSS `settleMs` after all were Ready (undefined without settleMs). */
  rssSettledMiB?: number;
  /** V8 heap in use at the end, after all were Ready (what the caches and queues hold). */
  heapUsedEndMiB: number;
  apiRequests: number;
  apiRequestsByVerb: Record<string, number>;
  apiRequestsPerConfig: number;
  reconciles: number;
  /** CPU the operator process used from the first create until all were Ready. */
  operatorCpuSeconds: number;
  /** 1-minute load average of the machine at the end (the runs share 2 cores with other work). */
  loadAverage: number;
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name) && (line[name.length] === " " || line[name.length] === "{")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

function byVerb(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^veltrix_operator_api_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const verb = /verb="([^"]+)"/.exec(m[1] ?? "")?.[1] ?? "?";
    out[verb] = (out[verb] ?? 0) + Number(m[2]);
  }
  return out;
}

const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function runOperatorScale(o: ScaleOptions): Promise<ScaleResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfigPath);
  await installCrd(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const workers = o.workers ?? 4;
  const port = await freePort();
  const proc = new ManagedProcess({
    name: "operator",
    command: process.execPath,
    args: [
      o.entry ?? join(repoRoot, "operator/main.ts"),
      `--kubeconfig=${o.kubeconfigPath}`,
      `--nats-url=${o.natsUrl}`,
      "--leader-elect=false",
      `--watch-namespace=${o.namespace}`,
      `--workers=${workers}`,
      `--http-port=${port}`,
      "--http-host=127.0.0.1",
      "--log-level=warn",
      "--webhook-cert-mode=disabled",
    ],
    logFile: join(o.dir, "operator.log"),
    ...(o.env ? { env: o.env } : {}),
  });
  proc.start();
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  try {
    await proc.waitUntil("ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
    await sleep(1_000);
    const idle = await scrape();
    const rssIdle = metric(idle, "veltrix_operator_process_resident_memory_bytes");
    const requestsIdle = metric(idle, "veltrix_operator_api_requests_total");
    const verbsIdle = byVerb(idle);
    const cpuIdle = metric(idle, "veltrix_operator_process_cpu_seconds_total");

    let rssPeak = rssIdle;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, metric(await scrape(), "veltrix_operator_process_resident_memory_bytes"));
        await sleep(250);
      }
    })();

    // Readiness from a watch, not by listing: listing 1,000 objects every few hundred
    // milliseconds would load the API server the operator is being measured against.
    const readyNames = new Set<string>();
    let readyAt = 0;
    let markAllReady: () => void = () => undefined;
    const allReady = new Promise<void>((resolve) => (markAllReady = resolve));
    const onObject = (v: VeltrixConfig): void => {
      const name = v.metadata?.name ?? "";
      const ready =
        v.status?.observedGeneration === v.metadata?.generation &&
        v.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      if (ready) readyNames.add(name);
      else readyNames.delete(name);
      if (readyNames.size >= o.count && readyAt === 0) {
        readyAt = performance.now();
        markAllReady();
      }
    };
    const watcher = new ListWatch<VeltrixConfig>(
      `/apis/${group}/${version}/namespaces/${o.namespace}/${plural}`,
      new Watch(kc),
      () =>
        custom.listNamespacedCustomObject({ group, version, plural, namespace: o.namespace }) as Promise<
          KubernetesListObject<VeltrixConfig>
        >,
      false,
    );
    watcher.on("add", onObject);
    watcher.on("update", onObject);
    await watcher.start();

    const t0 = performance.now();
    let next = 0;
    const create = async (): Promise<void> => {
      while (next < o.count) {
        const i = next++;
        await custom.createNamespacedCustomObject({
          group,
          version,
          plural,
          namespace: o.namespace,
          body: {
            apiVersion,
            kind,
            metadata: { name: `app-${String(i).padStart(4, "0")}` },
            spec: {
              config: { index: String(i), tier: i % 2 ? "gold" : "silver" },
              queue: { maxConcurrency: 1 + (i % 32) },
            },
          },
        });
      }
    };
    await Promise.all(Array.from({ length: 32 }, create));
    const tCreated = performance.now();

    const timeoutMs = o.timeoutMs ?? 600_000;
    const cancel = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: cancel.signal }).then(() => {
      throw new Error(`only ${readyNames.size}/${o.count} Ready after ${timeoutMs} ms`);
    });
    timeout.catch(() => undefined); // aborted once all are Ready
    await Promise.race([allReady, timeout]).finally(() => cancel.abort());
    await watcher.stop();
    const tReady = readyAt;
    sampling = false;
    await sampler;
    // A config turns Ready inside its reconcile; the reconcile is counted when it returns,
    // a moment later: the final numbers wait for every config's count.
    let end = await scrape();
    for (let i = 0; i < 100 && metric(end, "veltrix_operator_reconciles_total") < o.count; i++) {
      await sleep(100);
      end = await scrape();
    }
    const verbsEnd = byVerb(end);
    let rssSettled: number | undefined;
    if (o.settleMs !== undefined) {
      await sleep(o.settleMs);
      rssSettled = metric(await scrape(), "veltrix_operator_process_resident_memory_bytes");
    }
    const apiRequestsByVerb: Record<string, number> = {};
    for (const [v, n] of Object.entries(verbsEnd)) apiRequestsByVerb[v] = n - (verbsIdle[v] ?? 0);
    const apiRequests = metric(end, "veltrix_operator_api_requests_total") - requestsIdle;
    return {
      count: o.count,
      workers,
      createSeconds: (tCreated - t0) / 1000,
      allReadySeconds: (tReady - t0) / 1000,
      readyAfterLastCreateSeconds: (tReady - tCreated) / 1000,
      rssIdleMiB: mib(rssIdle),
      rssPeakMiB: mib(rssPeak),
      rssEndMiB: mib(metric(end, "veltrix_operator_process_resident_memory_bytes")),
      ...(rssSettled === undefined ? {} : { rssSettledMiB: mib(rssSettled) }),
      heapUsedEndMiB: mib(metric(end, "veltrix_operator_nodejs_heap_size_used_bytes")),
      apiRequests,
      apiRequestsByVerb,
      apiRequestsPerConfig: Math.round((apiRequests / o.count) * 100) / 100,
      reconciles: metric(end, "veltrix_operator_reconciles_total"),
      loadAverage: Math.round(loadavg()[0] ?? 0),
      operatorCpuSeconds:
        Math.round((metric(end, "veltrix_operator_process_cpu_seconds_total") - cpuIdle) * 100) / 100,
    };
  } finally {
    await proc.stop();
  }
}

export function resultRow(r: ScaleResult): Row {
  return {
    configs: r.count,
    workers: r.workers,
    "create s": r.createSeconds,
    "all Ready s": r.allReadySeconds,
    "after last create s": r.readyAfterLastCreateSeconds,
    "RSS idle MiB": r.rssIdleMiB,
    "RSS peak MiB": r.rssPeakMiB,
    "heap used MiB": r.heapUsedEndMiB,
    "API requests": r.apiRequests,
    "per config": r.apiRequestsPerConfig,
    reconciles: r.reconciles,
    "operator CPU s": r.operatorCpuSeconds,
    load: r.loadAverage,
  };
}

async function main(): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const count = Number(arg("count") ?? (short ? 50 : 1_000));
  const workersList = (arg("workers") ?? "4").split(",").map(Number);
  const dir = mkdtempSync(join(tmpdir(), "vx-operator-bench-"));
  const plane = await startControlPlane({ dir, controllerManager: false });
  const nats = await startNats({ dir });
  const rows: Row[] = [];
  const results: ScaleResult[] = [];
  try {
    for (const [i, workers] of workersList.entries()) {
      const namespace = `bench-${i}`;
      const kc = plane.kubeConfig();
      const { CoreV1Api } = await import("@kubernetes/client-node");
      await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
      const r = await runOperatorScale({
        kubeconfigPath: plane.kubeconfigPath,
        natsUrl: nats.url,
        count,
        dir,
        namespace,
        workers,
      });
      results.push(r);
      rows.push(resultRow(r));
    }
    printTable(rows);
    console.log(`wrote ${writeResults(short ? "operator-scale-short" : "operator-scale", results)}`);
  } finally {
    await plane.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
