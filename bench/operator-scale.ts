// Operator scale: create N VeltrixConfigs (default 1,000; --short 50) against a real
// kube-apiserver + etcd and nats-server, with the operator running as its own process
// (`node operator/main.ts`), and measure the time until all are Ready, the operator's
// RSS (idle, peak, end) and the API requests it made (its own counter, by verb).
//   scripts/with-node24 node bench/operator-scale.ts [--short] [--count N] [--workers N]
//     [--settle S] [--entry FILE] [--node-args "FLAGS"] [--env "K=V ..."] [--breakdown]
// --settle S reads RSS again S seconds after all are Ready (idle with every config cached);
// --entry runs another build of the operator (a bundle's operator/main.js, in the image's
// environment); --node-args adds Node flags before it, --env variables to its environment
// (trying V8 heap or glibc malloc settings before the image takes them); --breakdown preloads
// bench/lib/memory-probe.ts and, after the settle time, reports where the memory is
// (anonymous and file-backed RSS, V8 heap spaces, the heap live after a full GC).
// runOperatorScale() is also driven by test/bench/operator-short.test.ts on the test env.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
import { imageSpecs } from "../devenv/node/images.ts";
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
  /** Node flags before the entry point (trying V8 heap settings). */
  nodeArgs?: string[];
  /** Preload bench/lib/memory-probe.ts and report where the memory is after the settle time. */
  breakdown?: boolean;
}

/** Where the operator's memory is, after the settle time (MiB; --breakdown). */
export interface MemoryBreakdown {
  rss: number;
  anonymous: number;
  fileBacked: number;
  heapTotal: number;
  heapUsed: number;
  liveAfterGc: number;
  external: number;
  /** V8 heap spaces: physical size. */
  spaces: Record<string, number>;
  /** Anonymous memory outside the V8 heap (malloc: Node, buffers, TLS, thread stacks). */
  outsideHeap: number;
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
  /** Anonymous and file-backed RSS before the first create and after the settle time (/proc). */
  anonIdleMiB?: number;
  fileIdleMiB?: number;
  anonSettledMiB?: number;
  fileSettledMiB?: number;
  breakdown?: MemoryBreakdown;
  /** The same before the first create (its full GC runs before the load starts). */
  breakdownIdle?: MemoryBreakdown;
  /** Mean JSON size of what the API server returns per object, and without managedFields (bytes). */
  objectSizes?: Record<string, { json: number; withoutManagedFields: number }>;
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

/** RssAnon and RssFile of a process, in bytes (/proc/PID/status). */
function procRss(pid: number | undefined): { anon: number; file: number } | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return undefined;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { anon: kib("RssAnon") * 1024, file: kib("RssFile") * 1024 };
}

/** Mean JSON bytes per VeltrixConfig and per managed ConfigMap in `namespace`, as listed. */
async function objectSizes(
  kc: KubeConfig,
  namespace: string,
): Promise<Record<string, { json: number; withoutManagedFields: number }>> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { CoreV1Api } = await import("@kubernetes/client-node");
  const configs = (await custom.listNamespacedCustomObject({ group, version, plural, namespace })) as {
    items: { metadata?: object }[];
  };
  const maps = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace });
  const size = (items: { metadata?: object }[]) => {
    const n = Math.max(1, items.length);
    let json = 0;
    let slim = 0;
    for (const o of items) {
      json += JSON.stringify(o).length;
      const metadata: Record<string, unknown> = { ...o.metadata };
      delete metadata["managedFields"];
      slim += JSON.stringify({ ...o, metadata }).length;
    }
    return { json: Math.round(json / n), withoutManagedFields: Math.round(slim / n) };
  };
  return { veltrixconfig: size(configs.items), configmap: size(maps.items) };
}

interface ProbeSnapshot {
  memoryUsage: NodeJS.MemoryUsage;
  spaces: { space_name: string; physical_space_size: number }[];
  liveAfterGc: number;
}

