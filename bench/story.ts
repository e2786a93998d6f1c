// The story's experiment (issue 14): an app with a real capacity limit in two designs
// (per-request config state in the app's memory, unbounded in flight; or behind the
// Veltrix sidecar, state in its SQLite record, the app seeing at most maxConcurrency),
// driven by users that hold a keep-alive connection, send, wait, think and repeat.
// Scenarios (all by default; --only=a,b picks some):
//   capacity  the app alone in each design, 64 connections without think time
//   ramp      users in steps (1k 5k 10k 20k 50k 100k) with a fixed think time, every contender
//   wrk       the story's own tool (wrk + Lua delay) at the steps one wrk process can drive
//   overload  closed loop without think time (64, 500, 2000 connections): goodput, in-flight, shedding
//   cpu       CPU per request against held connections at a fixed request rate
//   memory    RSS per held connection against a minimal node:http server (two state sizes)
//   openloop  vegeta at a fixed rate (5,000 and 10,000 req/s): latency a proxy adds
// --quick: every scenario at small scale (CI; fails only when the harness breaks).
// Results: bench/results/story.json (story-quick.json with --quick); the full form also
// writes the section of docs/benchmarks.md and its charts (bench/story-report.ts).
//   scripts/with-node24 node bench/story.ts [--quick] [--only=ramp,overload]
// Sizes: VX_STORY_STEPS, VX_STORY_THINK_MS, VX_STORY_WINDOW_S, VX_STORY_WORK_US,
// VX_STORY_WAIT_MS, VX_STORY_STATE_KIB, VX_STORY_CPU_RATE, VX_STORY_CPU_HELD, VX_STORY_RUNS,
// VX_STORY_CONTENDERS, VX_STORY_WRK_STEPS; VX_STORY_SIDECAR_NODE_ARGS adds Node flags to the sidecar (and so
// its workers), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; VX_STORY_PROFILE_DIR=DIR
// writes a CPU profile of every sidecar worker for each measured window only.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openLoop, port, repo, sidecarArgs, start, startNatsServer, type Proc } from "./lib/procs.ts";
import { startProfiles } from "./lib/inspector-profile.ts";
import { median, printTable, writeResults, type Row } from "./lib/report.ts";
import {
  getJson,
  oldDirect,
  oldHaproxy,
  sample,
  startApp,
  Users,
  veltrix,
  wrkUsers,
  type AppOptions,
  type AppStats,
  type Contender,
  type ProcSample,
  type WindowReport,
} from "./lib/story-procs.ts";
import { writeFileSync } from "node:fs";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick") || argv.includes("--short");
const only = argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const want = (s: string): boolean => !only || only.includes(s);
const env = (k: string, full: number, q: number): number =>
  process.env[k] !== undefined ? Number(process.env[k]) : quick ? q : full;
const list = (k: string, full: number[], q: number[]): number[] =>
  process.env[k] ? (process.env[k] ?? "").split(",").map(Number) : quick ? q : full;

