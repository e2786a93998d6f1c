// The fault suite's rig: a real nats-server, two pods' worth of real sidecars sharing one
// stream (each in front of its own real app, which logs every execution to an fsync'd
// file), and clients that send uniquely identified requests to both and log every
// answer. A scenario injects its fault while the load runs; the rig then drains and
// hands the history to the checker.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { consumerName, statusPathPrefix, streamName } from "../../api/contract.ts";
import { startNats, type NatsServer } from "../../devenv/nats.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig, type App, type Sidecar } from "../sidecar/helpers.ts";
import type { Answer, Execution } from "./checker.ts";

export type Mode = "sync" | "async";

export interface RigOptions {
  name: string;
  mode: Mode;
  maxConcurrency?: number;
  requestTimeout?: string;
  /** Environment of pod B's sidecar (e.g. libfaketime's, to skew its clock). */
  sidecarBEnv?: NodeJS.ProcessEnv;
  /** Extra queue settings. */
  queue?: Record<string, unknown>;
}

export interface Pod {
  name: string;
  app: App;
  sidecar: Sidecar;
  execLog: string;
}

export class Rig {
  readonly dir: string;
  readonly mode: Mode;
  readonly maxConcurrency: number;
  readonly nats: NatsServer;
  readonly pods: [Pod, Pod];
  readonly stream: string;
  readonly answers: Answer[] = [];
  /** When the scenario's fault ended (ms epoch); recovery is measured from here. */
  faultEndedAt = 0;
  private readonly cleanups: (() => Promise<unknown>)[] = [];

  private constructor(nats: NatsServer, pods: [Pod, Pod], stream: string, opts: RigOptions, dir: string) {
    this.nats = nats;
    this.pods = pods;
    this.stream = stream;
    this.dir = dir;
    this.mode = opts.mode;
    this.maxConcurrency = opts.maxConcurrency ?? 4;
  }

  static async start(opts: RigOptions): Promise<Rig> {
    const dir = tempDir(`faults-${opts.name}`);
    const nats = await startNats({ dir, name: "nats" });
    const name = `${opts.name}-${randomBytes(3).toString("hex")}`;
    const configFile = writeVeltrixConfig(dir, {
      name,
      queue: {
        mode: opts.mode,
        maxConcurrency: opts.maxConcurrency ?? 4,
        maxWait: "20s",
        requestTimeout: opts.requestTimeout ?? "10s",
        ...opts.queue,
      },
    });
    const pod = async (p: "a" | "b"): Promise<Pod> => {
      const execLog = join(dir, `app-${p}.executions`);
      const app = await startApp(dir, `app-${p}`, { execLog });
      const sidecar = await startSidecar({
        dir,
        name: `sidecar-${p}`,
        configFile,
        appPort: app.port,
        natsUrl: nats.url,
        ...(p === "b" && opts.sidecarBEnv ? { env: opts.sidecarBEnv } : {}),
      });
      return { name: p, app, sidecar, execLog };
    };
    const a = await pod("a");
    const rig = new Rig(nats, [a, await pod("b")], streamName({ namespace: "default", name }), opts, dir);
    rig.cleanups.push(() => nats.kill());
    for (const p of rig.pods)
      rig.cleanups.push(
        () => p.app.process.kill(),
        () => p.sidecar.process.kill(),
      );
    return rig;
  }

  /**
   * Runs `clients` clients, each sending one request at a time (alternating pods, each
   * with its own id) until `stop()` is called; `stop` resolves once every answer is in.
   * `path` is the app path and query of every request, or of the i-th.
   */
  load(clients: number, path: string | ((i: number) => string)): { stop(): Promise<void> } {
    let running = true;
    let n = 0;
    const client = async (c: number): Promise<void> => {
      while (running) {
        const i = n++;
        const pod = this.pods[(c + i) % 2] as Pod;
        const id = `${this.mode}-${c}-${i}-${randomBytes(3).toString("hex")}`;
        this.answers.push(await this.send(pod, id, typeof path === "string" ? path : path(i)));
      }
    };
    const all = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
    return {
      stop: async () => {
        running = false;
        await all;
      },
    };
  }

  /** One request; a broken connection is an answer too (status 0, the error's code). */
  async send(pod: Pod, id: string, path: string): Promise<Answer> {
    try {
      const res = await fetch(`${pod.sidecar.url}${path}`, {
        method: "POST",
        body: `job ${id}`,
        headers: { "x-veltrix-request-id": id },
        signal: AbortSignal.timeout(90_000),
      });
      await res.arrayBuffer();
      return {
        id,
        mode: this.mode,
        status: res.status,
        code: res.headers.get("x-veltrix-error"),
        outcome: res.headers.get("x-veltrix-outcome"),
        at: Date.now(),
      };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      return { id, mode: this.mode, status: 0, code: cause?.code ?? "ERROR", outcome: null, at: Date.now() };
    }
  }

  /** Waits until both pods' apps have answered at least `n` requests in all (the load is on). */
  async executedAtLeast(n: number): Promise<void> {
    await eventually(`${n} executions`, () => (this.executions().length >= n ? true : undefined), 60_000);
  }

  /** Everything that will run has run: the stream is empty and no app has work in flight. */
  async drain(): Promise<void> {
    const nc = await this.connect();
    try {
      const jsm = await jetstreamManager(nc);
      await eventually(
        "the queue drained",
        async () => {
          const info = await jsm.consumers.info(this.stream, consumerName);
          const busy = await Promise.all(this.pods.map(async (p) => (await p.app.stats()).inFlight));
          return info.num_pending === 0 && info.num_ack_pending === 0 && busy.every((b) => b === 0)
            ? true
            : undefined;
        },
        120_000,
      );
    } finally {
      await nc.close();
    }
  }

  executions(): Execution[] {
    return this.pods.flatMap((p) =>
      existsSync(p.execLog)
        ? readFileSync(p.execLog, "utf8")
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => ({ ...(JSON.parse(l) as Omit<Execution, "app">), app: p.name }))
        : [],
    );
  }

  /** The state each acknowledged async request's status URL gives (asked of pod A). */
  async records(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (this.mode !== "async") return out;
    for (const a of this.answers.filter((x) => x.status === 202)) {
      const res = await fetch(`${this.pods[0].sidecar.url}${statusPathPrefix}${a.id}`);
      const body = (await res.json()) as { state?: string };
      out.set(a.id, body.state ?? `HTTP ${res.status}`);
    }
    return out;
  }

  /** Time from the fault's end to the first acknowledged answer after it (ms), or -1. */
  recoveryMs(): number {
    const first = this.answers
      .filter((a) => a.at >= this.faultEndedAt && a.status >= 200 && a.status < 300)
      .reduce((m, a) => Math.min(m, a.at), Infinity);
    return first === Infinity ? -1 : first - this.faultEndedAt;
  }

  private connect(): Promise<NatsConnection> {
    return connect({ servers: this.nats.url });
  }

  async stop(): Promise<void> {
    for (const c of this.cleanups.reverse()) await c().catch(() => undefined);
  }
}
