// A load-generator process for the story's experiment (issue 14), forked by
// bench/story.ts: the user model of `wrk` with a Lua `delay()` — each user is one
// keep-alive connection that sends a request, waits for the whole answer, thinks for
// a fixed time, and repeats — at a small fraction of wrk's CPU per request when
// thousands of connections wait (wrk scans its timer list on every loop turn). One
// process holds at most ~18k users (the per-process open-file limit is 20,000); the
// parent forks several and gives each its own source address in 127.0.0.0/8, so the
// 28k ephemeral ports are per address, and the targets' addresses are used round robin.
// Driven over IPC: grow to N users, start a window, report the window.
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { Histogram } from "./histogram.ts";

export interface UsersConfig {
  targets: { host: string; port: number }[];
  source: string;
  method: string;
  path: string;
  thinkMs: number;
  timeoutMs: number;
  /** New connections per second while growing. */
  connectRate: number;
  /**
   * A new user arrives (connects and sends its first request) after a uniform random part
   * of the think time, so a step's rate is steady once one think time passed; false: at
   * once, as wrk does. It connects when it has something to send: a connection opened and
   * left silent meets the server's header timeout (the sidecar's 10 s, answered 408).
   */
  randomStart: boolean;
}

export type UsersCommand = { id: number } & (
  | { type: "config"; config: UsersConfig }
  | { type: "grow"; total: number }
  | { type: "window" }
  | { type: "report" }
  | { type: "stop" }
);

export interface UsersReport {
  type: "report";
  /** Latency of 2xx answers. */
  hist: ReturnType<Histogram["toJSON"]>;
  /** Latency of other answers (shed: 503/429, errors). */
  shed: ReturnType<Histogram["toJSON"]>;
  /** Errors since the first user, not only in the window (connect errors while growing). */
  totalErrors: Record<string, number>;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  users: number;
  connected: number;
  cpuMs: number;
  windowMs: number;
}

let cfg: UsersConfig | undefined;
let req = Buffer.alloc(0);
let hist = new Histogram();
let shed = new Histogram();
const totalErrors: Record<string, number> = {};
let statuses: Record<string, number> = {};
let errors: Record<string, number> = {};
let windowStart = performance.now();
const users: User[] = [];
let connected = 0;
let nextTarget = 0;

const headerEnd = Buffer.from("\r\n\r\n");
const chunkedEnd = Buffer.from("0\r\n\r\n");

function count(map: Record<string, number>, k: string): void {
  map[k] = (map[k] ?? 0) + 1;
}
function error(k: string): void {
  count(errors, k);
  count(totalErrors, k);
}

class User {
  sock: Socket | undefined;
  sentAt = 0;
  inflight = false;
  open = false;
  pending: Buffer | undefined;
  stopped = false;
  timer: NodeJS.Timeout | undefined;

  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  start(): void {
    if (this.stopped || !cfg) return;
    this.open = false;
    this.pending = undefined;
    const s = connect({ host: this.host, port: this.port, localAddress: cfg.source });
    this.sock = s;
    s.setNoDelay(true);
    s.on("connect", () => {
      this.open = true;
      connected++;
      this.send();
    });
    s.on("data", (d: Buffer) => this.data(d));
    s.on("error", (e: NodeJS.ErrnoException) => {
      error(`${this.open ? "read" : "connect"} ${e.code ?? e.message}`);
    });
    s.on("close", () => {
      if (this.open) connected--;
      if (this.inflight) {
        this.inflight = false;
        error("closed mid-request");
      }
      this.open = false;
      if (this.sock === s) this.later(() => this.start());
    });
  }

  later(fn: () => void): void {
    if (this.stopped || !cfg) return;
    if (cfg.thinkMs > 0) this.timer = setTimeout(fn, cfg.thinkMs);
    else setImmediate(fn);
  }

  send(): void {
    if (this.stopped || !this.sock || !this.open) return;
    this.sentAt = performance.now();
    this.inflight = true;
    this.sock.write(req);
  }

  data(d: Buffer): void {
    if (!this.inflight) return; // unsolicited bytes: ignore
    const buf = this.pending ? Buffer.concat([this.pending, d]) : d;
    const he = buf.indexOf(headerEnd);
    if (he < 0) {
      this.pending = buf;
      return;
    }
    const head = buf.toString("latin1", 0, he).toLowerCase();
    let complete: boolean;
    const cl = /content-length:\s*(\d+)/.exec(head);
    if (cl) complete = buf.length >= he + 4 + Number(cl[1]);
    else if (head.includes("transfer-encoding: chunked"))
      complete = buf.subarray(buf.length - chunkedEnd.length).equals(chunkedEnd);
    else complete = true;
    if (!complete) {
      this.pending = buf;
      return;
    }
    this.pending = undefined;
    this.inflight = false;
    const status = head.slice(9, 12);
    (status[0] === "2" ? hist : shed).record((performance.now() - this.sentAt) * 1000);
    count(statuses, status);
    if (head.includes("connection: close")) return; // close → reconnect after think
    this.later(() => this.send());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sock?.destroy();
  }
}

// Requests waiting longer than the timeout count as timeouts; the user drops the
// connection and comes back after a think (as a browser would), so a stuck target
// shows as errors instead of as users that never send again.
setInterval(() => {
  if (!cfg) return;
  const now = performance.now();
  for (const u of users)
    if (u.inflight && now - u.sentAt > cfg.timeoutMs) {
      u.inflight = false;
      error("timeout");
      u.sock?.destroy();
    }
}, 1_000).unref();

async function grow(total: number): Promise<void> {
  if (!cfg) return;
  const perTick = Math.max(1, Math.round(cfg.connectRate / 100));
  while (users.length < total) {
    for (let i = 0; i < perTick && users.length < total; i++) {
      const t = cfg.targets[nextTarget++ % cfg.targets.length];
      if (!t) break;
      const u = new User(t.host, t.port);
      users.push(u);
      if (cfg.randomStart && cfg.thinkMs > 0)
        u.timer = setTimeout(() => u.start(), Math.random() * cfg.thinkMs);
      else u.start();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function report(): UsersReport {
  const c = process.cpuUsage();
  return {
    type: "report",
    hist: hist.toJSON(),
    shed: shed.toJSON(),
    totalErrors,
    statuses,
    errors,
    users: users.length,
    connected,
    cpuMs: (c.user + c.system) / 1000,
    windowMs: performance.now() - windowStart,
  };
}

process.on("message", (m: UsersCommand) => {
  // Every answer carries its command's id: a late answer (a grow the parent stopped
  // waiting for) cannot be taken for the answer to a later command.
  const reply = (x: object): void => void process.send?.({ ...x, id: m.id });
  switch (m.type) {
    case "config":
      cfg = m.config;
      req = Buffer.from(
        `${m.config.method} ${m.config.path} HTTP/1.1\r\nHost: story\r\n${m.config.method === "GET" ? "" : "Content-Length: 0\r\n"}\r\n`,
      );
      reply({ type: "ok" });
      break;
    case "grow":
      void grow(m.total).then(() => reply({ type: "grown", users: users.length, connected }));
      break;
    case "window":
      hist = new Histogram();
      shed = new Histogram();
      statuses = {};
      errors = {};
      windowStart = performance.now();
      reply({ type: "ok" });
      break;
    case "report":
      reply(report());
      break;
    case "stop":
      for (const u of users) u.stop();
      reply({ type: "ok" });
      setTimeout(() => process.exit(0), 100);
      break;
  }
});
process.on("disconnect", () => process.exit(0));