const app: AppOptions = {
  workUs: env("VX_STORY_WORK_US", 50, 50),
  waitMs: env("VX_STORY_WAIT_MS", 5, 5),
  stateKiB: env("VX_STORY_STATE_KIB", 64, 64),
};
const P = {
  steps: list("VX_STORY_STEPS", [1000, 5000, 10000, 20000, 50000, 100000], [100, 400]),
  thinkMs: env("VX_STORY_THINK_MS", 10_000, 1_000),
  windowS: env("VX_STORY_WINDOW_S", 20, 2),
  runs: env("VX_STORY_RUNS", 3, 1),
  maxConcurrency: 64,
  maxWaitMs: 2_000,
  perGenerator: 15_000,
  connectRate: 5_000,
  timeoutMs: 30_000,
  adminEvery: 100,
  cpuRate: env("VX_STORY_CPU_RATE", 2_000, 300),
  cpuHeld: list("VX_STORY_CPU_HELD", [64, 1000, 10000, 20000, 50000, 100000], [64, 400]),
  overloadConns: quick ? [64, 200] : [64, 500, 2000],
  memoryLevels: quick ? [200, 800] : [2000, 15000],
  openLoopRates: quick ? [1000] : [5000, 10000],
};
const started = new Date();
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "vx-story-"));
const say = (s: string): void =>
  void process.stderr.write(`[story ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "",
  memGiB: totalmem() / 2 ** 30,
  node: process.version,
  loadAtStart: loadavg()[0] ?? 0,
  openFileLimit: Number(spawnSync("sh", ["-c", "ulimit -n"]).stdout.toString().trim()),
};
say(`quick=${quick} dir=${dir} load=${machine.loadAtStart.toFixed(2)} app=${JSON.stringify(app)}`);

const nats = await startNatsServer(dir);
const natsPid = nats.proc.child.pid ?? 0;
const always: Proc[] = [nats.proc];

type Kind = "old" | "haproxy" | "direct" | "sync" | "async";
// VX_STORY_CONTENDERS=direct,sync drives only those (profiling, partial runs).
const kinds: Kind[] = (["old", "haproxy", "direct", "sync", "async"] as Kind[]).filter(
  (k) => !process.env["VX_STORY_CONTENDERS"] || process.env["VX_STORY_CONTENDERS"].split(",").includes(k),
);

async function contender(kind: Kind, maxUsers: number, configKiB = 1): Promise<Contender> {
  const processes = Math.max(1, Math.ceil(maxUsers / P.perGenerator));
  if (kind === "old") return oldDirect(dir, app);
  if (kind === "haproxy")
    return oldHaproxy(dir, app, {
      processes: Math.max(1, Math.ceil(maxUsers / 9_000)),
      maxConcurrency: P.maxConcurrency,
      maxWaitMs: P.maxWaitMs,
    });
  return veltrix(dir, app, {
    mode: kind,
    workers: processes,
    maxConcurrency: P.maxConcurrency,
    maxWaitMs: P.maxWaitMs,
    configKiB,
    natsUrl: nats.url,
    natsPid,
    adminEvery: P.adminEvery,
  });
}

/** What one window of load measured: latency, rate, errors, every process's CPU and RSS. */
interface Measured {
  users: number;
  connected: number;
  windowS: number;
  requests: number;
  rps: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  shed: number;
  shedP99Ms: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  totalErrors: Record<string, number>;
  appServedPerS: number;
  appMaxInflight: number;
  appGcMsPerS: number;
  appRssStartMiB: number;
  /** Per role: CPU µs per request (all of the role's processes), RSS MiB (sum, peak over the window), open files (max of one process). */
  roles: Record<
    string,
    {
      cpuUsPerReq: number;
      cpuCores: number;
      rssMiB: number;
      maxFds: number;
      processes: number;
      /** CPU µs per request by thread name, over the role's processes. */
      threadsUsPerReq: Record<string, number>;
    }
  >;
  cpuUsPerReqTotal: number;
}

async function measure(c: Contender, users: Users, userCount: number, windowS: number): Promise<Measured> {
  const pids = [...c.pids(), ...users.pids()];
  const app0 = await getJson<AppStats>(c.appPort, "/_stats?reset=1").catch(() => undefined);
  const profileDir = process.env["VX_STORY_PROFILE_DIR"];
  const stopProfiles = profileDir && c.inspectPorts?.length ? await startProfiles(c.inspectPorts) : undefined;
  const s0 = sample(pids);
  await users.window();
  const peak = new Map<number, number>();
  const deadline = Date.now() + windowS * 1000;
  while (Date.now() < deadline) {
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
    for (const s of sample(pids)) peak.set(s.pid, Math.max(peak.get(s.pid) ?? 0, s.rssKiB || 0));
  }
  const r: WindowReport = await users.report();
  const s1 = sample(pids);
  if (stopProfiles && profileDir) {
    const files = await stopProfiles(join(profileDir, `${c.name.replace(/\W+/g, "-")}-${userCount}`));
    say(`profiles (${r.ok.count + r.shed.count} requests in the window): ${files.join(" ")}`);
  }
  const app1 = await getJson<AppStats>(c.appPort, "/_stats").catch(() => undefined);
  const seconds = r.windowMs / 1000;
  const answered = r.ok.count + r.shed.count;
  const roles: Measured["roles"] = {};
  let cpuTotal = 0;
  for (const b of s1) {
    const a = s0.find((x: ProcSample) => x.pid === b.pid);
    const cpu = a ? b.cpuMs - a.cpuMs : Number.NaN;
    const role = (roles[b.role] ??= {
      cpuUsPerReq: 0,
      cpuCores: 0,
      rssMiB: 0,
      maxFds: 0,
      processes: 0,
      threadsUsPerReq: {},
    });
    role.processes++;
    for (const [t, ms] of Object.entries(b.threads)) {
      const before = a?.threads[t];
      if (before !== undefined && answered)
        role.threadsUsPerReq[t] = (role.threadsUsPerReq[t] ?? 0) + ((ms - before) * 1000) / answered;
    }
    if (Number.isFinite(cpu)) {
      role.cpuUsPerReq += answered ? (cpu * 1000) / answered : Number.NaN;
      role.cpuCores += cpu / 1000 / seconds;
      if (b.role !== "generator") cpuTotal += cpu;
    }
    role.rssMiB += (peak.get(b.pid) ?? b.rssKiB) / 1024;
    role.maxFds = Math.max(role.maxFds, b.fds || 0);
  }
  return {
    users: userCount,
    connected: r.connected,
    windowS: seconds,
    requests: answered,
    rps: answered / seconds,
    meanMs: r.ok.meanMs(),
    p50Ms: r.ok.percentileMs(50),
    p90Ms: r.ok.percentileMs(90),
    p99Ms: r.ok.percentileMs(99),
    maxMs: r.ok.maxUs / 1000,
    shed: r.shed.count,
    shedP99Ms: r.shed.percentileMs(99),
    statuses: r.statuses,
    errors: r.errors,
    totalErrors: r.totalErrors,
    appServedPerS: app1 ? app1.served / seconds : Number.NaN,
    appMaxInflight: app1?.maxInflight ?? Number.NaN,
    appGcMsPerS: app1 ? app1.gcMs / seconds : Number.NaN,
    appRssStartMiB: app0?.rssMiB ?? Number.NaN,
    roles,
    cpuUsPerReqTotal: answered ? (cpuTotal * 1000) / answered : Number.NaN,
  };
}

const fmtErrors = (m: Record<string, number>): string =>
  Object.entries(m)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ") || "none";
const non2xx = (m: Record<string, number>): string =>
  Object.entries(m)
    .filter(([k]) => !k.startsWith("2"))
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ") || "none";

/** Why a step counts as broken (the contender is not driven further), or undefined. */
function broken(m: Measured, users: number): string | undefined {
  const errs = Object.values(m.errors).reduce((a, b) => a + b, 0);
  const total = Object.values(m.totalErrors).reduce((a, b) => a + b, 0);
  if (m.connected < users * 0.95)
    return `${users - m.connected} of ${users} users not connected (${fmtErrors(m.totalErrors)})`;
  if (errs > Math.max(10, 0.05 * m.requests)) return `errors ${fmtErrors(m.errors)}`;
  if (total > users * 0.05) return `errors since start ${fmtErrors(m.totalErrors)}`;
  if (m.meanMs > 5_000) return `mean latency ${(m.meanMs / 1000).toFixed(1)} s`;
  return undefined;
}

const overrides = Object.entries(process.env)
  .filter(([k]) => k.startsWith("VX_STORY_"))
  .map(([k, v]) => `${k}=${v ?? ""} `)
  .join("");
/** Writes what was measured so far (a long run that is stopped keeps its finished scenarios). */
function save(): string {
  results["finished"] = new Date().toISOString();
  (results["machine"] as typeof machine & { loadAtEnd?: number }).loadAtEnd = loadavg()[0] ?? 0;
  return writeResults(quick ? "story-quick" : "story", results);
}
// With --only, the scenarios not run keep their rows from the last full-size run.
const previous = ((): Record<string, unknown> => {
  if (quick || !only) return {};
  try {
    const r = JSON.parse(readFileSync(join(repo, "bench/results/story.json"), "utf8")) as {
      data: Record<string, unknown>;
    };
    // Scenarios run again are replaced, unless only some contenders run (see keptContenders).
    return Object.fromEntries(
      Object.entries(r.data).filter(([k]) => !only.includes(k) || process.env["VX_STORY_CONTENDERS"]),
    );
  } catch {
    return {};
  }
})();
const results: Record<string, unknown> = {
  ...previous,
  machine,
  app,
  params: P,
  started: started.toISOString(),
  command: `${overrides}scripts/with-node24 node bench/story.ts${argv.length ? ` ${argv.join(" ")}` : ""}`,
  /** Every run whose rows are in this file (--only keeps the other scenarios' rows). */
  runs: [
    ...((previous["runs"] as unknown[] | undefined) ?? []),
    {
      command: `${overrides}scripts/with-node24 node bench/story.ts${argv.length ? ` ${argv.join(" ")}` : ""}`,
      started: started.toISOString(),
      load: machine.loadAtStart,
      scenarios: only ?? ["all"],
    },
  ],
};

// --- capacity: the app alone ----------------------------------------------------------
if (want("capacity")) {
  const rows: Row[] = [];
  for (const design of ["old", "veltrix"] as const) {
    const a = await startApp(dir, design, app);
    const c: Contender = {
      name: `app alone, ${design} design`,
      targets: [{ host: "127.0.0.1", port: a.port }],
      pids: () => [{ role: "app", pid: a.proc.child.pid ?? 0 }],
      appPort: a.port,
      maxConcurrency: undefined,
      stop: () => a.proc.stop(),
    };
    const users = await Users.start(1, {
      targets: c.targets,
      method: "GET",
      path: "/",
      thinkMs: 0,
      timeoutMs: P.timeoutMs,
      connectRate: P.connectRate,
      randomStart: false,
    });
    await users.grow(P.maxConcurrency);
    await sleep(quick ? 500 : 2_000);
    const ms: Measured[] = [];
    for (let r = 0; r < P.runs; r++) ms.push(await measure(c, users, P.maxConcurrency, quick ? 2 : 8));
    const stats = await getJson<AppStats>(a.port, "/_stats");
    await users.stop();
    await c.stop();
    const med = (f: (m: Measured) => number): number => median(ms.map(f));
    rows.push({
      design,
      "capacity req/s": Math.round(med((m) => m.appServedPerS)),
      "runs req/s": ms.map((m) => Math.round(m.appServedPerS)).join(" "),
      "app cpu µs/req": med((m) => m.roles["app"]?.cpuUsPerReq ?? Number.NaN),
      "app cores": med((m) => m.roles["app"]?.cpuCores ?? Number.NaN),
      "gc ms/s": med((m) => m.appGcMsPerS),
      "p50 ms": med((m) => m.p50Ms),
      "p99 ms": med((m) => m.p99Ms),
      "max in flight": med((m) => m.appMaxInflight),
      "app RSS MiB": stats.rssMiB,
      "generator cpu µs/req": med((m) => m.roles["generator"]?.cpuUsPerReq ?? Number.NaN),
    });
    say(`capacity ${design}: ${JSON.stringify(rows[rows.length - 1])}`);
  }
  printTable(rows);
  results["capacity"] = { connections: P.maxConcurrency, rows };
  save();
}
const capacityOf = (design: string): number => {
  const rows = (results["capacity"] as { rows: Row[] } | undefined)?.rows ?? [];
  return Number(rows.find((r) => r["design"] === design)?.["capacity req/s"] ?? Number.NaN);
};

// --- ramp: the story --------------------------------------------------------------------
function stepRow(name: string, m: Measured): Row {
  return {
    contender: name,
    users: m.users,
    "req/s": Math.round(m.rps),
    "mean ms": m.meanMs,
    "p50 ms": m.p50Ms,
    "p90 ms": m.p90Ms,
    "p99 ms": m.p99Ms,
    "max ms": m.maxMs,
    "non-2xx": non2xx(m.statuses),
    errors: fmtErrors(m.errors),
    "app in-flight max": m.appMaxInflight,
    "app gc ms/s": m.appGcMsPerS,
    "cpu µs/req (w/o generator)": m.cpuUsPerReqTotal,
    ...Object.fromEntries(
      Object.entries(m.roles).flatMap(([role, v]): [string, number][] => [
        [`${role} cpu µs/req`, v.cpuUsPerReq],
        [`${role} cores`, v.cpuCores],
        [`${role} RSS MiB`, v.rssMiB],
        [`${role} max fds`, v.maxFds],
        [`${role} processes`, v.processes],
        ...Object.entries(v.threadsUsPerReq).map(([t, us]): [string, number] => [
          `${role} thread ${t} µs/req`,
          us,
        ]),
      ]),
    ),
  };
}

async function rampOne(
  kind: Kind,
  steps: number[],
  thinkFor: (users: number) => number,
  windowFor: (users: number) => number,
  label: string,
): Promise<{ rows: Row[]; brokeAt?: number; why?: string; processes: Record<string, number> }> {
  const maxUsers = Math.max(...steps);
  const c = await contender(kind, maxUsers);
  const gens = Math.max(1, Math.ceil(maxUsers / P.perGenerator));
  const rows: Row[] = [];
  const out: { rows: Row[]; brokeAt?: number; why?: string; processes: Record<string, number> } = {
    rows,
    processes: {},
  };
  // A fixed think time for the whole ramp; the cpu scenario changes it per step, so it
  // starts fresh generators per step.
  let users: Users | undefined;
  let usersThink = -1;
  try {
    for (const step of steps) {
      const think = thinkFor(step);
      if (users && think !== usersThink) {
        await users.stop();
        users = undefined;
      }
      users ??= await Users.start(gens, {
        targets: c.targets,
        method: kind === "async" ? "POST" : "GET",
        path: "/",
        thinkMs: think,
        timeoutMs: P.timeoutMs,
        connectRate: P.connectRate,
        randomStart: true,
      });
      usersThink = think;
      say(`${label} ${c.name}: growing to ${step} users (think ${think} ms)`);
      await users.grow(step);
      await sleep(Math.min(think, 60_000) + (quick ? 500 : 2_000));
      const m = await measure(c, users, step, windowFor(step));
      const row = stepRow(c.name, m);
      rows.push(row);
      for (const [role, v] of Object.entries(m.roles)) out.processes[role] = v.processes;
      say(
        `${label} ${c.name} ${step} users: ${Math.round(m.rps)} req/s, mean ${m.meanMs.toFixed(1)} ms, p99 ${m.p99Ms.toFixed(1)} ms, non-2xx ${non2xx(m.statuses)}, errors ${fmtErrors(m.errors)}, cpu ${m.cpuUsPerReqTotal.toFixed(0)} µs/req`,
      );
      const why = broken(m, step);
      if (why) {
        out.brokeAt = step;
        out.why = why;
        say(`${label} ${c.name}: broke at ${step} users: ${why}`);
        break;
      }
    }
  } finally {
    await users?.stop();
    await c.stop();
  }
  return out;
}

// With VX_STORY_CONTENDERS, the other contenders keep their rows from the last run.
const keptContenders = (scenario: string): Record<string, unknown> =>
  process.env["VX_STORY_CONTENDERS"]
    ? { ...((previous[scenario] as { contenders?: Record<string, unknown> } | undefined)?.contenders ?? {}) }
    : {};
if (want("ramp")) {
  const out: Record<string, unknown> = keptContenders("ramp");
  for (const kind of kinds) {
    out[kind] = await rampOne(
      kind,
      P.steps,
      () => P.thinkMs,
      () => P.windowS,
      "ramp",
    );
    results["ramp"] = { thinkMs: P.thinkMs, windowS: P.windowS, steps: P.steps, contenders: out };
    save();
  }
  results["ramp"] = { thinkMs: P.thinkMs, windowS: P.windowS, steps: P.steps, contenders: out };
  save();
}

// --- wrk cross-check ----------------------------------------------------------------
if (want("wrk")) {
  const rows: Row[] = [];
  const wrkSteps = list("VX_STORY_WRK_STEPS", [], []).length
    ? list("VX_STORY_WRK_STEPS", [], [])
    : P.steps.filter((s) => s <= 10_000);
  for (const kind of ["old", "direct"] as Kind[]) {
    const c = await contender(kind, Math.max(...wrkSteps));
    const t = c.targets[0];
    for (const step of wrkSteps) {
      const seconds = Math.round(P.thinkMs / 1000 + P.windowS);
      say(`wrk ${c.name}: ${step} connections, think ${P.thinkMs} ms, ${seconds} s`);
      const w = await wrkUsers(dir, `http://${t?.host}:${t?.port}/`, step, P.thinkMs, seconds);
      rows.push({
        contender: c.name,
        users: step,
        "req/s": Math.round(w.rps),
        "mean ms": w.meanMs,
        "p50 ms": w.p50Ms,
        "p90 ms": w.p90Ms,
        "p99 ms": w.p99Ms,
        "max ms": w.maxMs,
        errors: fmtErrors(Object.fromEntries(Object.entries(w.errors).filter(([, v]) => v > 0))),
        "wrk cpu µs/req": w.cpuUsPerReq,
      });
      say(`wrk ${c.name} ${step}: ${JSON.stringify(rows[rows.length - 1])}`);
    }
    await c.stop();
  }
  printTable(rows);
  results["wrk"] = {
    thinkMs: P.thinkMs,
    rows,
    note: "wrk -t1 -cN with a Lua delay() of the think time; all connections start at once",
  };
  save();
}

