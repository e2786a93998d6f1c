// The operator process: `node operator/main.ts --kubeconfig ... --nats-url ...`.
// Every flag has an environment variable and a default; docs/operator.md lists them
// (a unit test keeps that table and this one in step).
import { hostname } from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../api/resolve.ts";
import { loadKubeConfig } from "./runtime/kube-config.ts";
import { createLogger, type Level } from "../lib/log.ts";
import type { NatsClientSettings } from "../lib/nats-auth.ts";
import { Operator } from "./operator.ts";
import { startWebhook, webhookFlags } from "./webhook/start.ts";

export interface FlagSpec {
  flag: string;
  env: string;
  default: string;
  doc: string;
}

const operatorFlags = [
  {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    default: "",
    doc: "kubeconfig file; in-cluster config when empty",
  },
  {
    flag: "nats-url",
    env: "VELTRIX_NATS_URL",
    default: "nats://nats:4222",
    doc: "NATS server URL(s), comma-separated",
  },
  {
    flag: "nats-credentials",
    env: "VELTRIX_NATS_CREDENTIALS",
    default: "",
    doc: "NATS credentials file (.creds: user JWT + NKey seed)",
  },
  {
    flag: "nats-credentials-dir",
    env: "VELTRIX_NATS_CREDENTIALS_DIR",
    default: "",
    doc: "mounted Secret with creds, or user and password, or token (chart)",
  },
  { flag: "nats-tls", env: "VELTRIX_NATS_TLS", default: "false", doc: "connect to NATS over TLS" },
  {
    flag: "nats-tls-ca",
    env: "VELTRIX_NATS_TLS_CA",
    default: "",
    doc: "CA file verifying NATS (implies TLS); system trust store when empty",
  },
  {
    flag: "nats-tls-cert",
    env: "VELTRIX_NATS_TLS_CERT",
    default: "",
    doc: "client certificate file for mutual TLS (with --nats-tls-key)",
  },
  { flag: "nats-tls-key", env: "VELTRIX_NATS_TLS_KEY", default: "", doc: "client key file for mutual TLS" },
  {
    flag: "nats-tls-dir",
    env: "VELTRIX_NATS_TLS_DIR",
    default: "",
    doc: "mounted Secret with ca.crt, optionally tls.crt and tls.key (chart)",
  },
  {
    flag: "nats-tls-server-name",
    env: "VELTRIX_NATS_TLS_SERVER_NAME",
    default: "",
    doc: "name to verify in the NATS certificate; the URL's host when empty",
  },
  {
    flag: "namespace",
    env: "POD_NAMESPACE",
    default: "veltrix-system",
    doc: "namespace of the leader Lease",
  },
  {
    flag: "lease-name",
    env: "VELTRIX_LEASE_NAME",
    default: "veltrix-operator",
    doc: "name of the leader Lease",
  },
  {
    flag: "identity",
    env: "POD_NAME",
    default: "<hostname>-<pid>",
    doc: "this replica's identity in the Lease",
  },
  {
    flag: "leader-elect",
    env: "VELTRIX_LEADER_ELECT",
    default: "true",
    doc: "elect a leader; false reconciles at once",
  },
  {
    flag: "lease-duration",
    env: "VELTRIX_LEASE_DURATION",
    default: "15s",
    doc: "how long a Lease is valid without renewal",
  },
  {
    flag: "renew-deadline",
    env: "VELTRIX_RENEW_DEADLINE",
    default: "10s",
    doc: "leader gives up if it cannot renew for this long",
  },
  {
    flag: "retry-period",
    env: "VELTRIX_RETRY_PERIOD",
    default: "2s",
    doc: "how often candidates try and leaders renew",
  },
  {
    flag: "workers",
    env: "VELTRIX_WORKERS",
    default: "4",
    doc: "concurrent reconciles (never two for one config)",
  },
  {
    flag: "resync",
    env: "VELTRIX_RESYNC",
    default: "10m",
    doc: "period of the informer resync (every object re-queued)",
  },
  {
    flag: "status-refresh",
    env: "VELTRIX_STATUS_REFRESH",
    default: "30s",
    doc: "re-reconcile period per config (queue depth, stream drift)",
  },
  {
    flag: "max-backoff",
    env: "VELTRIX_MAX_BACKOFF",
    default: "30s",
    doc: "ceiling of the per-config retry backoff",
  },
  {
    flag: "http-port",
    env: "VELTRIX_HTTP_PORT",
    default: "8080",
    doc: "port of /metrics, /healthz, /readyz (0: any free port)",
  },
  { flag: "http-host", env: "VELTRIX_HTTP_HOST", default: "0.0.0.0", doc: "address of the HTTP listener" },
  {
    flag: "watch-namespace",
    env: "VELTRIX_WATCH_NAMESPACE",
    default: "",
    doc: "reconcile only this namespace; all when empty",
  },
  { flag: "log-level", env: "VELTRIX_LOG_LEVEL", default: "info", doc: "debug, info, warn or error" },
] as const satisfies readonly FlagSpec[];

