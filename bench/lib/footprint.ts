// One footprint run of a server process (bench/sidecar-footprint.ts): start to ready (spawn to
// the first 200 from its readiness URL), the first request after that, idle memory, and memory
// during and after a burst of held requests (raw sockets, one `GET /hold` each, released by the
// caller, answered, then closed).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Memory of a process from /proc (KiB): resident, anonymous (private to it) and file-backed. */
export interface MemoryKiB {
  rss: number;
  anon: number;
  file: number;
}

export function memoryKiB(pid: number): MemoryKiB {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") + field("RssShmem") };
}

/** Status of one GET on a new connection (0 when it failed). */
export function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const r = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    r.on("error", () => resolve(0));
    r.setTimeout(30_000, () => r.destroy());
    r.end();
  });
}

export interface FootprintTarget {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Port and path that answer 200 once the process is ready. */
  ready: { port: number; path: string };
  /** Port whose `GET /` is the first request, and whose `GET /hold` is held. */
  port: number;
  /** Answers every held request (and the ones still to arrive). */
  release(): Promise<void>;
}

export interface BurstPlan {
  held: number;
  /** How long after the burst ended memory is read again. */
  afterMs: number;
  /** Idle settling time after the first request. */
  idleMs: number;
}

export interface FootprintRun {
  startToReadyMs: number;
  firstRequestMs: number;
  idle: MemoryKiB;
  peak: MemoryKiB;
  after: MemoryKiB;
  /** Held requests answered 200 once released (the burst really went through). */
  answered: number;
}

export interface Started {
  pid: number;
  stop(): Promise<void>;
}

/** Starts `t` and measures it; `during` runs at idle and after the burst (e.g. a memory probe). */
export async function measureFootprint(
  t: FootprintTarget,
  plan: BurstPlan,
  during?: (pid: number, phase: "idle" | "after") => Promise<void>,
): Promise<FootprintRun> {
  const t0 = performance.now();
  const child = spawn(t.command, t.args, { cwd: t.cwd, env: t.env ?? process.env, stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const k = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(k);
  };
  try {
    const pid = child.pid ?? 0;
    while ((await get(t.ready.port, t.ready.path)) !== 200) {
      if (child.exitCode !== null)
        throw new Error(`${t.command} ${t.args.join(" ")} exited with ${child.exitCode}`);
      if (performance.now() - t0 > 60_000) throw new Error(`${t.command} not ready after 60 s`);
      await sleep(5);
    }
    const startToReadyMs = performance.now() - t0;
    const t1 = performance.now();
    const first = await get(t.port, "/");
    const firstRequestMs = performance.now() - t1;
    if (first !== 200) throw new Error(`first request answered ${first}`);
    await sleep(plan.idleMs);
    const idle = memoryKiB(pid);
    await during?.(pid, "idle");
    const { peak, answered } = await burst(t, pid, plan.held);
    await sleep(plan.afterMs);
    const after = memoryKiB(pid);
    await during?.(pid, "after");
    return { startToReadyMs, firstRequestMs, idle, peak, after, answered };
  } finally {
    await stop();
  }
}

/** Holds `n` requests, waits until memory settles, releases them and counts the answers. */
async function burst(
  t: FootprintTarget,
  pid: number,
  n: number,
): Promise<{ peak: MemoryKiB; answered: number }> {
  let answered = 0;
  const sockets: Socket[] = [];
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const s = connect({ port: t.port, host: "127.0.0.1" });
      let seen = "";
      s.on("data", (d: Buffer) => {
        if (seen.length < 16) seen += d.toString("latin1", 0, 16);
        if (seen.startsWith("HTTP/1.1 200") && !seen.includes("\u0000")) {
          seen += "\u0000"; // counted
          if (++answered === n) resolve();
        }
      });
      s.on("error", () => undefined);
      sockets.push(s);
    }
  });
  let peak = memoryKiB(pid);
  const sample = (): void => {
    const m = memoryKiB(pid);
    if (m.rss > peak.rss) peak = m;
  };
  for (const [i, s] of sockets.entries()) {
    s.write("GET /hold HTTP/1.1\r\nHost: bench\r\n\r\n");
    if (i % 100 === 99) {
      sample();
      await sleep(20);
    }
  }
  // Settled: RSS moved less than 1 MiB over a second.
  for (let last = 0, i = 0; i < 30; i++) {
    await sleep(500);
    sample();
    const now = memoryKiB(pid).rss;
    if (Math.abs(now - last) < 1024) break;
    last = now;
  }
  await t.release();
  const deadline = performance.now() + 120_000;
  while (answered < n && performance.now() < deadline) {
    sample();
    await Promise.race([done, sleep(250)]);
  }
  for (const s of sockets) s.destroy();
  return { peak, answered };
}