// --- overload: closed loop, no think time ------------------------------------------------
if (want("overload")) {
  const rows: Row[] = [];
  for (const kind of kinds) {
    const maxConns = Math.max(...P.overloadConns);
    const c = await contender(kind, 1);
    for (const conns of P.overloadConns) {
      const users = await Users.start(1, {
        targets: c.targets,
        method: kind === "async" ? "POST" : "GET",
        path: "/",
        thinkMs: 0,
        timeoutMs: P.timeoutMs,
        connectRate: 20_000,
        randomStart: false,
      });
      await users.grow(conns);
      await sleep(quick ? 500 : 3_000);
      const runs = conns === maxConns ? P.runs : 1;
      const ms: Measured[] = [];
      for (let r = 0; r < runs; r++) ms.push(await measure(c, users, conns, quick ? 2 : 10));
      const appEnd = await getJson<AppStats>(c.appPort, "/_stats").catch(() => undefined);
      await users.stop();
      const med = (f: (m: Measured) => number): number => median(ms.map(f));
      const capacity = capacityOf(kind === "old" || kind === "haproxy" ? "old" : "veltrix");
      rows.push({
        contender: c.name,
        connections: conns,
        runs,
        "goodput req/s (app served)": Math.round(med((m) => m.appServedPerS)),
        "goodput runs": ms.map((m) => Math.round(m.appServedPerS)).join(" "),
        "x capacity": med((m) => m.appServedPerS) / capacity,
        "2xx/s at client": Math.round(med((m) => m.rps - m.shed / m.windowS)),
        "shed/s": Math.round(med((m) => m.shed / m.windowS)),
        "p50 ms (2xx)": med((m) => m.p50Ms),
        "p99 ms (2xx)": med((m) => m.p99Ms),
        "max ms (2xx)": med((m) => m.maxMs),
        "shed p99 ms": med((m) => m.shedP99Ms),
        "app in-flight max": Math.max(...ms.map((m) => m.appMaxInflight)),
        "app RSS start MiB": ms[0]?.appRssStartMiB ?? Number.NaN,
        "app RSS end MiB": appEnd?.rssMiB ?? Number.NaN,
        "app gc ms/s": med((m) => m.appGcMsPerS),
        "non-2xx": non2xx(ms[ms.length - 1]?.statuses ?? {}),
        errors: fmtErrors(ms[ms.length - 1]?.errors ?? {}),
        "cpu µs/req (w/o generator)": med((m) => m.cpuUsPerReqTotal),
      });
      say(`overload ${c.name} ${conns}: ${JSON.stringify(rows[rows.length - 1])}`);
    }
    await c.stop();
  }
  const hap = rows.find(
    (r) => r["contender"] === "old design + HAProxy" && r["connections"] === Math.max(...P.overloadConns),
  );
  for (const r of rows)
    if (r["connections"] === Math.max(...P.overloadConns) && hap)
      r["x HAProxy"] = Number(r["goodput req/s (app served)"]) / Number(hap["goodput req/s (app served)"]);
  printTable(rows);
  results["overload"] = { maxWaitMs: P.maxWaitMs, maxConcurrency: P.maxConcurrency, rows };
  save();
}

