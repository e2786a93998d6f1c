// The names the operator, the webhook and the sidecar agree on: API coordinates,
// labels and annotations, NATS stream / consumer / subject / KV names. One pure module;
// every part imports it instead of spelling a name itself. See docs/operator.md.

export const group = "veltrix.io";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const kind = "VeltrixConfig";
export const plural = "veltrixconfigs";
export const crdName = `${plural}.${group}`;

/** Finalizer the operator puts on every VeltrixConfig it reconciles. */
export const finalizer = "veltrix.io/cleanup";

export const labels = {
  /** On pods (set by the webhook at injection): the name of their VeltrixConfig. */
  config: "veltrix.io/config",
  /** On objects the operator creates. */
  managedBy: "app.kubernetes.io/managed-by",
} as const;
export const managedByValue = "veltrix-operator";

export const annotations = {
  inject: "veltrix.io/inject",
  config: "veltrix.io/config",
  appPort: "veltrix.io/app-port",
  /** On pods (set by the webhook): the revision the pod was injected with. */
  injectedRevision: "veltrix.io/injected-revision",
} as const;

/** Condition types in VeltrixConfig status. */
export const conditionTypes = {
  ready: "Ready",
  streamReady: "StreamReady",
  configPublished: "ConfigPublished",
  /** queue.maxBodyBytes with its headers fits NATS's max_payload (informational: Ready ignores it). */
  bodyFitsBroker: "BodyFitsBroker",
  /** The sidecars' minted NATS user is in its Secret (only where the operator mints users). */
  natsCredentials: "NatsCredentials",
} as const;
export type ConditionType = (typeof conditionTypes)[keyof typeof conditionTypes];

/** KV bucket with one key per VeltrixConfig: the ConfigDocument sidecars apply. */
export const configBucket = "veltrix-config";
/**
 * KV bucket where each sidecar reports the revision it applies, key
 * sidecarStatusKey(); entries expire (bucket TTL) unless refreshed.
 */
export const sidecarStatusBucket = "veltrix-sidecars";
/** TTL of sidecarStatusBucket entries; sidecars refresh at least every third of it. */
export const sidecarStatusTtlMs = 90_000;

export interface ConfigRef {
  namespace: string;
  name: string;
}

/** KV key of a config's ConfigDocument in configBucket: "<namespace>.<name>". */
export function configKey(ref: ConfigRef): string {
  return `${ref.namespace}.${ref.name}`;
}

/** KV key of one pod's SidecarStatus in sidecarStatusBucket: "<namespace>.<config>.<pod>". */
export function sidecarStatusKey(ref: ConfigRef, pod: string): string {
  return `${ref.namespace}.${ref.name}.${pod.replaceAll(".", "_")}`;
}

/** Work-queue stream of a config: "VX_<namespace>_<name>" (names are DNS labels, so '_' separates). */
export function streamName(ref: ConfigRef): string {
  return `VX_${ref.namespace}_${ref.name}`;
}

/** Durable pull consumer all sidecars of a config share. */
export const consumerName = "sidecars";

/** Subjects the stream holds: "veltrix.q.<namespace>.<name>.>". */
export function streamSubjects(ref: ConfigRef): string[] {
  return [`${queueSubjectPrefix(ref)}.>`];
}

/** Prefix of a config's queue subjects; sidecars publish to "<prefix>.<kind>" (e.g. ".sync", ".async"). */
export function queueSubjectPrefix(ref: ConfigRef): string {
  return `veltrix.q.${ref.namespace}.${ref.name}`;
}

/**
 * KV bucket of a config's async outcomes: "veltrix-outcomes_<namespace>_<name>" ('_' never
 * occurs in DNS labels, so distinct configs never share one). Its TTL is the config's
 * `store.retention`, which is why each config has its own bucket.
 */
export function outcomeBucketName(ref: ConfigRef): string {
  return `veltrix-outcomes_${ref.namespace}_${ref.name}`;
}

/**
 * Key of a request's outcome in outcomeBucketName(ref): "<namespace>.<name>.<id>", the id's
 * characters outside [A-Za-z0-9_=-] replaced by '_' (KV keys allow [-/_=.a-zA-Z0-9]).
 * Async requests get their outcome here, and every dead-lettered request (sync or async)
 * an entry with `deadLettered: true`.
 */
export function outcomeKey(ref: ConfigRef, id: string): string {
  return `${ref.namespace}.${ref.name}.${id.replace(/[^A-Za-z0-9_=-]/g, "_")}`;
}

