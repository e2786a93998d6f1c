// The app of the story's experiment (issue 14), with a real capacity limit: every request
// does a fixed amount of CPU work (an iteration count calibrated once at start against
// the process's own CPU clock, so a busy machine does not shorten it), waits on a
// simulated backend call for a fixed time, and holds its per-request config state for
// its whole duration. Two designs of the same program:
//
//   --design old      the config layer resolves the config for each request and keeps
//                     that state (--state-kib KiB of JS objects: base config plus
//                     overrides, one copy per request) in the process's memory while
//                     the request is in flight; nothing bounds how many are in flight.
//   --design veltrix  the same program behind the sidecar: the per-request config state
//                     is the sidecar's SQLite record; the app takes the revision from
//                     `x-veltrix-config-revision`, reads the sidecar's rendered config file
//                     (--render-file) once per revision, keeps the request id from
//                     `x-veltrix-request-id`, and every --admin-every'th request reads its
//                     own record and resolved config from the admin API
//                     (GET /v1/requests/:id on --admin-port).
//
// GET /_stats answers {inflight, maxInflight, served, gcMs, gcCount, heapMiB, rssMiB,
// cpuMs, ...}; /_stats?reset=1 starts a new window (max in-flight, served, GC).
//   node bench/lib/story-app.ts --port N [--host 127.0.0.1] [--design old|veltrix]
//        [--work-us 50] [--wait-ms 5] [--state-kib 64] [--render-file F --admin-port A --admin-every 100]
import { readFileSync } from "node:fs";
import { Agent, createServer, get, type IncomingMessage, type ServerResponse } from "node:http";
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    design: { type: "string", default: "old" },
    "work-us": { type: "string", default: "50" },
    "wait-ms": { type: "string", default: "5" },
    "state-kib": { type: "string", default: "64" },
    "render-file": { type: "string", default: "" },
    "admin-port": { type: "string", default: "0" },
    "admin-every": { type: "string", default: "0" },
  },
});
const design = o.design === "veltrix" ? "veltrix" : "old";
const workUs = Number(o["work-us"]);
const waitMs = Number(o["wait-ms"]);
const stateKiB = Number(o["state-kib"]);
const adminEvery = Number(o["admin-every"]);
const adminPort = Number(o["admin-port"]);

// --- fixed CPU work -------------------------------------------------------------------
let sink = 0;
function spin(iterations: number): void {
  let h = sink | 0;
  for (let i = 0; i < iterations; i++) h = Math.imul(h ^ i, 0x5bd1e995) + 0x6b43a9b5;
  sink = h;
}
/** Iterations per µs of this process's CPU time (not wall time: a preempted loop still counts right). */
function calibrate(): number {
  spin(2_000_000); // JIT
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const n = 2_000_000;
    const c0 = process.cpuUsage();
    spin(n);
    const c = process.cpuUsage(c0);
    const us = c.user + c.system;
    if (us > 0) best = Math.max(best, n / us);
  }
  return best;
}
const itersPerUs = calibrate();
const halfWork = Math.max(1, Math.round((itersPerUs * workUs) / 2));

// --- per-request config state ----------------------------------------------------------
// The old design's config layer: base config plus overrides, resolved into a fresh
// object graph per request (~100 bytes per entry on the V8 heap).
interface Entry {
  key: string;
  value: string;
  source: string;
  rev: number;
}
const baseValues = Array.from({ length: 64 }, (_, i) => `value-${i}-`.padEnd(40, "x"));
function resolveState(id: number): Entry[] {
  const n = Math.max(1, Math.round((stateKiB * 1024) / 100));
  const out = new Array<Entry>(n);
  for (let i = 0; i < n; i++)
    out[i] = {
      key: `k${i}`,
      value: (baseValues[i & 63] ?? "") + String(id & 0xff),
      source: i % 7 === 0 ? "override" : "base",
      rev: 1,
    };
  return out;
}
const held = new Map<number, Entry[]>();

// The Veltrix design: one parsed copy of the rendered config per revision.
let rendered: { revision: string; config: unknown } | undefined;
let fileReads = 0;
function renderedConfig(revision: string): unknown {
  if (!o["render-file"]) return undefined;
  if (rendered?.revision !== revision) {
    const doc = JSON.parse(readFileSync(o["render-file"], "utf8")) as { revision: string; config: unknown };
    fileReads++;
    rendered = { revision: revision || doc.revision, config: doc.config };
  }
  return rendered.config;
}
const adminAgent = new Agent({ keepAlive: true, maxSockets: 4 });
let adminReads = 0;
let adminErrors = 0;
function readOwnRecord(id: string): Promise<void> {
  return new Promise((resolve) => {
    const r = get(
      { host: "127.0.0.1", port: adminPort, path: `/v1/requests/${id}`, agent: adminAgent },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) adminReads++;
          else adminErrors++;
          resolve();
        });
      },
    );
    r.on("error", () => {
      adminErrors++;
      resolve();
    });
  });
}

// --- stats ---------------------------------------------------------------------------
let inflight = 0;
let maxInflight = 0;
let served = 0;
let seq = 0;
let gcMs = 0;
let gcCount = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    gcCount++;
  }
}).observe({ entryTypes: ["gc"] });

function stats(res: ServerResponse, reset: boolean): void {
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  const body = JSON.stringify({
    design,
    workUs,
    waitMs,
    stateKiB,
    itersPerUs,
    inflight,
    maxInflight,
    served,
    gcMs,
    gcCount,
    heapMiB: m.heapUsed / 1048576,
    rssMiB: m.rss / 1048576,
    cpuMs: (c.user + c.system) / 1000,
    fileReads,
    adminReads,
    adminErrors,
  });
  if (reset) {
    maxInflight = inflight;
    served = 0;
    gcMs = 0;
    gcCount = 0;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const wait = (ms: number): Promise<void> =>
  new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const id = ++seq;
  inflight++;
  if (inflight > maxInflight) maxInflight = inflight;
  let check: number;
  if (design === "old") {
    const state = resolveState(id);
    held.set(id, state);
    spin(halfWork);
    await wait(waitMs);
    spin(halfWork);
    check = state.length + (state[id % state.length]?.value.length ?? 0);
    held.delete(id);
  } else {
    const revision = String(req.headers["x-veltrix-config-revision"] ?? "");
    const requestId = String(req.headers["x-veltrix-request-id"] ?? "");
    const config = renderedConfig(revision);
    spin(halfWork);
    await wait(waitMs);
    if (adminEvery > 0 && requestId && id % adminEvery === 0) await readOwnRecord(requestId);
    spin(halfWork);
    check = requestId.length + (config ? 1 : 0);
  }
  const body = `{"ok":true,"check":${check}}`;
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
  inflight--;
  served++;
}

const server = createServer((req, res) => {
  if (req.url?.startsWith("/_stats")) return stats(res, req.url.includes("reset=1"));
  req.resume();
  void handle(req, res);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.listen(Number(o.port), o.host);
server.on("error", (e) => {
  // EMFILE and friends are part of what the bench shows; the server keeps going.
  console.error(`story-app: ${String(e)}`);
});
process.on("SIGTERM", () => process.exit(0));
