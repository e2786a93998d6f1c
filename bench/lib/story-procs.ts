// Processes of the story's experiment (issue 14): the contenders (the app in its two
// designs, HAProxy in front of the old one, the sidecar in its three modes), the
// load-generator processes (bench/lib/users.ts), wrk with a Lua think time, and the
// per-process CPU, RSS and open-file samples every step reports.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Histogram } from "./histogram.ts";
import { cpuMs, port, repo, rssKiB, sidecarArgs, start, type Proc } from "./procs.ts";
import type { UsersCommand, UsersConfig, UsersReport } from "./users.ts";

const node = process.execPath;

export interface AppOptions {
  workUs: number;
  waitMs: number;
  stateKiB: number;
}

export interface Contender {
  name: string;
  /** Where users connect (one address per entry, used round robin). */
  targets: { host: string; port: number }[];
  /** Every process of the contender by role (app, sidecar, nats-server, haproxy). */
  pids(): { role: string; pid: number }[];
  appPort: number;
  maxConcurrency: number | undefined;
  /** DevTools ports of the sidecar's workers (VX_STORY_PROFILE_DIR set). */
  inspectPorts?: number[];
  stop(): Promise<void>;
}

export function getJson<T>(portN: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const r = get({ host: "127.0.0.1", port: portN, path, agent: false }, (res) => {
      let out = "";
      res.on("data", (d: Buffer) => (out += d.toString()));
      res.on("end", () => {
        try {
          resolve(JSON.parse(out) as T);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    r.on("error", reject);
    r.setTimeout(10_000, () => r.destroy(new Error(`GET ${path}: timeout`)));
  });
}

export interface AppStats {
  inflight: number;
  maxInflight: number;
  served: number;
  gcMs: number;
  gcCount: number;
  heapMiB: number;
  rssMiB: number;
  cpuMs: number;
  itersPerUs: number;
}

export async function startApp(
  dir: string,
  design: "old" | "veltrix",
  app: AppOptions,
  extra: string[] = [],
): Promise<{ proc: Proc; port: number }> {
  const p = await port();
  const proc = await start(
    node,
    [
      join(repo, "bench/lib/story-app.ts"),
      "--port",
      String(p),
      "--design",
      design,
      "--work-us",
      String(app.workUs),
      "--wait-ms",
      String(app.waitMs),
      "--state-kib",
      String(app.stateKiB),
      ...extra,
    ],
    p,
    join(dir, `app-${design}-${p}.log`),
  );
  return { proc, port: p };
}

/** The old design, users straight at the app (one process: it holds every connection). */
export async function oldDirect(dir: string, app: AppOptions): Promise<Contender> {
  const a = await startApp(dir, "old", app);
  return {
    name: "old design, direct",
    targets: [{ host: "127.0.0.1", port: a.port }],
    pids: () => [{ role: "app", pid: a.proc.child.pid ?? 0 }],
    appPort: a.port,
    maxConcurrency: undefined,
    stop: () => a.proc.stop(),
  };
}

/**
 * The old design behind HAProxy 2.6 (the classic answer): `maxconn` on the server bounds
 * what the app sees, `timeout queue` bounds the wait (503 past it). One process holds at
 * most ~9.9k connections (two descriptors each, 20,000 open files), so `processes` HAProxy processes (one thread
 * each) listen on their own ports and share the server's maxconn.
 */
export async function oldHaproxy(
  dir: string,
  app: AppOptions,
  o: { processes: number; maxConcurrency: number; maxWaitMs: number },
): Promise<Contender> {
  const a = await startApp(dir, "old", app);
  const procs: Proc[] = [];
  const targets: { host: string; port: number }[] = [];
  const perProcess = Math.max(1, Math.floor(o.maxConcurrency / o.processes));
  for (let i = 0; i < o.processes; i++) {
    const hp = await port();
    const cfg = join(dir, `haproxy-${hp}.cfg`);
    writeFileSync(
      cfg,
      [
        "global",
        // Two descriptors per connection (client and server side) under a 20,000 limit.
        "  maxconn 9900",
        "  nbthread 1",
        "defaults",
        "  mode http",
        "  timeout connect 5s",
        "  timeout client 120s",
        "  timeout server 60s",
        `  timeout queue ${o.maxWaitMs}ms`,
        "  option http-keep-alive",
        "frontend f",
        `  bind 127.0.0.1:${hp}`,
        "  maxconn 9900",
        "  default_backend b",
        "backend b",
        `  server app 127.0.0.1:${a.port} maxconn ${perProcess}`,
        "",
      ].join("\n"),
    );
    procs.push(await start("haproxy", ["-f", cfg, "-db"], hp, join(dir, `haproxy-${hp}.log`)));
    targets.push({ host: "127.0.0.1", port: hp });
  }
  return {
    name: "old design + HAProxy",
    targets,
    pids: () => [
      { role: "app", pid: a.proc.child.pid ?? 0 },
      ...procs.map((p) => ({ role: "haproxy", pid: p.child.pid ?? 0 })),
    ],
    appPort: a.port,
    maxConcurrency: perProcess * o.processes,
    stop: async () => {
      for (const p of procs) await p.stop();
      await a.proc.stop();
    },
  };
}

function sidecarConfig(
  file: string,
  mode: string,
  o: { name: string; maxConcurrency: number; maxWaitMs: number; configKiB: number },
): void {
  const value = "v".repeat(1000);
  const keys = Array.from({ length: o.configKiB }, (_, i) => `    key${i}: "${value}"`);
  writeFileSync(
    file,
    [
      "apiVersion: veltrix.io/v1alpha1",
      "kind: VeltrixConfig",
      `metadata: {name: ${o.name}, namespace: bench}`,
      "spec:",
      "  config:",
      ...keys,
      `  queue: {mode: ${mode}, maxConcurrency: ${o.maxConcurrency}, maxQueueDepth: 200000, maxWait: ${o.maxWaitMs}ms, requestTimeout: 30s}`,
      "",
    ].join("\n"),
  );
}

/** Children of a process (the sidecar primary's workers). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The new design behind the sidecar (`direct`, `sync` or `async`), with `workers` proxy processes. */
export async function veltrix(
  dir: string,
  app: AppOptions,
  o: {
    mode: "direct" | "sync" | "async";
    workers: number;
    maxConcurrency: number;
    maxWaitMs: number;
    configKiB: number;
    natsUrl?: string | undefined;
    natsPid?: number | undefined;
    adminEvery: number;
  },
): Promise<Contender> {
  const sp = await port();
  const adminPort = await port();
  const render = join(dir, `render-${sp}.json`);
  const a = await startApp(dir, "veltrix", app, [
    "--render-file",
    render,
    "--admin-port",
    String(adminPort),
    "--admin-every",
    String(o.adminEvery),
  ]);
  const cfg = join(dir, `story-${o.mode}-${sp}.yaml`);
  sidecarConfig(cfg, o.mode, { ...o, name: `story-${o.mode}-${sp}` });
  const args = [
    ...sidecarArgs({
      config: cfg,
      appPort: a.port,
      port: sp,
      adminPort,
      dataDir: join(dir, `data-${sp}`),
      natsUrl: o.mode === "direct" ? undefined : o.natsUrl,
    }),
    "--workers",
    String(o.workers),
    "--render-file",
    render,
    "--grace-ms",
    "2000",
  ];
  const extra = (process.env["VX_STORY_SIDECAR_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
  // VX_STORY_PROFILE_DIR: an inspector on the primary (port P) and each worker (P + i),
  // so story.ts can profile the sidecar's workers during a window only.
  const inspectPort = process.env["VX_STORY_PROFILE_DIR"] ? await port() : 0;
  if (inspectPort) extra.push(`--inspect=127.0.0.1:${inspectPort}`);
  const sc = await start(node, [...extra, ...args], sp, join(dir, `sidecar-${o.mode}-${sp}.log`));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await getJson<{ ready?: boolean }>(adminPort, "/readyz").catch(() => undefined);
    if (ready?.ready !== false && ready !== undefined) break;
    if (Date.now() > deadline) throw new Error(`sidecar ${o.mode} not ready in 30 s`);
    await sleep(200);
  }
  const primary = sc.child.pid ?? 0;
  return {
    name: `Veltrix ${o.mode}`,
    inspectPorts: inspectPort ? Array.from({ length: o.workers }, (_, i) => inspectPort + 1 + i) : [],
    targets: [{ host: "127.0.0.1", port: sp }],
    pids: () => [
      { role: "app", pid: a.proc.child.pid ?? 0 },
      { role: "sidecar", pid: primary },
      ...childPids(primary).map((pid) => ({ role: "sidecar", pid })),
      ...(o.mode !== "direct" && o.natsPid ? [{ role: "nats-server", pid: o.natsPid }] : []),
    ],
    appPort: a.port,
    maxConcurrency: o.maxConcurrency,
    stop: async () => {
      await sc.stop();
      await a.proc.stop();
    },
  };
}

// --- per-process samples ------------------------------------------------------------

export interface ProcSample {
  role: string;
  pid: number;
  cpuMs: number;
  rssKiB: number;
  fds: number;
  /** CPU ms by thread name (main thread "MainThread"; V8's GC helpers, the libuv pool, worker threads). */
  threads: Record<string, number>;
}

function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name =
        Number(tid) === pid ? "MainThread" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[name] = (out[name] ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

export function sample(pids: { role: string; pid: number }[]): ProcSample[] {
  const out: ProcSample[] = [];
  for (const { role, pid } of pids) {
    try {
      out.push({
        role,
        pid,
        cpuMs: cpuMs(pid),
        rssKiB: rssKiB(pid),
        fds: readdirSync(`/proc/${pid}/fd`).length,
        threads: role === "sidecar" || role === "app" ? threadCpu(pid) : {},
      });
    } catch {
      out.push({ role, pid, cpuMs: Number.NaN, rssKiB: Number.NaN, fds: Number.NaN, threads: {} });
    }
  }
  return out;
}

// --- load generators ---------------------------------------------------------------

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class Users {
  private readonly gens: ChildProcess[] = [];
  private readonly waiting = new Map<number, (m: unknown) => void>();
  private nextId = 0;

  readonly count: number;
  private constructor(count: number) {
    this.count = count;
  }

  /** `processes` generator processes, the i-th connecting from 127.0.1.(i+1). */
  static async start(processes: number, config: Omit<UsersConfig, "source">): Promise<Users> {
    const u = new Users(processes);
    for (let i = 0; i < processes; i++) {
      const g = fork(join(repo, "bench/lib/users.ts"), [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      u.gens.push(g);
      g.on("message", (m: { id?: number }) => {
        if (m.id === undefined) return;
        u.waiting.get(m.id)?.(m);
        u.waiting.delete(m.id);
      });
    }
    await Promise.all(
      u.gens.map((g, i) => u.ask(g, { type: "config", config: { ...config, source: `127.0.1.${i + 1}` } })),
    );
    return u;
  }

  /** Sends a command; resolves with its answer, or `{type: "timeout"}` after `timeoutMs` (a stuck process never hangs the bench). */
  private ask<T>(g: ChildProcess, m: DistributiveOmit<UsersCommand, "id">, timeoutMs = 60_000): Promise<T> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ type: "timeout" } as T);
      }, timeoutMs);
      this.waiting.set(id, (a) => {
        clearTimeout(t);
        resolve(a as T);
      });
      if (g.connected) g.send({ ...m, id });
    });
  }

  pids(): { role: string; pid: number }[] {
    return this.gens.map((g) => ({ role: "generator", pid: g.pid ?? 0 }));
  }

  /** Grows to `total` users in all, split evenly; resolves when every process has opened its share. */
  async grow(total: number): Promise<void> {
    await Promise.all(
      this.gens.map((g, i) => {
        const share = Math.floor(total / this.count) + (i < total % this.count ? 1 : 0);
        // 5,000 connections a second at the least, plus slack for a busy machine.
        return this.ask(g, { type: "grow", total: share }, (total / 2_500) * 1000 + 60_000);
      }),
    );
  }

  async window(): Promise<void> {
    await Promise.all(this.gens.map((g) => this.ask(g, { type: "window" })));
  }

  async report(): Promise<WindowReport> {
    const answers = await Promise.all(
      this.gens.map((g) => this.ask<UsersReport | { type: "timeout" }>(g, { type: "report" })),
    );
    const rs = answers.filter((a): a is UsersReport => a.type === "report");
    if (rs.length < answers.length)
      process.stderr.write(`users: ${answers.length - rs.length} generator(s) did not report\n`);
    const ok = new Histogram();
    const shed = new Histogram();
    const statuses: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const totalErrors: Record<string, number> = {};
    let connected = 0;
    let windowMs = 0;
    for (const r of rs) {
      ok.merge(r.hist);
      shed.merge(r.shed);
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.totalErrors)) totalErrors[k] = (totalErrors[k] ?? 0) + v;
      connected += r.connected;
      windowMs = Math.max(windowMs, r.windowMs);
    }
    return { ok, shed, statuses, errors, totalErrors, connected, windowMs };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.gens.map(
        (g) =>
          new Promise<void>((resolve) => {
            if (g.exitCode !== null) return resolve();
            g.once("exit", () => resolve());
            if (g.connected) g.send({ type: "stop", id: 0 } satisfies UsersCommand);
            else g.kill("SIGKILL");
            setTimeout(() => g.kill("SIGKILL"), 5_000).unref();
          }),
      ),
    );
  }
}

