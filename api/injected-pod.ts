// Names the injected pod carries: the contract between the webhook, the sidecar
// (which reads the env) and the operator (which counts injected pods by label).
import { annotations as apiAnnotations, labels as apiLabels } from "./contract.ts";

export const sidecarContainerName = "veltrix-sidecar";
export const stateVolumeName = "veltrix-state";
export const renderedConfigVolumeName = "veltrix-config";
/** The operator's boot-fallback ConfigMap (api/contract.ts configMapName), optional. */
export const bootConfigVolumeName = "veltrix-boot";
export const bootConfigMountPath = "/etc/veltrix-boot";
/**
 * The namespace's NATS credentials Secret, mounted whole as a directory (`creds`, or `user`
 * and `password`, or `token`: lib/nats-auth.ts); with a custom `.creds` key, only
 * that key, as the file below.
 */
export const natsCredentialsVolumeName = "veltrix-nats";
export const natsCredentialsMountPath = "/etc/veltrix-nats";
export const natsCredentialsFile = "nats.creds";
/** The namespace's NATS TLS Secret or ConfigMap (ca.crt, tls.crt, tls.key), mounted whole. */
export const natsTlsVolumeName = "veltrix-nats-tls";
export const natsTlsMountPath = "/etc/veltrix-nats-tls";
export const stateMountPath = "/var/lib/veltrix";
export const sidecarConfigMountPath = "/run/veltrix/config";

/** The pod's app port, renamed when the sidecar takes over its name (see docs/webhook.md). */
export const appPortName = "vx-app";
/** Name of the sidecar's proxy port when the app port had no name to take over. */
export const proxyPortFallbackName = "vx-proxy";
export const adminPortName = "vx-admin";
/** The sidecar's /metrics-only listener, on the pod's address (what a PodMonitor selects). */
export const metricsPortName = "vx-metrics";

export const statusAnnotation = "veltrix.io/status";
/** Shared with the operator, which compares it with the config's current revision. */
export const revisionAnnotation = apiAnnotations.injectedRevision;
/** Shared with the operator, which counts a config's pods by it. */
export const configLabel = apiLabels.config;
export const injectLabel = apiAnnotations.inject;
export const namespaceInjectionLabel = "veltrix.io/injection";
export const injectedStatus = "injected";

/** Defaults of the sidecar's settings, where a pod, the chart or a VeltrixConfig sets none. */
export const sidecarDefaults = {
  proxyPort: 15080,
  adminPort: 15090,
  metricsPort: 15091,
  storeSize: "1Gi",
} as const;

/** Env the sidecar reads (its flags' variables, sidecar/options.ts) that the webhook sets. */
export const sidecarEnv = {
  metricsPort: "VELTRIX_METRICS_PORT",
  configName: "VELTRIX_CONFIG_NAME",
  namespace: "VELTRIX_NAMESPACE",
  podName: "VELTRIX_POD_NAME",
  natsUrl: "VELTRIX_NATS_URL",
  natsCredentials: "VELTRIX_NATS_CREDENTIALS",
  natsCredentialsDir: "VELTRIX_NATS_CREDENTIALS_DIR",
  natsTls: "VELTRIX_NATS_TLS",
  natsTlsDir: "VELTRIX_NATS_TLS_DIR",
  natsTlsServerName: "VELTRIX_NATS_TLS_SERVER_NAME",
  port: "VELTRIX_PORT",
  adminPort: "VELTRIX_ADMIN_PORT",
  appPort: "VELTRIX_APP_PORT",
  dataDir: "VELTRIX_DATA_DIR",
  renderFile: "VELTRIX_RENDER_FILE",
  configFile: "VELTRIX_CONFIG_FILE",
} as const;

/** File name of the rendered config in the shared volume, and of the ConfigMap key. */
export const renderedConfigFile = "config.json";

/** Env added to app containers so the app finds its config. */
export const appEnv = {
  configDir: "VELTRIX_CONFIG_DIR",
  adminUrl: "VELTRIX_ADMIN_URL",
} as const;