// --- CPU per request against held connections, at a fixed rate --------------------
if (want("cpu")) {
  const out: Record<string, unknown> = keptContenders("cpu");
  for (const kind of kinds) {
    // One process holds at most ~19k connections: the old design direct stops below that.
    const held = kind === "old" ? P.cpuHeld.filter((h) => h <= 19_000) : P.cpuHeld;
    out[kind] = await rampOne(
      kind,
      held,
      (h) => Math.max(1, Math.round((h / P.cpuRate) * 1000)),
      (h) => Math.max(P.windowS, Math.min(60, Math.round(h / P.cpuRate))),
      "cpu",
    );
    results["cpu"] = { rate: P.cpuRate, held: P.cpuHeld, contenders: out };
    save();
  }
  results["cpu"] = { rate: P.cpuRate, held: P.cpuHeld, contenders: out };
  save();
}

// --- memory per held connection -----------------------------------------------------
if (want("memory")) {
  const rows: Row[] = [];
  const [lo, hi] = P.memoryLevels as [number, number];
  const cases: { name: string; make: () => Promise<Contender>; role: string }[] = [
    {
      name: "minimal node:http server",
      role: "app",
      make: async () => {
        const p = await port();
        const proc = await start(node, [join(repo, "bench/lib/plain-app.ts"), String(p)], p);
        return {
          name: "minimal node:http server",
          targets: [{ host: "127.0.0.1", port: p }],
          pids: () => [{ role: "app", pid: proc.child.pid ?? 0 }],
          appPort: p,
          maxConcurrency: undefined,
          stop: () => proc.stop(),
        };
      },
    },
    ...[1, 64].map((kib) => ({
      name: `old design, ${kib} KiB state`,
      role: "app",
      make: async () => {
        const a = await startApp(dir, "old", { ...app, stateKiB: kib });
        return {
          name: `old design, ${kib} KiB state`,
          targets: [{ host: "127.0.0.1", port: a.port }],
          pids: () => [{ role: "app", pid: a.proc.child.pid ?? 0 }],
          appPort: a.port,
          maxConcurrency: undefined,
          stop: () => a.proc.stop(),
        };
      },
    })),
    ...(["direct", "sync"] as const).flatMap((mode) =>
      [1, 64].map((kib) => ({
        name: `Veltrix ${mode}, ${kib} KiB config`,
        role: "sidecar",
        make: () =>
          veltrix(dir, app, {
            mode,
            workers: 1,
            maxConcurrency: P.maxConcurrency,
            maxWaitMs: P.maxWaitMs,
            configKiB: kib,
            natsUrl: nats.url,
            natsPid,
            adminEvery: P.adminEvery,
          }),
      })),
    ),
  ];
  for (const k of cases) {
    const c = await k.make();
    const users = await Users.start(1, {
      targets: c.targets,
      method: "GET",
      path: "/",
      thinkMs: P.thinkMs,
      timeoutMs: P.timeoutMs,
      connectRate: P.connectRate,
      randomStart: true,
    });
    const rss = async (n: number): Promise<{ rss: number; m: Measured }> => {
      await users.grow(n);
      await sleep(P.thinkMs + (quick ? 200 : 1_000));
      const m = await measure(c, users, n, quick ? 1 : 5);
      // The role's RSS now (not the window's peak): settle, then read it again.
      const now = sample(c.pids())
        .filter((s) => s.role === k.role)
        .reduce((a, s) => a + s.rssKiB, 0);
      return { rss: now, m };
    };
    const a = await rss(lo);
    const b = await rss(hi);
    await users.stop();
    await c.stop();
    rows.push({
      case: k.name,
      process: k.role,
      [`RSS at ${lo} MiB`]: a.rss / 1024,
      [`RSS at ${hi} MiB`]: b.rss / 1024,
      "KiB per connection": (b.rss - a.rss) / (hi - lo),
      "req/s": Math.round(b.m.rps),
      errors: fmtErrors(b.m.errors),
    });
    say(`memory ${JSON.stringify(rows[rows.length - 1])}`);
  }
  const floor = Number(rows[0]?.["KiB per connection"]);
  for (const r of rows) r["x node:http"] = Number(r["KiB per connection"]) / floor;
  printTable(rows);
  results["memory"] = { levels: P.memoryLevels, thinkMs: P.thinkMs, rows };
  save();
}

