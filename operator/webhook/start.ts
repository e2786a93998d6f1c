// One call for operator/main.ts: certificates (self-managed or cert-manager),
// cluster defaults, API lookups and the HTTPS server, with the flags that drive
// them. Env names are the chart's (charts/veltrix/templates/_env.tpl).
import { readFileSync } from "node:fs";
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { MountedCertificates } from "../certs/mounted.ts";
import { SelfManagedCertificates, serviceDnsNames } from "../certs/self-managed.ts";
import { type ClusterDefaults, type InjectionOptions, injectionFeaturesFor } from "./config-input.ts";
import { WebhookConfigReadiness } from "./config-readiness.ts";
import { createKubeLookups } from "./kube-lookups.ts";
import { createWebhookMetrics } from "./metrics.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";
import { type KubeConnection, VersionApi } from "../runtime/kube-api.ts";

export const webhookFlags = [
  {
    flag: "webhook-cert-mode",
    env: "VELTRIX_WEBHOOK_CERT_MODE",
    default: "selfManaged",
    doc: "selfManaged, certManager, or disabled (no webhook server)",
  },
  {
    flag: "webhook-port",
    env: "VELTRIX_WEBHOOK_PORT",
    default: "9443",
    doc: "HTTPS port of the admission webhook",
  },
  {
    flag: "webhook-host",
    env: "VELTRIX_WEBHOOK_HOST",
    default: "0.0.0.0",
    doc: "address of the webhook listener",
  },
  {
    flag: "webhook-service",
    env: "VELTRIX_WEBHOOK_SERVICE",
    default: "veltrix",
    doc: "Service the API server calls (names in the serving certificate)",
  },
  {
    flag: "webhook-secret",
    env: "VELTRIX_WEBHOOK_SECRET",
    default: "veltrix-webhook-tls",
    doc: "Secret holding the self-managed CA and serving certificate",
  },
  {
    flag: "webhook-config-name",
    env: "VELTRIX_WEBHOOK_CONFIG_NAME",
    default: "",
    doc: "MutatingWebhookConfiguration served (caBundle, readiness); empty: `veltrix-<namespace>`",
  },
  {
    flag: "webhook-cert-validity-days",
    env: "VELTRIX_WEBHOOK_CERT_VALIDITY_DAYS",
    default: "365",
    doc: "self-managed serving certificate validity (renewed at 2/3)",
  },
  {
    flag: "webhook-cert-dir",
    env: "VELTRIX_WEBHOOK_CERT_DIR",
    default: "/etc/veltrix/webhook-tls",
    doc: "certManager mode: directory with tls.crt and tls.key",
  },
  {
    flag: "sidecar-defaults-file",
    env: "VELTRIX_SIDECAR_DEFAULTS_FILE",
    default: "",
    doc: "JSON with the cluster-wide sidecar defaults (chart ConfigMap)",
  },
] as const;

/**
 * The MutatingWebhookConfiguration's name when --webhook-config-name is empty: what the
 * chart renders (`<fullname>-<namespace>`) for release `veltrix`, whose fullname is
 * `veltrix` (test/chart/render.test.ts keeps the two equal).
 */
export function webhookConfigName(flag: string, namespace: string): string {
  return flag || `veltrix-${namespace}`;
}

/** The chart's defaults.json (charts/veltrix/templates/sidecar-defaults.yaml). */
export interface SidecarDefaultsFile {
  image?: string;
  imagePullPolicy?: string;
  resources?: ClusterDefaults["resources"];
  /** Proxy port of the sidecar (chart sidecar.port). */
  port?: number;
  /** Admin port of the sidecar (chart sidecar.adminPort). */
  adminPort?: number;
  /** Size limit of the state volume (chart sidecar.stateVolumeSizeLimit). */
  stateVolumeSizeLimit?: string;
  nativeSidecar?: boolean;
  natsUrl?: string;
  /** `minted`: each config's Secret made by the operator (chart: nats.mintCredentials), else `secretName`. */
  natsCredentials?: { secretName?: string; key?: string; minted?: boolean };
  /** NATS requires TLS (chart: nats.tls.enabled with an external NATS). */
  natsTls?: boolean;
  /** Name verified in the NATS certificate (chart nats.tls.serverName); empty: the URL's host. */
  natsTlsServerName?: string;
  /** Where each app namespace keeps the CA: a Secret (ca.crt, tls.crt, tls.key) or a ConfigMap (ca.crt). */
  natsTlsFrom?: { secretName?: string; configMapName?: string };
}

/** The sidecar's NATS settings from the defaults file; `natsUrl` when the file names none. */
export function natsInjection(file: SidecarDefaultsFile, natsUrl: string): InjectionOptions["nats"] {
  const credentials = file.natsCredentials?.secretName;
  // "creds" (the chart's default) is one of the directory's own keys: mount the whole Secret.
  const key = file.natsCredentials?.key;
  const from = file.natsTlsFrom;
  return {
    url: file.natsUrl ?? natsUrl,
    ...(credentials && {
      credentialsSecret: { name: credentials, ...(key && key !== "creds" && { key }) },
    }),
    ...(file.natsCredentials?.minted && { mintedCredentials: true }),
    ...(file.natsTls && {
      tls: {
        ...(from?.secretName && { secretName: from.secretName }),
        ...(from?.configMapName && { configMapName: from.configMapName }),
        ...(file.natsTlsServerName && { serverName: file.natsTlsServerName }),
      },
    }),
  };
}

