// Command-line options of `node sidecar/main.ts`, from one flag table (lib/flags.ts):
// every flag has a VELTRIX_* variable (the webhook sets those in a pod), a default, and
// a line in --help and in docs/sidecar.md (sidecar/options.test.ts keeps them equal).
import { hostname } from "node:os";
import { sidecarDefaults, sidecarEnv } from "../api/injected-pod.ts";
import { flagBoolean, flagInteger, flagUsage, readFlags, type FlagSpec } from "../lib/flags.ts";
import { type Level, parseLevel } from "../lib/log.ts";
import { type NatsClientSettings, natsTls } from "../lib/nats-auth.ts";
import { natsClientSettings, natsFlags } from "../lib/nats-flags.ts";

export interface SidecarOptions {
  configFile: string | undefined;
  appHost: string;
  appPort: number;
  host: string;
  port: number;
  adminPort: number;
  /** Port of the /metrics-only listener on `host`; 0: none. */
  metricsPort: number;
  dataDir: string;
  natsUrl: string | undefined;
  /** Credentials and TLS for every NATS connection (lib/nats-auth.ts). */
  natsClient: NatsClientSettings;
  namespace: string;
  name: string | undefined;
  pod: string;
  workers: number;
  graceMs: number;
  renderFile: string | undefined;
  maxHeaderBytes: number;
  /** How long a client may take to send a request's headers, and its whole request (408 past it). */
  clientHeadersTimeoutMs: number;
  clientRequestTimeoutMs: number;
  /** Create the stream and consumer when missing (local mode; the operator does it in a cluster). */
  ensureStream: boolean;
  logLevel: Level;
}

export const sidecarFlags = [
  {
    flag: "config",
    env: sidecarEnv.configFile,
    value: "FILE",
    default: "",
    doc: "VeltrixConfig YAML/JSON (local mode) or the operator's ConfigDocument (ConfigMap key `config.json`); a missing file is allowed when NATS is set",
  },
  { flag: "app-port", env: sidecarEnv.appPort, value: "N", default: "", doc: "the app's port (required)" },
  { flag: "app-host", env: "VELTRIX_APP_HOST", value: "H", default: "127.0.0.1", doc: "the app's host" },
  {
    flag: "port",
    env: sidecarEnv.port,
    value: "N",
    default: String(sidecarDefaults.proxyPort),
    doc: "proxy listener port",
  },
  { flag: "host", env: "VELTRIX_HOST", value: "H", default: "0.0.0.0", doc: "proxy listener address" },
  {
    flag: "admin-port",
    env: sidecarEnv.adminPort,
    value: "N",
    default: String(sidecarDefaults.adminPort),
    doc: "admin listener port, always on 127.0.0.1",
  },
  {
    flag: "metrics-port",
    env: sidecarEnv.metricsPort,
    value: "N",
    default: "0",
    doc: "a listener on the proxy's address serving only GET /metrics, for a cluster's Prometheus; 0: none (injected pods get 15091)",
  },
  { flag: "data-dir", env: sidecarEnv.dataDir, value: "DIR", default: "./veltrix-data", doc: "SQLite files" },
  ...natsFlags({
    default: "",
    doc: "NATS server; without it only `direct` (and the broker-unavailable fallback) works",
  }),
  {
    flag: "namespace",
    env: sidecarEnv.namespace,
    value: "NS",
    default: "default",
    doc: "namespace of the VeltrixConfig (a manifest's own wins)",
  },
  {
    flag: "name",
    env: sidecarEnv.configName,
    value: "NAME",
    default: "",
    doc: "name of the VeltrixConfig (KV key `<ns>.<name>`); from --config when empty",
  },
  {
    flag: "pod",
    env: sidecarEnv.podName,
    value: "NAME",
    default: "",
    doc: "reported with the applied revision; the hostname when empty",
  },
  {
    flag: "workers",
    env: "VELTRIX_WORKERS",
    value: "N",
    default: "1",
    doc: "proxy processes, each binding the proxy port (SO_REUSEPORT)",
  },
  { flag: "grace-ms", env: "VELTRIX_GRACE_MS", value: "N", default: "25000", doc: "shutdown grace period" },
  {
    flag: "render-file",
    env: sidecarEnv.renderFile,
    value: "FILE",
    default: "",
    doc: "the current config, rendered for apps that read files",
  },
  {
    flag: "max-header-bytes",
    env: "VELTRIX_MAX_HEADER_BYTES",
    value: "N",
    default: "16384",
    doc: "request header limit (431 above)",
  },
  {
    flag: "client-headers-timeout-ms",
    env: "VELTRIX_CLIENT_HEADERS_TIMEOUT_MS",
    value: "N",
    default: "10000",
    doc: "time a client has to send a request's headers (408 past it)",
  },
  {
    flag: "client-request-timeout-ms",
    env: "VELTRIX_CLIENT_REQUEST_TIMEOUT_MS",
    value: "N",
    default: "60000",
    doc: "time a client has to send a whole request, headers and body (408 past it); at least the headers' time",
  },
  {
    flag: "ensure-stream",
    env: "VELTRIX_ENSURE_STREAM",
    boolean: true,
    default: "false",
    doc: "create the stream and consumer if missing (local mode; in a cluster the operator owns them)",
  },
  {
    flag: "log-level",
    env: "VELTRIX_LOG_LEVEL",
    value: "LEVEL",
    default: "info",
    doc: "debug, info, warn or error",
  },
] as const satisfies readonly FlagSpec[];

export const usage = flagUsage(
  "usage: node sidecar/main.ts --config veltrixconfig.yaml --app-port 8080 [flags]",
  sidecarFlags,
);

/** The options; `--help` prints the usage and exits. */
export function parseOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  warn?: (message: string) => void,
): SidecarOptions {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  const f = readFlags(sidecarFlags, argv, env, warn);
  if (!f["app-port"]) throw new Error(`--app-port is required\n${usage}`);
  const natsClient = natsClientSettings(f);
  // A certificate without its key (or the reverse) is a configuration error: fail at start.
  natsTls(natsClient);
  return {
    configFile: f.config || undefined,
    appHost: f["app-host"],
    appPort: flagInteger("app-port", f["app-port"]),
    host: f.host,
    port: flagInteger("port", f.port),
    adminPort: flagInteger("admin-port", f["admin-port"]),
    metricsPort: flagInteger("metrics-port", f["metrics-port"]),
    dataDir: f["data-dir"],
    natsUrl: f["nats-url"] || undefined,
    natsClient,
    namespace: f.namespace,
    name: f.name || undefined,
    pod: f.pod || hostname(),
    workers: Math.max(1, flagInteger("workers", f.workers)),
    graceMs: flagInteger("grace-ms", f["grace-ms"]),
    renderFile: f["render-file"] || undefined,
    maxHeaderBytes: flagInteger("max-header-bytes", f["max-header-bytes"]),
    clientHeadersTimeoutMs: flagInteger("client-headers-timeout-ms", f["client-headers-timeout-ms"]),
    clientRequestTimeoutMs: flagInteger("client-request-timeout-ms", f["client-request-timeout-ms"]),
    ensureStream: flagBoolean("ensure-stream", f["ensure-stream"]),
    logLevel: parseLevel("log-level", f["log-level"]),
  };
}