/** Every flag of the process: the operator's and the webhook's (operator/webhook/start.ts). */
export const flags = [...operatorFlags, ...webhookFlags] as const satisfies readonly FlagSpec[];

/** The flag table of docs/operator.md (a unit test keeps the two equal). */
export function flagTableMarkdown(): string {
  const rows = flags.map(
    (f) => `| \`--${f.flag}\` | \`${f.env}\` | ${f.default ? `\`${f.default}\`` : "(empty)"} | ${f.doc} |`,
  );
  return ["| flag | env | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

type FlagName = (typeof flags)[number]["flag"];
type WebhookFlagName = (typeof webhookFlags)[number]["flag"];

export function readFlags(argv: string[], env: NodeJS.ProcessEnv): Record<FlagName, string> {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(flags.map((f) => [f.flag, { type: "string" as const }])),
    strict: true,
  });
  const out = {} as Record<FlagName, string>;
  for (const f of flags) {
    const v = values[f.flag];
    out[f.flag] = typeof v === "string" ? v : (env[f.env] ?? f.default);
  }
  if (out.identity === "<hostname>-<pid>") out.identity = `${hostname()}-${process.pid}`;
  return out;
}

function integer(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: want a non-negative integer, got '${text}'`);
  return n;
}

function bool(name: string, text: string): boolean {
  if (text !== "true" && text !== "false") throw new Error(`--${name}: want true or false, got '${text}'`);
  return text === "true";
}

/** The NATS credentials and TLS flags as NatsLink settings. */
export function natsClientSettings(f: Record<FlagName, string>): NatsClientSettings {
  if (f["nats-tls-cert"] && !f["nats-tls-key"]) throw new Error("--nats-tls-cert needs --nats-tls-key");
  if (f["nats-tls-key"] && !f["nats-tls-cert"]) throw new Error("--nats-tls-key needs --nats-tls-cert");
  return {
    credentialsFile: f["nats-credentials"] || undefined,
    credentialsDir: f["nats-credentials-dir"] || undefined,
    tls: bool("nats-tls", f["nats-tls"]),
    tlsDir: f["nats-tls-dir"] || undefined,
    tlsCaFile: f["nats-tls-ca"] || undefined,
    tlsCertFile: f["nats-tls-cert"] || undefined,
    tlsKeyFile: f["nats-tls-key"] || undefined,
    tlsServerName: f["nats-tls-server-name"] || undefined,
  };
}

async function main(): Promise<void> {
  const f = readFlags(process.argv.slice(2), process.env);
  const log = createLogger({
    level: f["log-level"] as Level,
    fields: { component: "operator", identity: f.identity },
  });
  const kc = loadKubeConfig(f.kubeconfig || undefined);
  const op = new Operator({
    kc,
    natsUrl: f["nats-url"],
    natsClient: natsClientSettings(f),
    log,
    namespace: f.namespace,
    leaseName: f["lease-name"],
    identity: f.identity,
    leaderElect: f["leader-elect"] !== "false",
    leaseDurationMs: parseDuration(f["lease-duration"]),
    renewDeadlineMs: parseDuration(f["renew-deadline"]),
    retryPeriodMs: parseDuration(f["retry-period"]),
    workers: integer("workers", f.workers),
    resyncMs: parseDuration(f.resync),
    statusRefreshMs: parseDuration(f["status-refresh"]),
    maxBackoffMs: parseDuration(f["max-backoff"]),
    httpPort: integer("http-port", f["http-port"]),
    httpHost: f["http-host"],
    watchNamespace: f["watch-namespace"] || undefined,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    Promise.all([op.stop(), webhook?.stop()]).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("shutdown failed", { err });
        process.exit(1);
      },
    );
  };
  // Every replica serves the webhook, leader or not; --webhook-cert-mode=disabled turns it off.
  const webhook = await startWebhook({
    kubeConfig: kc,
    registry: op.metrics.registry,
    namespace: f.namespace,
    flags: Object.fromEntries(webhookFlags.map((w) => [w.flag, f[w.flag]])) as Record<
      WebhookFlagName,
      string
    >,
    natsUrl: f["nats-url"],
    log: (message, fields) => log.info(message, { ...fields, component: "webhook" }),
  });
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  log.info("starting", {
    natsUrl: f["nats-url"],
    // Where the NATS credentials and CA come from (paths only, never their content).
    natsCredentials: f["nats-credentials"] || f["nats-credentials-dir"] || "none",
    natsTls: f["nats-tls"] === "true" || Boolean(f["nats-tls-ca"] || f["nats-tls-dir"] || f["nats-tls-cert"]),
    namespace: f.namespace,
    leaderElect: f["leader-elect"],
  });
  await op.start();
  const addr = op.httpAddress;
  if (addr) log.info("serving /metrics /healthz /readyz", { port: addr.port, host: addr.address });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