export interface WindowReport {
  ok: Histogram;
  shed: Histogram;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  totalErrors: Record<string, number>;
  connected: number;
  windowMs: number;
}

// --- wrk with a Lua think time (the story's own tool), as a cross-check -----------

export interface WrkUsersResult {
  requests: number;
  durationS: number;
  rps: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: Record<string, number>;
  cpuUsPerReq: number;
}

export async function wrkUsers(
  dir: string,
  url: string,
  connections: number,
  thinkMs: number,
  seconds: number,
): Promise<WrkUsersResult> {
  const lua = join(dir, `think-${thinkMs}.lua`);
  writeFileSync(
    lua,
    [
      `function delay() return ${thinkMs} end`,
      "function done(summary, latency, requests)",
      '  io.write(string.format("WRKJSON {\\"requests\\":%d,\\"duration\\":%d,\\"mean\\":%f,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"max\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d,\\"status\\":%d}\\n",',
      "    summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,",
      "    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))",
      "end",
      "",
    ].join("\n"),
  );
  // bash's `times` prints its children's CPU (user, system) on its second line: wrk's
  // whole CPU, exact, after it exits.
  const cmd = `wrk -t1 -c${connections} -d${seconds}s --timeout 30s -s ${lua} ${url}; times`;
  const child = spawn("bash", ["-c", cmd]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once("exit", r));
  const times = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  const cpu = ((times[2] ?? Number.NaN) + (times[3] ?? Number.NaN)) * 1000;
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m?.[1]) throw new Error(`wrk printed no summary:\n${out}`);
  const j = JSON.parse(m[1]) as Record<string, number>;
  const n = (k: string): number => j[k] ?? 0;
  return {
    requests: n("requests"),
    durationS: n("duration") / 1e6,
    rps: n("requests") / (n("duration") / 1e6),
    meanMs: n("mean") / 1000,
    p50Ms: n("p50") / 1000,
    p90Ms: n("p90") / 1000,
    p99Ms: n("p99") / 1000,
    maxMs: n("max") / 1000,
    errors: {
      connect: n("connect"),
      read: n("read"),
      write: n("write"),
      timeout: n("timeout"),
      "non-2xx": n("status"),
    },
    cpuUsPerReq: n("requests") ? (cpu * 1000) / n("requests") : Number.NaN,
  };
}