/** Core-NATS subject a config's dead-lettered requests are announced on. */
export function deadLetterSubject(ref: ConfigRef): string {
  return `veltrix.dlq.${ref.namespace}.${ref.name}`;
}

/**
 * Root of every inbox a config's sidecars receive on (JetStream API answers, pulled
 * messages, publish acks, KV watches): "_VX.inbox.<namespace>.<name>". Another config's
 * sidecars can be denied it, which nats.js's shared default "_INBOX" root cannot be.
 */
export function inboxPrefix(ref: ConfigRef): string {
  return `_VX.inbox.${ref.namespace}.${ref.name}`;
}

/** Root of the subjects a config's held sync requests get their replies on: "_VX.reply.<namespace>.<name>". */
export function replyPrefix(ref: ConfigRef): string {
  return `_VX.reply.${ref.namespace}.${ref.name}`;
}

/**
 * The least NATS permissions a sidecar of `ref` needs (sync and async modes, config
 * watch, status report, outcome bucket): what it publishes and subscribes to, for a
 * nats-server `permissions` block. Nothing of another config is reachable with them, and
 * no subject here matches another config's traffic: inboxes and replies carry the config.
 */
export function sidecarNatsPermissions(ref: ConfigRef): { publish: string[]; subscribe: string[] } {
  const stream = streamName(ref);
  const outcomes = `KV_${outcomeBucketName(ref)}`;
  const key = configKey(ref);
  return {
    publish: [
      `${queueSubjectPrefix(ref)}.>`,
      deadLetterSubject(ref),
      `${replyPrefix(ref)}.>`,
      // A holder answers an executor's claim on the executor's inbox (same config).
      `${inboxPrefix(ref)}.>`,
      "$JS.API.INFO",
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.CONSUMER.INFO.${stream}.${consumerName}`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumerName}`,
      `$JS.ACK.${stream}.${consumerName}.>`,
      `$JS.API.STREAM.INFO.${outcomes}`,
      `$JS.API.DIRECT.GET.${outcomes}.>`,
      `$KV.${outcomeBucketName(ref)}.>`,
      `$JS.API.STREAM.INFO.KV_${configBucket}`,
      `$JS.API.CONSUMER.CREATE.KV_${configBucket}.*.$KV.${configBucket}.${key}`,
      `$JS.API.DIRECT.GET.KV_${configBucket}.$KV.${configBucket}.${key}`,
      `$JS.API.STREAM.INFO.KV_${sidecarStatusBucket}`,
      `$KV.${sidecarStatusBucket}.${key}.*`,
    ],
    subscribe: [`${inboxPrefix(ref)}.>`, `${replyPrefix(ref)}.>`],
  };
}

/**
 * Secret in a config's namespace holding the NATS user the operator minted for its sidecars
 * (key natsCredentialsKey, a .creds file with exactly sidecarNatsPermissions(ref)); the
 * webhook mounts it into the injected sidecar. See docs/security.md and ADR 0007.
 */
export function natsCredentialsSecretName(name: string): string {
  return `${name}-veltrix-nats`;
}
export const natsCredentialsKey = "creds";

/** Annotations on a minted credentials Secret: the user's public NKey and the JWT's times (RFC 3339). */
export const natsCredentialsAnnotations = {
  user: "veltrix.io/nats-user",
  issuedAt: "veltrix.io/nats-issued-at",
  expiresAt: "veltrix.io/nats-expires-at",
} as const;

/** ConfigMap holding the current ConfigDocument (key configMapKey), the sidecar's boot fallback. */
export function configMapName(name: string): string {
  return `${name}-veltrix-config`;
}
export const configMapKey = "config.json";

/**
 * Paths the sidecar answers on its proxy port for the kubelet's probes (its admin API
 * listens on 127.0.0.1 only, out of the kubelet's reach); the webhook's probes use them.
 */
export const sidecarProbePaths = { healthz: "/_veltrix/healthz", readyz: "/_veltrix/readyz" } as const;

/** A request's status URL on the sidecar's proxy port is this prefix, then its id. */
export const statusPathPrefix = "/_veltrix/requests/";

/** What a sidecar writes to sidecarStatusBucket. */
export interface SidecarStatus {
  /** Revision (ConfigDocument.revision) the sidecar applies now. */
  revision: string;
  pod: string;
  podUid?: string;
  /** RFC 3339 time of the report. */
  at: string;
}
