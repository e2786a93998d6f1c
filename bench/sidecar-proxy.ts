// Throughput and tail latency of the sidecar (`direct` with a record per request, and
// `sync` over a real JetStream) against the plain app, HAProxy (maxconn 32) and a
// minimal undici proxy and a raw JetStream publish → pull → reply loop (the floor
// for any sync design), all in the same run with wrk -t2 -c64. Medians of the runs,
// after a warm-up run per target (JIT, pools). "cpu µs/req" is the CPU the target's
// own process used per request served, steadier than req/s on a shared machine.
// A second table runs every target but the raw loop open-loop (vegeta, a fixed rate,
// VX_BENCH_RATE, default 5000/s): the latency a proxy adds when it is not saturated.
//   scripts/with-node24 node bench/sidecar-proxy.ts [--short]
// The sidecars run with the image's glibc malloc settings (sidecar/node-flags.ts);
// VX_SIDECAR_MALLOC=glibc runs them with glibc's defaults (a paired run's other half).
// VX_BENCH_BASELINE=DIR adds the sidecars of another checkout (e.g. a git worktree of an
// older commit, with its own node_modules) to the same run: a regression check in ratios.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cpuMs,
  hasWrk,
  openLoop,
  port,
  repo,
  sidecarArgs,
  sidecarMalloc,
  start,
  startNatsServer,
  wrk,
  type OpenLoopResult,
  type Proc,
  type WrkResult,
} from "./lib/procs.ts";
import { median, printTable, short, writeResults, type Row } from "./lib/report.ts";

const seconds = short ? 2 : 8;
const warmupSeconds = short ? 1 : 3;
const runs = short ? 1 : 3;
const connections = 64;
const node = process.execPath;

if (!hasWrk()) {
  console.log("sidecar-proxy: wrk not installed (apt-get install -y wrk); skipped");
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "vx-bench-proxy-"));
const procs: Proc[] = [];
const appPort = await port();
procs.push(await start(node, [join(repo, "bench/lib/plain-app.ts"), String(appPort)], appPort));

/** `pid`: the process whose CPU per request is reported (the proxy; the app for the baseline). */
const targets: { name: string; url: string; pid: number | undefined }[] = [
  { name: "app (no proxy)", url: `http://127.0.0.1:${appPort}/`, pid: procs[0]?.child.pid },
];
const last = (): number | undefined => procs[procs.length - 1]?.child.pid;

// One HAProxy thread: by default HAProxy starts a thread per CPU, and on a 2-CPU machine
// shared with wrk, the app and the proxy under test its two threads contend so badly
// that it serves ~17k req/s instead of the ~40–53k one thread does (the anchor).
if (spawnSync("haproxy", ["-v"]).error === undefined) {
  const hp = await port();
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `global\n  maxconn 5000\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${hp}\n  default_backend b\nbackend b\n  server app 127.0.0.1:${appPort} maxconn 32\n`,
  );
  procs.push(await start("haproxy", ["-f", cfg, "-db"], hp));
  targets.push({ name: "haproxy maxconn 32", url: `http://127.0.0.1:${hp}/`, pid: last() });
}

const mp = await port();
procs.push(await start(node, [join(repo, "bench/lib/minimal-proxy.ts"), String(mp), String(appPort)], mp));
targets.push({ name: "minimal undici proxy", url: `http://127.0.0.1:${mp}/`, pid: last() });

const nats = await startNatsServer(dir);
procs.push(nats.proc);

const rp = await port();
procs.push(
  await start(node, [join(repo, "bench/lib/jetstream-proxy.ts"), String(rp), String(appPort), nats.url], rp),
);
targets.push({ name: "raw JetStream round trip", url: `http://127.0.0.1:${rp}/`, pid: last() });

/** `name`: the config's own name, so each sync sidecar has its own stream and executor. */
function configFile(mode: string, name: string): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(
    f,
    [
      "apiVersion: veltrix.io/v1alpha1",
      "kind: VeltrixConfig",
      `metadata: {name: bench-${name}, namespace: bench}`,
      "spec:",
      '  config: {feature: "on"}',
      `  queue: {mode: ${mode}, maxConcurrency: 64, maxQueueDepth: 100000, maxWait: 30s, requestTimeout: 30s}`,
      "",
    ].join("\n"),
  );
  return f;
}