export async function runOperatorScale(o: ScaleOptions): Promise<ScaleResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfigPath);
  await installCrd(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const workers = o.workers ?? 4;
  const port = await freePort();
  const probeFile = join(o.dir, `memory-probe-${port}.json`);
  const probe = o.breakdown ? ["--import", join(repoRoot, "bench/lib/memory-probe.ts")] : [];
  const proc = new ManagedProcess({
    name: "operator",
    command: process.execPath,
    args: [
      ...(o.nodeArgs ?? []),
      ...probe,
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
    ...(o.env || o.breakdown
      ? { env: { ...(o.env ?? process.env), ...(o.breakdown ? { VX_MEMORY_PROBE_FILE: probeFile } : {}) } }
      : {}),
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
    const procIdle = procRss(proc.pid);
    // Where the memory is (--breakdown): RSS from /proc, then the probe's heap figures; the
    // probe's full GC comes last, so nothing measured after it in this phase.
    const snapshot = async (): Promise<MemoryBreakdown> => {
      const rss = procRss(proc.pid);
      if (!rss || proc.pid === undefined) throw new Error("the operator process is gone");
      rmSync(probeFile, { force: true });
      process.kill(proc.pid, "SIGUSR2");
      for (let i = 0; i < 100 && !existsSync(probeFile); i++) await sleep(100);
      const snap = JSON.parse(readFileSync(probeFile, "utf8")) as ProbeSnapshot;
      const spaces: Record<string, number> = {};
      for (const s of snap.spaces)
        if (s.physical_space_size > 0) spaces[s.space_name] = mib(s.physical_space_size);
      const physical = snap.spaces.reduce((n, s) => n + s.physical_space_size, 0);
      return {
        rss: mib(rss.anon + rss.file),
        anonymous: mib(rss.anon),
        fileBacked: mib(rss.file),
        heapTotal: mib(snap.memoryUsage.heapTotal),
        heapUsed: mib(snap.memoryUsage.heapUsed),
        liveAfterGc: mib(snap.liveAfterGc),
        external: mib(snap.memoryUsage.external),
        spaces,
        outsideHeap: mib(rss.anon - physical),
      };
    };
    const breakdownIdle = o.breakdown ? await snapshot() : undefined;

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
    let procSettled: ReturnType<typeof procRss>;
    let breakdown: MemoryBreakdown | undefined;
    if (o.settleMs !== undefined) {
      await sleep(o.settleMs);
      rssSettled = metric(await scrape(), "veltrix_operator_process_resident_memory_bytes");
      procSettled = procRss(proc.pid);
      if (o.breakdown) breakdown = await snapshot();
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
      ...(procIdle && { anonIdleMiB: mib(procIdle.anon), fileIdleMiB: mib(procIdle.file) }),
      ...(procSettled && { anonSettledMiB: mib(procSettled.anon), fileSettledMiB: mib(procSettled.file) }),
      ...(breakdown && { breakdown }),
      ...(breakdownIdle && { breakdownIdle }),
      ...(o.breakdown && { objectSizes: await objectSizes(kc, o.namespace) }),
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
    ...(r.rssSettledMiB === undefined ? {} : { "RSS settled MiB": r.rssSettledMiB }),
    ...(r.anonSettledMiB === undefined ? {} : { "anon settled MiB": r.anonSettledMiB }),
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
  const settle = arg("settle");
  const entry = arg("entry");
  const nodeArgs = (arg("node-args") ?? "").split(" ").filter(Boolean);
  const extraEnv = Object.fromEntries(
    (arg("env") ?? "")
      .split(" ")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  ) as Record<string, string>;
  const breakdown = process.argv.includes("--breakdown");
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
        ...(settle === undefined ? {} : { settleMs: Number(settle) * 1000 }),
        // Another build runs as the image runs it: its environment only (devenv/node/images.ts).
        ...(entry === undefined
          ? Object.keys(extraEnv).length > 0
            ? { env: { ...process.env, ...extraEnv } }
            : {}
          : { entry, env: { PATH: process.env["PATH"], ...imageSpecs.operator.env, ...extraEnv } }),
        nodeArgs,
        breakdown: breakdown && settle !== undefined,
      });
      results.push(r);
      if (r.breakdown) {
        console.log("memory before the first create (MiB):", JSON.stringify(r.breakdownIdle));
        console.log(`memory ${settle ?? ""} s after all Ready (MiB):`, JSON.stringify(r.breakdown));
        console.log("mean object size (JSON bytes):", JSON.stringify(r.objectSizes));
      }
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
