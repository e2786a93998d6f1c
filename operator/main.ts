// The operator process: `node operator/main.ts --kubeconfig ... --nats-url ...`.
// Every flag has an environment variable and a default; docs/operator.md lists them
// (a unit test keeps that table and this one in step).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { V1OwnerReference } from "@kubernetes/client-node";
import { pathToFileURL } from "node:url";
import { parseDuration } from "../api/resolve.ts";
import { CoreV1Api, type KubeConnection } from "./runtime/kube-api.ts";
import { loadKubeConfig } from "./runtime/kube-config.ts";
import { createLogger, type Logger, parseLevel } from "../lib/log.ts";
import {
  flagBoolean,
  flagInteger,
  flagTableMarkdown as renderFlagTable,
  type FlagSpec,
  type FlagValues,
  readFlags as readFlagTable,
} from "../lib/flags.ts";
import { natsClientSettings, natsFlags } from "../lib/nats-flags.ts";
import { accountOf } from "./nats-identity/account-claims.ts";
import { accountSigner, type NatsUserMinting, operatorSigningKey } from "./nats-identity/mint.ts";
import { ensureNatsAuthSecret, natsAuthFlags, writeNatsAuthFiles } from "./nats-identity/nats-auth-secret.ts";
import type { RevocationAuthority } from "./nats-identity/revocation.ts";
import { Operator } from "./operator.ts";
import { deploymentOwner } from "./runtime/owner.ts";
import { startWebhook, webhookFlags } from "./webhook/start.ts";

const operatorFlags = [
  {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    default: "",
    doc: "kubeconfig file; in-cluster config when empty",
  },
  ...natsFlags({ default: "nats://nats:4222", doc: "NATS server URL(s), comma-separated" }),
  {
    flag: "nats-auth-secret",
    env: "VELTRIX_NATS_AUTH_SECRET",
    value: "NAME",
    default: "",
    doc: "Secret in --namespace with the installation's NATS keys (docs/security.md); fills the empty --nats-credentials, --nats-account-* and revocation flags",
  },
  {
    flag: "nats-auth-generate",
    env: "VELTRIX_NATS_AUTH_GENERATE",
    boolean: true,
    default: "false",
    doc: "make that Secret (new NATS operator, accounts and keys) when it does not exist: the chart's bundled NATS",
  },
  {
    flag: "nats-account-signing-key",
    env: "VELTRIX_NATS_ACCOUNT_SIGNING_KEY",
    value: "FILE",
    default: "",
    doc: "seed (SA...) of a NATS account signing key: mint each VeltrixConfig's sidecar user into a Secret; empty: sidecars bring their own",
  },
  {
    flag: "nats-account",
    env: "VELTRIX_NATS_ACCOUNT",
    value: "KEY",
    default: "",
    doc: "public key (A...) of the account the signing key signs for; empty: the key is the account's own",
  },
  {
    flag: "nats-operator-signing-key",
    env: "VELTRIX_NATS_OPERATOR_SIGNING_KEY",
    value: "FILE",
    default: "",
    doc: "seed (SO...) of a NATS operator signing key: revoke a deleted config's user at once (with the two below)",
  },
  {
    flag: "nats-account-jwt",
    env: "VELTRIX_NATS_ACCOUNT_JWT",
    value: "FILE",
    default: "",
    doc: "the account's JWT as nats-server preloads it; pushed back with the revocations",
  },
  {
    flag: "nats-system-credentials",
    env: "VELTRIX_NATS_SYSTEM_CREDENTIALS",
    value: "FILE",
    default: "",
    doc: "system-account user (.creds) the account JWT is pushed with",
  },
  {
    flag: "nats-user-validity",
    env: "VELTRIX_NATS_USER_VALIDITY",
    default: "24h",
    doc: "lifetime of a minted sidecar user (renewed at two thirds)",
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
  {
    flag: "owner-deployment",
    env: "VELTRIX_OWNER_DEPLOYMENT",
    default: "",
    doc: "Deployment in --namespace that owns the Lease and webhook Secret (deleted with it); none when empty",
  },
  { flag: "log-level", env: "VELTRIX_LOG_LEVEL", default: "info", doc: "debug, info, warn or error" },
] as const satisfies readonly FlagSpec[];

/** Every flag of the process: the operator's and the webhook's (operator/webhook/start.ts). */
export const flags = [...operatorFlags, ...webhookFlags] as const satisfies readonly FlagSpec[];

/** The flag table of docs/operator.md (a unit test keeps the two equal). */
export function flagTableMarkdown(): string {
  return renderFlagTable(flags);
}

type WebhookFlagName = (typeof webhookFlags)[number]["flag"];

export function readFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
  warn?: (message: string) => void,
): FlagValues<typeof flags> {
  const out = readFlagTable(flags, argv, env, warn);
  if (out.identity === "<hostname>-<pid>") out.identity = `${hostname()}-${process.pid}`;
  return out;
}