const baseline = process.env["VX_BENCH_BASELINE"];
const trees = [{ root: repo, suffix: "" }, ...(baseline ? [{ root: baseline, suffix: " @baseline" }] : [])];
for (const tree of trees)
  for (const mode of ["direct", "sync"]) {
    const p = await port();
    const name = `${mode}${tree.suffix.replace(/\W+/g, "-")}`;
    const args = sidecarArgs({
      root: tree.root,
      config: configFile(mode, name),
      appPort,
      port: p,
      adminPort: await port(),
      dataDir: join(dir, `data-${name}`),
      natsUrl: mode === "sync" ? nats.url : undefined,
    });
    // With the image's malloc settings (VX_SIDECAR_MALLOC=glibc: without, for paired runs).
    procs.push(
      await start(node, args, p, join(dir, `sidecar-${name}.log`), { ...process.env, ...sidecarMalloc() }),
    );
    targets.push({ name: `sidecar ${mode}${tree.suffix}`, url: `http://127.0.0.1:${p}/`, pid: last() });
  }
// Let the sync sidecar attach to its stream.
await new Promise((r) => setTimeout(r, 1_500));

for (const t of targets) await wrk(t.url, connections, warmupSeconds);

type Run = WrkResult & { cpuUsPerReq: number };
const results = new Map<string, Run[]>();
for (let r = 0; r < runs; r++) {
  for (const t of targets) {
    const cpu0 = t.pid ? cpuMs(t.pid) : Number.NaN;
    const res = await wrk(t.url, connections, seconds);
    const cpu = t.pid ? cpuMs(t.pid) - cpu0 : Number.NaN;
    const run: Run = { ...res, cpuUsPerReq: (cpu * 1000) / (res.rps * seconds) };
    results.set(t.name, [...(results.get(t.name) ?? []), run]);
  }
}

const med = (name: string, k: keyof Run): number => median((results.get(name) ?? []).map((x) => x[k]));
const anchor = targets.some((t) => t.name.startsWith("haproxy"))
  ? "haproxy maxconn 32"
  : "minimal undici proxy";
const appP99 = med("app (no proxy)", "p99ms");
const rows: Row[] = targets.map((t) => ({
  target: t.name,
  "req/s": Math.round(med(t.name, "rps")),
  [`x ${anchor.split(" ")[0]}`]: med(t.name, "rps") / med(anchor, "rps"),
  "p50 ms": med(t.name, "p50ms"),
  "p99 ms": med(t.name, "p99ms"),
  "p99 added ms": t.name.startsWith("app") ? 0 : med(t.name, "p99ms") - appP99,
  "cpu µs/req": med(t.name, "cpuUsPerReq"),
  "non-2xx": med(t.name, "non2xx"),
  errors: med(t.name, "errors"),
}));
console.log(
  `wrk -t2 -c${connections} -d${seconds}s, ${runs} run(s) after a ${warmupSeconds}s warm-up, medians; node ${process.version}`,
);
printTable(rows);
// Open loop: a fixed rate well below every proxy's capacity, so the latency is the
// target's own (pauses, scheduling) rather than queueing behind 64 busy connections.
const rate = Number(process.env["VX_BENCH_RATE"] ?? 5_000);
const olRuns = short ? 1 : 5;
const olSeconds = short ? 2 : 6;
const openTargets = targets.filter((t) => !t.name.startsWith("raw"));
const open = new Map<string, OpenLoopResult[]>();
for (let r = 0; r < olRuns; r++) {
  for (const t of openTargets) {
    const res = await openLoop(t.url, rate, olSeconds, connections);
    open.set(t.name, [...(open.get(t.name) ?? []), res]);
  }
}
const omed = (name: string, k: keyof OpenLoopResult): number =>
  median((open.get(name) ?? []).map((x) => x[k]));
const openRows: Row[] = openTargets.map((t) => ({
  target: t.name,
  "p50 ms": omed(t.name, "p50ms"),
  "p99 ms": omed(t.name, "p99ms"),
  "p99 added ms": t.name.startsWith("app") ? 0 : omed(t.name, "p99ms") - omed("app (no proxy)", "p99ms"),
  "p99 range ms": (open.get(t.name) ?? []).map((x) => x.p99ms.toFixed(1)).join(" "),
  "max ms": omed(t.name, "maxms"),
  "2xx share": omed(t.name, "success"),
}));
console.log(
  `\nopen loop (vegeta): ${rate} req/s for ${olSeconds}s over ${connections} connections, ${olRuns} run(s), medians`,
);
printTable(openRows);
console.log(
  `results: ${writeResults("sidecar-proxy", { connections, seconds, runs, anchor, rows, openLoop: { rate, seconds: olSeconds, runs: olRuns, rows: openRows } })}`,
);
for (const p of procs.reverse()) await p.stop();
rmSync(dir, { recursive: true, force: true });
