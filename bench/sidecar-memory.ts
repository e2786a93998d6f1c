// RSS per held request: a bare node:http server that never answers (the floor for any
// Node proxy) against the sidecar holding the same number of requests: waiting for a
// local slot (direct), waiting in JetStream (sync), and in flight to the app (direct,
// which also holds the upstream socket). Resolved configs of 1 KB and 64 KB.
//   scripts/with-node24 node bench/sidecar-memory.ts [--short]
// VX_BENCH_HELD=N holds N requests per case (default 4000; 500 with --short);
// VX_BENCH_RAMP_MS=N pauses N ms after every 100 connections (default 20);
// VX_BENCH_FORCE_GC=1 runs a full GC in the sidecar every 500 ms (live memory only).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  holdRequests,
  port,
  repo,
  rssKiB,
  sidecarArgs,
  start,
  startNatsServer,
  type Proc,
} from "./lib/procs.ts";
import { printTable, short, writeResults, type Row } from "./lib/report.ts";

const rampMs = Number(process.env["VX_BENCH_RAMP_MS"] ?? 20);
const held = short ? 500 : Number(process.env["VX_BENCH_HELD"] ?? 4_000);
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "vx-bench-mem-"));
const procs: Proc[] = [];

const floorSrc = join(dir, "floor.mjs");
writeFileSync(
  floorSrc,
  `import { createServer } from "node:http";
const held = [];
createServer((req, res) => { held.push(res); }).listen(Number(process.argv[2]), "127.0.0.1");`,
);

const appPort = await port();
procs.push(await start(node, [join(repo, "bench/lib/plain-app.ts"), String(appPort)], appPort));
const nats = await startNatsServer(dir);
procs.push(nats.proc);

function config(name: string, mode: string, maxConcurrency: number, configKiB: number): string {
  const value = "v".repeat(1000);
  const keys = Array.from({ length: configKiB }, (_, i) => `    key${i}: "${value}"`);
  const f = join(dir, `${name}.yaml`);
  writeFileSync(
    f,
    [
      "apiVersion: veltrix.io/v1alpha1",
      "kind: VeltrixConfig",
      `metadata: {name: ${name}, namespace: bench}`,
      "spec:",
      "  config:",
      ...keys,
      "  overrides:",
      "    - name: hold",
      "      match: {pathPrefix: /hold}",
      '      config: {held: "yes"}',
      `  queue: {mode: ${mode}, maxConcurrency: ${maxConcurrency}, maxQueueDepth: ${held * 2}, maxWait: 300s, requestTimeout: 300s}`,
      "",
    ].join("\n"),
  );
  return f;
}

async function settledRss(pid: number): Promise<number> {
  await sleep(short ? 300 : 1_500);
  let last = rssKiB(pid);
  for (let i = 0; i < 10; i++) {
    await sleep(500);
    const now = rssKiB(pid);
    if (Math.abs(now - last) < 256) return now;
    last = now;
  }
  return last;
}

async function measure(name: string, proc: Proc, p: number): Promise<Row> {
  const pid = proc.child.pid ?? 0;
  // Warm up (JIT, pools, first records) so the baseline is not the cold process.
  const warm = await holdRequests(p, 20, rampMs);
  await sleep(500);
  for (const s of warm) s.destroy();
  const before = await settledRss(pid);
  // Marginal cost: the slope between half and all of the held requests, so fixed
  // costs that appear with the first few hundred (young-generation growth, pools)
  // do not count as per-request memory.
  const first = await holdRequests(p, held / 2, rampMs);
  const half = await settledRss(pid);
  const second = await holdRequests(p, held / 2, rampMs);
  const after = await settledRss(pid);
  for (const s of [...first, ...second]) s.destroy();
  return {
    case: name,
    held,
    "rss before MiB": before / 1024,
    "rss after MiB": after / 1024,
    "KiB/held (all)": (after - before) / held,
    "KiB/held (slope)": (after - half) / (held / 2),
  };
}

const gcFlags =
  process.env["VX_BENCH_FORCE_GC"] === "1"
    ? ["--expose-gc", "--import", join(repo, "bench/lib/gc-preload.ts")]
    : [];
const rows: Row[] = [];
{
  const p = await port();
  const floor = await start(node, [floorSrc, String(p)], p);
  rows.push(await measure("node:http floor (never answers)", floor, p));
  await floor.stop();
}
const cases: [string, string, number, number][] = [
  ["sidecar direct, waiting for a slot, 1 KB config", "direct", 1, 1],
  ["sidecar direct, waiting for a slot, 64 KB config", "direct", 1, 64],
  ["sidecar sync, waiting in JetStream, 1 KB config", "sync", 1, 1],
  ["sidecar sync, waiting in JetStream, 64 KB config", "sync", 1, 64],
  ["sidecar direct, in flight to the app, 1 KB config", "direct", held * 2, 1],
];
let i = 0;
for (const [name, mode, conc, kib] of cases) {
  const p = await port();
  const args = [
    ...sidecarArgs({
      config: config(`mem${i}`, mode, conc, kib),
      appPort,
      port: p,
      adminPort: await port(),
      dataDir: join(dir, `data${i++}`),
      natsUrl: mode === "sync" ? nats.url : undefined,
    }),
    "--grace-ms",
    "1000",
  ];
  const sc = await start(node, [...gcFlags, ...args], p);
  if (mode === "sync") await sleep(1_500);
  rows.push(await measure(name, sc, p));
  await sc.stop();
}
const floorAll = Number(rows[0]?.["KiB/held (all)"]);
const floorSlope = Number(rows[0]?.["KiB/held (slope)"]);
for (const r of rows) {
  r["x floor (all)"] = Number(r["KiB/held (all)"]) / floorAll;
  r["x floor (slope)"] = Number(r["KiB/held (slope)"]) / floorSlope;
}
console.log(`held requests per case: ${held}; node ${process.version}`);
printTable(rows);
console.log(`results: ${writeResults("sidecar-memory", { held, rows })}`);
for (const p of procs.reverse()) await p.stop();
rmSync(dir, { recursive: true, force: true });
