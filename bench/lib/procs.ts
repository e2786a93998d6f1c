// Processes and load for the benchmarks: spawn servers and wait for their port, run
// wrk (or report that it is missing), read a process's RSS.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../devenv/ports.ts";
import { toolPath } from "../../devenv/tools.ts";
import { sidecarMallocEnv, sidecarNodeFlags } from "../../sidecar/node-flags.ts";

export const repo = join(import.meta.dirname, "..", "..");
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

export interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function start(
  cmd: string,
  args: string[],
  waitPort: number,
  log?: string,
  env?: NodeJS.ProcessEnv,
): Promise<Proc> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(env ? { env } : {}) });
  live.add(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!(await portOpen(waitPort))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${cmd} ${args.join(" ")} did not start:\n${out}`);
    await sleep(50);
  }
  return {
    child,
    stop: async () => {
      if (log) writeFileSync(log, out);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
      live.delete(child);
    },
  };
}

/** A nats-server with JetStream (store under `dir`) on a free loopback port. */
export async function startNatsServer(dir: string): Promise<{ proc: Proc; url: string }> {
  const p = await freePort();
  const proc = await start(
    toolPath("nats-server"),
    ["-js", "-sd", join(dir, "js"), "-a", "127.0.0.1", "-p", String(p)],
    p,
  );
  return { proc, url: `nats://127.0.0.1:${p}` };
}

/**
 * The image's glibc malloc settings for a sidecar (sidecar/node-flags.ts), or none with
 * VX_SIDECAR_MALLOC=glibc: glibc's defaults, for paired runs with and without them.
 */
export function sidecarMalloc(): Record<string, string> {
  return process.env["VX_SIDECAR_MALLOC"] === "glibc" ? {} : { ...sidecarMallocEnv };
}

/** `env` without the sidecar's malloc settings (what a bare Node process runs with). */
export function withoutMalloc(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !(k in sidecarMallocEnv)));
}

/**
 * Opens `n` connections to 127.0.0.1:`port`, each with one `GET /hold` that the target holds
 * (bench/lib/plain-app.ts holds /hold; a floor that never answers holds anything), pausing
 * `rampMs` after every 100 so the accept queue keeps up.
 */
export async function holdRequests(port: number, n: number, rampMs = 20): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ port, host: "127.0.0.1" });
    s.on("error", () => undefined);
    s.write("GET /hold HTTP/1.1\r\nHost: bench\r\n\r\n");
    sockets.push(s);
    if (i % 100 === 99) await sleep(rampMs);
  }
  return sockets;
}

/** Arguments of `node sidecar/main.ts` for a bench target (NATS given: a queued mode, local stream). */
/** `root`: the checkout whose sidecar runs (default this one). */
export function sidecarArgs(o: {
  root?: string;
  config: string;
  appPort: number;
  port: number;
  adminPort: number;
  dataDir: string;
  natsUrl?: string | undefined;
}): string[] {
  return [
    ...sidecarNodeFlags,
    join(o.root ?? repo, "sidecar/main.ts"),
    "--config",
    o.config,
    "--app-port",
    String(o.appPort),
    "--port",
    String(o.port),
    "--host",
    "127.0.0.1",
    "--admin-port",
    String(o.adminPort),
    "--data-dir",
    o.dataDir,
    ...(o.natsUrl ? ["--nats-url", o.natsUrl, "--ensure-stream"] : []),
  ];
}

/** A port free right now (the OS picks it, so it never collides with client sockets). */
export { freePort as port } from "../../devenv/ports.ts";

export function hasWrk(): boolean {
  return spawnSync("wrk", ["--version"]).error === undefined;
}

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
}

function ms(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

export function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "--latency", url]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
      const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "";
      const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "";
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      resolve({ rps, p50ms: ms(p50), p99ms: ms(p99), non2xx, errors });
    });
  });
}

export interface OpenLoopResult {
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** Share of requests answered 2xx. */
  success: number;
}

/**
 * Open-loop load: vegeta sends `rate` requests per second whatever the latency (wrk
 * waits for each answer, so its latency is queueing once the target saturates), over
 * at most `connections` keep-alive connections.
 */
export function openLoop(
  url: string,
  rate: number,
  seconds: number,
  connections: number,
): Promise<OpenLoopResult> {
  const vegeta = toolPath("vegeta");
  const attack = `${vegeta} attack -rate=${rate} -duration=${seconds}s -connections=${connections} -max-connections=${connections} -workers=16`;
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", `echo "GET ${url}" | ${attack} | ${vegeta} report -type=json`]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`vegeta exited with ${code}: ${out}`));
      const r = JSON.parse(out) as { latencies: Record<string, number>; success: number };
      const ms = (k: string): number => (r.latencies[k] ?? Number.NaN) / 1e6;
      resolve({ p50ms: ms("50th"), p99ms: ms("99th"), maxms: ms("max"), success: r.success });
    });
  });
}

/** CPU time a process has used so far (user + system), in ms (Linux /proc). */
export function cpuMs(pid: number): number {
  // Fields after the command name (which may hold spaces); utime and stime are 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicksPerSecond;
}
// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const clockTicksPerSecond = 100;

/**
 * CPU time a process's threads have used so far, in ms with nanosecond resolution: the
 * sum of every thread's /proc/<pid>/task/<tid>/schedstat (cpuMs counts 10 ms ticks, too coarse for an idle
 * process). Threads that already exited are not counted: read it across steady windows.
 */
export function cpuPreciseMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return ns / 1e6;
}

/** Resident set size of a process in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? Number.NaN);
}