export interface StartWebhookOptions {
  kubeConfig: KubeConnection;
  /** The operator's registry (served on /metrics). */
  registry: Registry;
  /** The operator's own namespace (where the self-managed Secret lives). */
  namespace: string;
  /** Values of webhookFlags, by flag name. */
  flags: Record<(typeof webhookFlags)[number]["flag"], string>;
  /** NATS URL for sidecars when the defaults file has none (the operator's --nats-url). */
  natsUrl: string;
  /** Owner of the self-managed Secret (the operator's Deployment; runtime/owner.ts). */
  ownerReferences?: V1OwnerReference[];
  log: (message: string, fields: Record<string, unknown>) => void;
  /** Warning-level log (default: `log`): the webhook configuration is missing or does not trust us. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** Between checks of the webhook configuration (default 10 s). */
  readinessIntervalMs?: number;
}

export interface RunningWebhook {
  server: WebhookServer;
  /** Why the API server cannot call this webhook (for /readyz), or undefined when it can. */
  notReadyReason(): string | undefined;
  stop(): Promise<void>;
}

export async function startWebhook(o: StartWebhookOptions): Promise<RunningWebhook | undefined> {
  const f = o.flags;
  const mode = f["webhook-cert-mode"];
  if (mode === "disabled") return undefined;
  if (mode !== "selfManaged" && mode !== "certManager") {
    throw new Error(`--webhook-cert-mode: want selfManaged, certManager or disabled, got '${mode}'`);
  }
  const file: SidecarDefaultsFile = f["sidecar-defaults-file"]
    ? (JSON.parse(readFileSync(f["sidecar-defaults-file"], "utf8")) as SidecarDefaultsFile)
    : {};
  const version = await new VersionApi(o.kubeConfig).getCode();
  const features = injectionFeaturesFor(version.gitVersion);
  const injection: InjectionOptions = {
    nativeSidecars: features.nativeSidecars && file.nativeSidecar !== false,
    preStopSleep: features.preStopSleep,
    nats: natsInjection(file, o.natsUrl),
  };
  const defaults: ClusterDefaults = {
    image: file.image ?? "ghcr.io/veltrix/sidecar:0.1.0",
    ...(file.imagePullPolicy !== undefined && { imagePullPolicy: file.imagePullPolicy }),
    ...(file.resources !== undefined && { resources: file.resources }),
    ...((file.port !== undefined || file.adminPort !== undefined) && {
      ports: {
        ...(file.port !== undefined && { proxy: file.port }),
        ...(file.adminPort !== undefined && { admin: file.adminPort }),
      },
    }),
    ...(file.stateVolumeSizeLimit !== undefined && { storeSize: file.stateVolumeSizeLimit }),
  };

  const holder: { server?: WebhookServer; certPem?: string } = {};
  const onCertificate = (c: Parameters<WebhookServer["setCertificate"]>[0]): void => {
    holder.server?.setCertificate(c);
    holder.certPem = c.certPem;
    o.log("webhook certificate loaded", { notAfter: c.notAfter?.toISOString() });
  };
  const validityDays = Number(f["webhook-cert-validity-days"]);
  if (!(validityDays > 0)) throw new Error(`--webhook-cert-validity-days: want a positive number`);
  const configName = webhookConfigName(f["webhook-config-name"], o.namespace);
  const certs =
    mode === "selfManaged"
      ? new SelfManagedCertificates({
          kubeConfig: o.kubeConfig,
          namespace: o.namespace,
          secretName: f["webhook-secret"],
          webhookConfigName: configName,
          dnsNames: serviceDnsNames(f["webhook-service"], o.namespace),
          servingValidityMs: validityDays * 86_400_000,
          onCertificate,
          ownerReferences: o.ownerReferences ?? [],
          log: o.log,
        })
      : new MountedCertificates({ dir: f["webhook-cert-dir"], onCertificate, log: o.log });
  const certificate = await certs.start();
  const server = await startWebhookServer({
    host: f["webhook-host"],
    port: Number(f["webhook-port"]),
    certificate,
    lookups: createKubeLookups(o.kubeConfig, { defaults }),
    injection,
    metrics: createWebhookMetrics(o.registry),
    log: o.log,
  });
  holder.server = server;
  holder.certPem = certificate.certPem;
  o.log("webhook serving", {
    port: server.port,
    certificates: mode,
    nativeSidecars: injection.nativeSidecars,
    webhookConfiguration: configName,
  });
  const readiness = new WebhookConfigReadiness({
    kubeConfig: o.kubeConfig,
    name: configName,
    servingCertPem: () => holder.certPem ?? certificate.certPem,
    ...(certs instanceof SelfManagedCertificates && { repair: () => certs.sync() }),
    ...(o.readinessIntervalMs !== undefined && { intervalMs: o.readinessIntervalMs }),
    warn: o.warn ?? o.log,
    info: o.log,
  });
  await readiness.check();
  readiness.start();
  return {
    server,
    notReadyReason: () => readiness.notReadyReason(),
    async stop() {
      await readiness.stop();
      await certs.stop();
      await server.close();
    },
  };
}