// --- open loop: vegeta at a fixed rate ---------------------------------------------
if (want("openloop")) {
  const procs: Proc[] = [];
  const appPort = await port();
  procs.push(await start(node, [join(repo, "bench/lib/plain-app.ts"), String(appPort)], appPort));
  const targets: { name: string; url: string }[] = [
    { name: "app, no proxy", url: `http://127.0.0.1:${appPort}/` },
  ];
  const mp = await port();
  procs.push(await start(node, [join(repo, "bench/lib/minimal-proxy.ts"), String(mp), String(appPort)], mp));
  targets.push({ name: "minimal undici proxy", url: `http://127.0.0.1:${mp}/` });
  for (const mode of ["direct", "sync"]) {
    const p = await port();
    const cfg = join(dir, `ol-${mode}.yaml`);
    writeFileSync(
      cfg,
      `apiVersion: veltrix.io/v1alpha1\nkind: VeltrixConfig\nmetadata: {name: ol-${mode}, namespace: bench}\nspec:\n  config: {feature: "on"}\n  queue: {mode: ${mode}, maxConcurrency: 64, maxQueueDepth: 100000, maxWait: 30s, requestTimeout: 30s}\n`,
    );
    const args = sidecarArgs({
      config: cfg,
      appPort,
      port: p,
      adminPort: await port(),
      dataDir: join(dir, `ol-data-${mode}`),
      natsUrl: mode === "sync" ? nats.url : undefined,
    });
    procs.push(await start(node, args, p, join(dir, `ol-sidecar-${mode}.log`)));
    targets.push({ name: `Veltrix ${mode}`, url: `http://127.0.0.1:${p}/` });
  }
  await sleep(1_500);
  const rows: Row[] = [];
  const olSeconds = quick ? 2 : 5;
  for (const rate of P.openLoopRates) {
    const res = new Map<string, Awaited<ReturnType<typeof openLoop>>[]>();
    for (let r = 0; r < P.runs; r++)
      for (const t of targets) {
        const x = await openLoop(t.url, rate, olSeconds, 64);
        res.set(t.name, [...(res.get(t.name) ?? []), x]);
      }
    const med = (n: string, k: "p50ms" | "p99ms" | "maxms" | "success"): number =>
      median((res.get(n) ?? []).map((x) => x[k]));
    for (const t of targets)
      rows.push({
        "rate req/s": rate,
        target: t.name,
        "p50 ms": med(t.name, "p50ms"),
        "p99 ms": med(t.name, "p99ms"),
        "p99 runs": (res.get(t.name) ?? []).map((x) => x.p99ms.toFixed(2)).join(" "),
        "p99 added ms": med(t.name, "p99ms") - med("app, no proxy", "p99ms"),
        "max ms": med(t.name, "maxms"),
        "2xx share": med(t.name, "success"),
      });
    say(`openloop ${rate}: done`);
  }
  for (const p of procs.reverse()) await p.stop();
  printTable(rows);
  results["openloop"] = { seconds: olSeconds, runs: P.runs, connections: 64, rows };
  save();
}

const file = save();
say(`results: ${file}`);
for (const p of always) await p.stop();
rmSync(dir, { recursive: true, force: true });
if (!quick) {
  const { renderStory } = await import("./story-report.ts");
  say(`report: ${renderStory(file)}`);
}
