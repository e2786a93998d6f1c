// Command-line options of `node sidecar/main.ts` (env VELTRIX_* as fallbacks).
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { type NatsClientSettings, natsTls } from "../lib/nats-auth.ts";

export interface SidecarOptions {
  configFile: string | undefined;
  appHost: string;
  appPort: number;
  host: string;
  port: number;
  adminPort: number;
  dataDir: string;
  natsUrl: string | undefined;
  /** NATS credentials file (.creds); natsClient also has the credentials directory. */
  natsCredentials: string | undefined;
  /** Credentials and TLS for every NATS connection (lib/nats-auth.ts). */
  natsClient: NatsClientSettings;
  namespace: string;
  name: string | undefined;
  pod: string;
  workers: number;
  graceMs: number;
  renderFile: string | undefined;
  maxHeaderBytes: number;
  /** Create the stream and consumer when missing (local mode; the operator does it in a cluster). */
  ensureStream: boolean;
}

export const usage = `usage: node sidecar/main.ts --config veltrixconfig.yaml --app-port 8080 [options]
  --config FILE          VeltrixConfig YAML (local mode) or ConfigDocument JSON (ConfigMap)
  --app-port N           the app's port (required)      --app-host H     default 127.0.0.1
  --port N               proxy port (default 15080)     --host H         default 0.0.0.0
  --admin-port N         admin port on 127.0.0.1 (default 15090)
  --data-dir DIR         SQLite files (default ./veltrix-data)
  --nats URL             NATS server; without it only direct mode (and fallbacks) work
  --nats-creds FILE      NATS credentials file (.creds: user JWT + NKey seed)
  --nats-creds-dir DIR   mounted Secret with creds (a .creds file), or user and password,
                         or token (the webhook's mount); --nats-creds wins
  --nats-tls             connect to NATS over TLS (implied by any --nats-tls-* option)
  --nats-tls-ca FILE     CA verifying NATS (default: the system trust store)
  --nats-tls-cert FILE --nats-tls-key FILE   client certificate and key (mutual TLS)
  --nats-tls-dir DIR     mounted Secret with ca.crt, optionally tls.crt and tls.key
  --nats-tls-server-name NAME  name verified in the NATS certificate (default: the URL's host)
  --namespace NS --name NAME   which VeltrixConfig (default: from --config)
  --pod NAME             reported with the applied revision (default: hostname)
  --workers N            proxy processes sharing the listener (default 1)
  --grace-ms N           shutdown grace period (default 25000)
  --render-file FILE     write the current config here for apps that read files
  --max-header-bytes N   request header limit (default 16384)
  --ensure-stream        create the JetStream stream and consumer when missing`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): SidecarOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      "app-port": { type: "string" },
      "app-host": { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "admin-port": { type: "string" },
      "data-dir": { type: "string" },
      nats: { type: "string" },
      "nats-creds": { type: "string" },
      "nats-creds-dir": { type: "string" },
      "nats-tls": { type: "boolean" },
      "nats-tls-ca": { type: "string" },
      "nats-tls-cert": { type: "string" },
      "nats-tls-key": { type: "string" },
      "nats-tls-dir": { type: "string" },
      "nats-tls-server-name": { type: "string" },
      namespace: { type: "string" },
      name: { type: "string" },
      pod: { type: "string" },
      workers: { type: "string" },
      "grace-ms": { type: "string" },
      "render-file": { type: "string" },
      "max-header-bytes": { type: "string" },
      "ensure-stream": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const num = (v: string | undefined, envName: string, def: number | undefined, what: string): number => {
    const raw = v ?? env[envName];
    if (raw === undefined) {
      if (def === undefined) throw new Error(`${what} is required\n${usage}`);
      return def;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid ${what} '${raw}'`);
    return n;
  };
  const str = (v: string | undefined, envName: string): string | undefined => v || env[envName] || undefined;
  const natsCredentials = str(values["nats-creds"], "VELTRIX_NATS_CREDENTIALS");
  const natsClient: NatsClientSettings = {
    credentialsFile: natsCredentials,
    credentialsDir: str(values["nats-creds-dir"], "VELTRIX_NATS_CREDENTIALS_DIR"),
    tls: values["nats-tls"] ?? ["1", "true"].includes(env["VELTRIX_NATS_TLS"] ?? ""),
    tlsCaFile: str(values["nats-tls-ca"], "VELTRIX_NATS_TLS_CA"),
    tlsCertFile: str(values["nats-tls-cert"], "VELTRIX_NATS_TLS_CERT"),
    tlsKeyFile: str(values["nats-tls-key"], "VELTRIX_NATS_TLS_KEY"),
    tlsDir: str(values["nats-tls-dir"], "VELTRIX_NATS_TLS_DIR"),
    tlsServerName: str(values["nats-tls-server-name"], "VELTRIX_NATS_TLS_SERVER_NAME"),
  };
  // A certificate without its key (or the reverse) is a configuration error: fail at start.
  natsTls(natsClient);
  return {
    configFile: values.config ?? env["VELTRIX_CONFIG_FILE"],
    appHost: values["app-host"] ?? env["VELTRIX_APP_HOST"] ?? "127.0.0.1",
    appPort: num(values["app-port"], "VELTRIX_APP_PORT", undefined, "--app-port"),
    host: values.host ?? env["VELTRIX_HOST"] ?? "0.0.0.0",
    port: num(values.port, "VELTRIX_PORT", 15080, "--port"),
    adminPort: num(values["admin-port"], "VELTRIX_ADMIN_PORT", 15090, "--admin-port"),
    dataDir: values["data-dir"] ?? env["VELTRIX_DATA_DIR"] ?? "./veltrix-data",
    natsUrl: values.nats ?? env["VELTRIX_NATS_URL"],
    natsCredentials,
    natsClient,
    namespace: values.namespace ?? env["VELTRIX_NAMESPACE"] ?? "default",
    name: values.name ?? env["VELTRIX_CONFIG_NAME"],
    pod: values.pod ?? env["VELTRIX_POD_NAME"] ?? hostname(),
    workers: Math.max(1, num(values.workers, "VELTRIX_WORKERS", 1, "--workers")),
    graceMs: num(values["grace-ms"], "VELTRIX_GRACE_MS", 25_000, "--grace-ms"),
    renderFile: values["render-file"] ?? env["VELTRIX_RENDER_FILE"],
    maxHeaderBytes: num(values["max-header-bytes"], "VELTRIX_MAX_HEADER_BYTES", 16_384, "--max-header-bytes"),
    ensureStream: values["ensure-stream"] ?? env["VELTRIX_ENSURE_STREAM"] === "1",
  };
}