/** Minting of sidecar NATS users, when --nats-account-signing-key names a seed file. */
function natsUserMinting(f: FlagValues<typeof flags>): NatsUserMinting | undefined {
  const file = f["nats-account-signing-key"];
  if (!file) return undefined;
  const validityMs = parseDuration(f["nats-user-validity"]);
  if (!(validityMs >= 60_000)) throw new Error("--nats-user-validity: want at least 1m");
  const signer = accountSigner(readFileSync(file, "utf8"), f["nats-account"]);
  const revocationFlags = [
    "nats-operator-signing-key",
    "nats-account-jwt",
    "nats-system-credentials",
  ] as const;
  const given = revocationFlags.filter((name) => f[name]);
  if (given.length === 0) return { signer, validityMs };
  if (given.length < revocationFlags.length) {
    throw new Error(
      `revoking NATS users needs --${revocationFlags.join(", --")}; got only --${given.join(", --")}`,
    );
  }
  const accountJwt = readFileSync(f["nats-account-jwt"], "utf8").trim();
  if (accountOf(accountJwt) !== signer.account) {
    throw new Error(`--nats-account-jwt is the JWT of ${accountOf(accountJwt)}, not of ${signer.account}`);
  }
  const revocation: RevocationAuthority = {
    accountJwt,
    operatorKey: operatorSigningKey(readFileSync(f["nats-operator-signing-key"], "utf8")),
    system: {
      ...natsClientSettings(f),
      credentialsFile: f["nats-system-credentials"],
      credentialsDir: undefined,
    },
  };
  return { signer, validityMs, revocation };
}

/** With --nats-auth-secret: its keys as files in a private directory, filling the empty flags. */
async function useNatsAuthSecret(
  f: FlagValues<typeof flags>,
  kc: KubeConnection,
  ownerReferences: V1OwnerReference[],
  log: Logger,
): Promise<void> {
  const name = f["nats-auth-secret"];
  if (!name) return;
  const data = await ensureNatsAuthSecret(new CoreV1Api(kc), {
    namespace: f.namespace,
    name,
    generate: flagBoolean("nats-auth-generate", f["nats-auth-generate"]),
    ownerReferences,
  });
  const dir = mkdtempSync(join(tmpdir(), "veltrix-nats-auth-"));
  // The keys live as long as the process (in the pod, /tmp is its own emptyDir anyway).
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const paths = writeNatsAuthFiles(data, dir);
  const filled: string[] = [];
  for (const [flag, value] of Object.entries(natsAuthFlags(paths, data))) {
    const key = flag as keyof typeof f;
    if (f[key]) continue;
    f[key] = value;
    filled.push(flag);
  }
  log.info("NATS keys from the auth Secret", { secret: `${f.namespace}/${name}`, filled });
}

async function main(): Promise<void> {
  const f = readFlags(process.argv.slice(2), process.env);
  const log = createLogger({
    level: parseLevel("log-level", f["log-level"]),
    fields: { component: "operator", identity: f.identity },
  });
  const kc = loadKubeConfig(f.kubeconfig || undefined);
  // The Lease and the webhook Secret go with the operator's Deployment (helm uninstall).
  const ownerReferences = await deploymentOwner(kc, f.namespace, f["owner-deployment"], (message, fields) =>
    log.warn(message, fields),
  );
  await useNatsAuthSecret(f, kc, ownerReferences, log);
  const op = new Operator({
    kc,
    natsUrl: f["nats-url"],
    natsClient: natsClientSettings(f),
    natsUsers: natsUserMinting(f),
    log,
    namespace: f.namespace,
    leaseName: f["lease-name"],
    identity: f.identity,
    leaderElect: flagBoolean("leader-elect", f["leader-elect"]),
    leaseDurationMs: parseDuration(f["lease-duration"]),
    renewDeadlineMs: parseDuration(f["renew-deadline"]),
    retryPeriodMs: parseDuration(f["retry-period"]),
    workers: flagInteger("workers", f.workers),
    resyncMs: parseDuration(f.resync),
    statusRefreshMs: parseDuration(f["status-refresh"]),
    maxBackoffMs: parseDuration(f["max-backoff"]),
    httpPort: flagInteger("http-port", f["http-port"]),
    httpHost: f["http-host"],
    watchNamespace: f["watch-namespace"] || undefined,
    ownerReferences,
    notReadyReason: () => webhook?.notReadyReason(),
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
    ownerReferences,
    log: (message, fields) => log.info(message, { ...fields, component: "webhook" }),
    warn: (message, fields) => log.warn(message, { ...fields, component: "webhook" }),
  });
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  log.info("starting", {
    natsUrl: f["nats-url"],
    // Where the NATS credentials and CA come from (paths only, never their content).
    natsCredentials: f["nats-credentials"] || f["nats-credentials-dir"] || "none",
    mintsSidecarUsers: Boolean(f["nats-account-signing-key"]),
    revokesSidecarUsers: Boolean(f["nats-operator-signing-key"]),
    natsTls:
      flagBoolean("nats-tls", f["nats-tls"]) ||
      Boolean(f["nats-tls-ca"] || f["nats-tls-dir"] || f["nats-tls-cert"]),
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
