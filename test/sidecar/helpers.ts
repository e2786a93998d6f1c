// Starts the real test app and real sidecar processes for the sidecar tests.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { queueSubjectPrefix, type ConfigRef } from "../../api/contract.ts";
import { sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { jobHeaders } from "../../sidecar/queue/envelope.ts";

const node = process.execPath;

export interface App {
  port: number;
  process: ManagedProcess;
  stats(): Promise<{
    inFlight: number;
    maxInFlight: number;
    /** Requests sent with ?hold=1 and not answered yet. */
    held: number;
    count: number;
    seen: Record<string, number>;
    lastHeaders: Record<string, string>;
  }>;
  reset(): Promise<void>;
  /** Answers every request held by ?hold=1; resolves to how many there were. */
  release(): Promise<number>;
}

/** `execLog`: a file the app appends every execution to (see fixtures/app.ts). */
export async function startApp(dir: string, name = "app", opts: { execLog?: string } = {}): Promise<App> {
  const port = await freePort();
  const proc = new ManagedProcess({
    name,
    command: node,
    args: [join(repoRoot, "test/sidecar/fixtures/app.ts"), String(port)],
    logFile: join(dir, `${name}.log`),
    ...(opts.execLog ? { env: { ...process.env, VX_APP_EXEC_LOG: opts.execLog } } : {}),
  });
  proc.start();
  const base = `http://127.0.0.1:${port}`;
  await proc.waitUntil("listening", async () => (await fetch(`${base}/__stats`)).ok);
  return {
    port,
    process: proc,
    stats: async () => (await (await fetch(`${base}/__stats`)).json()) as Awaited<ReturnType<App["stats"]>>,
    reset: async () => {
      await fetch(`${base}/__reset`, { method: "POST" });
    },
    release: async () => Number(await (await fetch(`${base}/__release`, { method: "POST" })).text()),
  };
}

export interface VeltrixConfigInput {
  name: string;
  namespace?: string;
  config?: Record<string, string>;
  overrides?: {
    name: string;
    match: { pathPrefix?: string; headers?: Record<string, string> };
    config: Record<string, string>;
  }[];
  queue?: Record<string, unknown>;
  store?: Record<string, unknown>;
}

export function writeVeltrixConfig(
  dir: string,
  input: VeltrixConfigInput,
  file = "veltrixconfig.yaml",
): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    stringify({
      apiVersion: "veltrix.io/v1alpha1",
      kind: "VeltrixConfig",
      metadata: { name: input.name, namespace: input.namespace ?? "default" },
      spec: {
        config: input.config ?? {},
        ...(input.overrides ? { overrides: input.overrides } : {}),
        queue: input.queue ?? {},
        store: input.store ?? {},
      },
    }),
  );
  return path;
}

export interface Sidecar {
  url: string;
  admin: string;
  port: number;
  adminPort: number;
  process: ManagedProcess;
  dataDir: string;
  start(): Promise<void>;
}

export async function startSidecar(opts: {
  dir: string;
  name?: string;
  configFile: string;
  appPort: number;
  natsUrl?: string;
  extraArgs?: string[];
  port?: number;
  /** Wait until /readyz answers 200 (default); false: only until the admin API answers. */
  waitReady?: boolean;
  /** With NATS, create the stream, consumer and outcome bucket (local mode; default true). */
  ensureStream?: boolean;
  /** Extra environment (e.g. libfaketime's, for a sidecar whose clock is skewed). */
  env?: NodeJS.ProcessEnv;
}): Promise<Sidecar> {
  const name = opts.name ?? "sidecar";
  const port = opts.port ?? (await freePort());
  const adminPort = await freePort();
  const dataDir = join(opts.dir, `${name}-data`);
  const args = [
    ...sidecarNodeFlags,
    join(repoRoot, "sidecar/main.ts"),
    "--config",
    opts.configFile,
    "--app-port",
    String(opts.appPort),
    "--port",
    String(port),
    "--host",
    "127.0.0.1",
    "--admin-port",
    String(adminPort),
    "--data-dir",
    dataDir,
    "--pod",
    name,
    "--grace-ms",
    "8000",
    ...(opts.natsUrl
      ? ["--nats-url", opts.natsUrl, ...(opts.ensureStream === false ? [] : ["--ensure-stream"])]
      : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = new ManagedProcess({
    name,
    command: node,
    args,
    logFile: join(opts.dir, `${name}.log`),
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  const sc: Sidecar = {
    url: `http://127.0.0.1:${port}`,
    admin,
    port,
    adminPort,
    process: proc,
    dataDir,
    start: async () => {
      proc.start();
      if (opts.waitReady === false) {
        await proc.waitUntil("serving the admin API", async () => (await fetch(`${admin}/healthz`)).ok);
      } else {
        await proc.waitUntil("ready", async () => (await fetch(`${admin}/readyz`)).ok);
      }
    },
  };
  await sc.start();
  return sc;
}

/**
 * A sync-mode sidecar with its own VeltrixConfig (a fresh name, so its own stream) that
 * fails fast without NATS: how the NATS TLS and credentials tests see a connection work
 * or fail. `extraArgs` carry the NATS TLS and credential options under test.
 */
export async function startFailFastSyncSidecar(opts: {
  dir: string;
  name: string;
  appPort: number;
  natsUrl: string;
  extraArgs: string[];
  waitReady?: boolean;
}): Promise<Sidecar> {
  const configFile = writeVeltrixConfig(
    opts.dir,
    {
      name: `${opts.name}-${randomBytes(3).toString("hex")}`,
      queue: { mode: "sync", maxConcurrency: 2, onBrokerUnavailable: "fail", requestTimeout: "5s" },
    },
    `${opts.name}.yaml`,
  );
  return startSidecar({ ...opts, configFile });
}

/**
 * Queues an async request for `ref` as another pod's sidecar would have: the documented
 * wire format, the id forwarded to the app in its headers.
 */
export async function publishAsyncJob(
  nc: NatsConnection,
  ref: ConfigRef,
  id: string,
  path: string,
): Promise<void> {
  await jetstream(nc).publish(`${queueSubjectPrefix(ref)}.async`, "body", {
    headers: jobHeaders({
      id,
      revision: "r1",
      configKey: "k",
      method: "POST",
      path,
      headers: { "x-veltrix-request-id": id },
      receivedAt: Date.now(),
    }),
  });
}
