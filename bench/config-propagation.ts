// Config propagation (issue 14's bar: a VeltrixConfig change reaches 50 running sidecars
// with p99 <= 500 ms, from the API write to each sidecar's applied revision). A real
// kube-apiserver, the operator as its own process, a real nats-server and N sidecar
// processes that boot from NATS KV, as pods do. Each sidecar's admin API long-polls its
// config (GET /v1/config?wait=30s with If-None-Match), which answers the moment the new
// revision is applied; the time from the API write to each answer is one sample.
//   scripts/with-node24 node bench/config-propagation.ts [--quick] [--sidecars N] [--changes N]
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { group, plural, version } from "../api/contract.ts";
import { startControlPlane } from "../devenv/control-plane.ts";
import { installCrd } from "../devenv/crd.ts";
import { startNats } from "../devenv/nats.ts";
import { freePort } from "../devenv/ports.ts";
import { ManagedProcess } from "../devenv/process.ts";
import { repoRoot } from "../devenv/tools.ts";
import { createVeltrixConfig } from "../devenv/veltrixconfig-client.ts";
import { sidecarNodeFlags } from "../sidecar/node-flags.ts";
import { median, printTable, short, writeResults } from "./lib/report.ts";

const arg = (name: string): number | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
};
const sidecars = arg("sidecars") ?? (short ? 10 : 50);
const changes = arg("changes") ?? (short ? 3 : 10);
const namespace = "propagation";
const name = "web";

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
}

const dir = mkdtempSync(join(tmpdir(), "vx-propagation-"));
const plane = await startControlPlane({ dir, controllerManager: false });
const nats = await startNats({ dir });
const procs: ManagedProcess[] = [];
try {
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  await installCrd(kc);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await createVeltrixConfig(kc, namespace, name, { config: { color: "v0" } });

  const operatorPort = await freePort();
  const operator = new ManagedProcess({
    name: "operator",
    command: process.execPath,
    args: [
      join(repoRoot, "operator/main.ts"),
      `--kubeconfig=${plane.kubeconfigPath}`,
      `--nats-url=${nats.url}`,
      "--leader-elect=false",
      `--watch-namespace=${namespace}`,
      `--http-port=${operatorPort}`,
      "--http-host=127.0.0.1",
      "--log-level=warn",
      "--webhook-cert-mode=disabled",
    ],
    logFile: join(dir, "operator.log"),
  });
  procs.push(operator);
  operator.start();
  await operator.waitUntil("ready", async () => (await fetch(`http://127.0.0.1:${operatorPort}/readyz`)).ok);

  // The sidecars: no config file, so each boots from the operator's document in NATS KV.
  const admins: string[] = [];
  for (let i = 0; i < sidecars; i++) {
    const [port, adminPort] = [await freePort(), await freePort()];
    const sc = new ManagedProcess({
      name: `sidecar-${i}`,
      command: process.execPath,
      args: [
        ...sidecarNodeFlags,
        join(repoRoot, "sidecar/main.ts"),
        "--app-port=9",
        `--port=${port}`,
        "--host=127.0.0.1",
        `--admin-port=${adminPort}`,
        `--data-dir=${join(dir, `sidecar-${i}`)}`,
        `--pod=sidecar-${i}`,
        `--nats-url=${nats.url}`,
        `--namespace=${namespace}`,
        `--name=${name}`,
        "--log-level=warn",
      ],
      logFile: join(dir, `sidecar-${i}.log`),
    });
    procs.push(sc);
    sc.start();
    admins.push(`http://127.0.0.1:${adminPort}`);
  }
  const etagOf = async (admin: string): Promise<string> =>
    (await fetch(`${admin}/v1/config`)).headers.get("etag") ?? "";
  for (const [i, admin] of admins.entries())
    await procs[i + 1]!.waitUntil("serving its config", async () => (await etagOf(admin)) !== "", 120_000);

  const custom = kc.makeApiClient(CustomObjectsApi);
  const samples: number[] = [];
  const perChange: { change: number; p50: number; max: number }[] = [];
  for (let c = 1; c <= changes; c++) {
    const etags = await Promise.all(admins.map(etagOf));
    // Every sidecar long-polls before the write, so the answer marks the moment it applied.
    const applied = admins.map((admin, i) =>
      fetch(`${admin}/v1/config?wait=30s`, { headers: { "if-none-match": etags[i]! } }).then((r) => {
        if (r.status !== 200) throw new Error(`sidecar ${i}: no new revision within 30 s (HTTP ${r.status})`);
        return performance.now();
      }),
    );
    const t0 = performance.now();
    await custom.patchNamespacedCustomObject(
      { group, version, namespace, plural, name, body: { spec: { config: { color: `v${c}` } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const times = (await Promise.all(applied)).map((t) => t - t0);
    samples.push(...times);
    perChange.push({ change: c, p50: median(times), max: Math.max(...times) });
  }

  const rows = [
    {
      sidecars,
      changes,
      samples: samples.length,
      "p50 ms": Math.round(median(samples)),
      "p90 ms": Math.round(quantile(samples, 0.9)),
      "p99 ms": Math.round(quantile(samples, 0.99)),
      "max ms": Math.round(Math.max(...samples)),
    },
  ];
  printTable(rows);
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  console.log(`from the API write to each sidecar's applied revision; load average ${load}`);
  writeResults(short ? "config-propagation-short" : "config-propagation", { rows, perChange, load });
} finally {
  for (const p of procs.reverse()) await p.stop().catch(() => undefined);
  await nats.stop();
  await plane.stop();
  rmSync(dir, { recursive: true, force: true });
}
