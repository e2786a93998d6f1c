// What the sidecar's once-a-second client-timeout check costs with many requests open.
// The sidecar sets node:http's `connectionsCheckingInterval` to min(1 s, headers timeout)
// (Node's default, 30 s, let a 60 s limit run to ~80 s; sidecar/proxy/server.ts). Each
// check walks the server's active connections (those with a request not yet answered).
// This bench holds N such requests and reads the server process's CPU time while nothing
// else happens:
//   - a bare node:http server that never answers, checking every 30 s and every 1 s (the
//     difference is the check's own cost, as Node implements it);
//   - the sidecar (`direct`) with no request open, and with N requests in flight to an
//     app that holds them (its whole idle cost with N open: the check, timers, NATS
//     heartbeats none, the record store idle).
//   scripts/with-node24 node bench/connection-sweep.ts [--short]
// VX_BENCH_HELD=N (default 8,000: the sidecar holds 2 sockets per request and a process
// may open 20,000 files); VX_BENCH_WINDOW_S (default 10) per window, 3 windows per case.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cpuPreciseMs, holdRequests, port, repo, sidecarArgs, start, type Proc } from "./lib/procs.ts";
import { median, printTable, short, writeResults, type Row } from "./lib/report.ts";

const held = short ? 300 : Number(process.env["VX_BENCH_HELD"] ?? 8_000);
const windowS = short ? 1 : Number(process.env["VX_BENCH_WINDOW_S"] ?? 10);
const windows = 3;
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "vx-bench-sweep-"));
const procs: Proc[] = [];

function floorSource(intervalMs: number): string {
  const f = join(dir, `floor-${intervalMs}.mjs`);
  writeFileSync(
    f,
    `import { createServer } from "node:http";
const held = [];
createServer({ connectionsCheckingInterval: ${intervalMs}, headersTimeout: 60000, requestTimeout: 600000 },
  (req, res) => { held.push(res); }).listen(Number(process.argv[2]), "127.0.0.1");`,
  );
  return f;
}

function sidecarConfig(): string {
  const f = join(dir, "sweep.yaml");
  writeFileSync(
    f,
    [
      "apiVersion: veltrix.io/v1alpha1",
      "kind: VeltrixConfig",
      "metadata: {name: sweep, namespace: bench}",
      "spec:",
      "  config: {a: b}",
      `  queue: {mode: direct, maxConcurrency: ${held * 2}, maxQueueDepth: ${held * 2}, maxWait: 300s, requestTimeout: 600s}`,
      "",
    ].join("\n"),
  );
  return f;
}

/** CPU ms per second of `pid`, per window, while nothing else talks to it. */
async function idleCpu(pid: number): Promise<number[]> {
  // Accepts, parses and upstream dials settle, and V8's memory reducer finishes the
  // collections it runs in a process's first ~15 s (they cost a fresh idle sidecar ~4 ms/s).
  await sleep(short ? 500 : 20_000);
  const out: number[] = [];
  for (let w = 0; w < windows; w++) {
    const c0 = cpuPreciseMs(pid);
    const t0 = performance.now();
    await sleep(windowS * 1000);
    out.push(((cpuPreciseMs(pid) - c0) * 1000) / (performance.now() - t0));
  }
  return out;
}

async function measure(name: string, proc: Proc, p: number, n: number): Promise<Row> {
  const sockets = n > 0 ? await holdRequests(p, n) : [];
  let answered = 0;
  for (const s of sockets) s.once("data", () => answered++);
  const perWindow = await idleCpu(proc.child.pid ?? 0);
  // A request answered or a connection closed during the windows would mean the server
  // was measured emptying, not holding: the row says how many were still held.
  const stillHeld = sockets.filter((s) => s.readyState === "open").length - answered;
  for (const s of sockets) s.destroy();
  return {
    case: name,
    "requests open": n,
    "still held": stillHeld,
    "CPU ms/s (median)": median(perWindow),
    "windows ms/s": perWindow.map((v) => v.toFixed(1)).join(" "),
    "% of a core": median(perWindow) / 10,
  };
}

const rows: Row[] = [];
for (const interval of [30_000, 1_000]) {
  const p = await port();
  const floor = await start(node, [floorSource(interval), String(p)], p);
  rows.push(await measure(`node:http, never answers, checks every ${interval / 1000} s`, floor, p, held));
  await floor.stop();
}
const appPort = await port();
procs.push(await start(node, [join(repo, "bench/lib/plain-app.ts"), String(appPort)], appPort));
for (const n of [0, held]) {
  const p = await port();
  const sc = await start(
    node,
    [
      ...sidecarArgs({
        config: sidecarConfig(),
        appPort,
        port: p,
        adminPort: await port(),
        dataDir: join(dir, `data-${n}`),
      }),
      "--grace-ms",
      "1000",
    ],
    p,
  );
  rows.push(await measure(`sidecar direct, in flight to an app that holds them`, sc, p, n));
  await sc.stop();
}
const [slow, fast] = rows;
const checkCost = Number(fast?.["CPU ms/s (median)"]) - Number(slow?.["CPU ms/s (median)"]);
console.log(
  `requests open: ${held}; ${windows} windows of ${windowS} s per case; node ${process.version}; ` +
    `checking every 1 s instead of 30 s: ${checkCost.toFixed(2)} ms of CPU per second ` +
    `(${((checkCost * 1000) / held).toFixed(2)} µs per open request per second)`,
);
printTable(rows);
console.log(`results: ${writeResults("connection-sweep", { held, windowS, windows, checkCost, rows })}`);
for (const p of procs.reverse()) await p.stop();
rmSync(dir, { recursive: true, force: true });
