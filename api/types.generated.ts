// GENERATED from crds/veltrixconfig.yaml by scripts/generate-api.ts. Do not edit;
// run `scripts/with-node24 node scripts/generate-api.ts` after changing the CRD.
import type { V1ObjectMeta } from "@kubernetes/client-node";

/** Desired configuration and queueing behaviour. */
export interface VeltrixConfigSpecResolved {
  /** The config the app reads: string keys to string values. Sidecars serve it on their admin API, render it to a file and stamp requests with its revision. */
  config?: Record<string, string>;
  /** Per-request config. A request that matches an override gets the base config merged with the override's config; when several match, later entries win. */
  overrides?: VeltrixConfigSpecOverridesItemResolved[];
  /** How requests are queued in front of the app. */
  queue: VeltrixConfigSpecQueueResolved;
  /** The per-request record store (SQLite on the pod's volume). */
  store: VeltrixConfigSpecStoreResolved;
  /** The injected sidecar container. */
  sidecar: VeltrixConfigSpecSidecarResolved;
}

/** The injected sidecar container. */
export interface VeltrixConfigSpecSidecarResolved {
  /** Sidecar image; the operator's --sidecar-image when unset. */
  image?: string;
  /** Compute resources of the sidecar container. */
  resources?: VeltrixConfigSpecSidecarResourcesResolved;
  /** Ports the sidecar listens on. An unset port takes the cluster default (the chart's sidecar.port and sidecar.adminPort), else 15080 and 15090; the veltrix.io/proxy-port and veltrix.io/admin-port annotations override them. */
  ports?: VeltrixConfigSpecSidecarPortsResolved;
}

/** Ports the sidecar listens on. An unset port takes the cluster default (the chart's sidecar.port and sidecar.adminPort), else 15080 and 15090; the veltrix.io/proxy-port and veltrix.io/admin-port annotations override them. */
export interface VeltrixConfigSpecSidecarPortsResolved {
  /** Port of the proxy listener that clients reach. When unset, the cluster default (chart sidecar.port), else 15080. */
  proxy?: number;
  /** Port of the admin listener (health, metrics, config API), on localhost. When unset, the cluster default (chart sidecar.adminPort), else 15090. */
  admin?: number;
}

/** Compute resources of the sidecar container. */
export interface VeltrixConfigSpecSidecarResourcesResolved {
  /** Minimum resources (for example cpu "100m", memory "64Mi"). */
  requests?: Record<string, number | string>;
  /** Maximum resources. */
  limits?: Record<string, number | string>;
}

/** The per-request record store (SQLite on the pod's volume). */
export interface VeltrixConfigSpecStoreResolved {
  /** How long per-request records are kept after they finish (Go duration). */
  retention: string;
  /** Size of the volume holding the store (a quantity, for example "1Gi"). When unset, the cluster default applies (the chart's sidecar.stateVolumeSizeLimit), else 1Gi; the veltrix.io/store-size annotation overrides it. */
  sizeLimit?: string;
  /** The volume the store lives on. */
  volume: VeltrixConfigSpecStoreVolumeResolved;
}

/** The volume the store lives on. */
export interface VeltrixConfigSpecStoreVolumeResolved {
  /** emptyDir (node-local, lives as long as the pod) or ephemeral (a generic ephemeral volume claimed from a storage class). */
  kind: "emptyDir" | "ephemeral";
  /** Storage class of the ephemeral volume claim (cluster default when unset). */
  storageClassName?: string;
}

/** How requests are queued in front of the app. */
export interface VeltrixConfigSpecQueueResolved {
  /** sync: requests wait in the JetStream work queue and the reply goes back to the caller. async: 202 Accepted with a request id, executed at least once, outcome retrievable. direct: no broker in the path, only the per-pod concurrency bound. */
  mode: "sync" | "async" | "direct";
  /** Requests in flight to the app, per pod. */
  maxConcurrency: number;
  /** Requests waiting in the queue (the stream's message limit). Past it new requests get the overflow response. */
  maxQueueDepth: number;
  /** How long a sync request may wait in the queue before it is shed with the overflow response (Go duration, for example "30s"). */
  maxWait: string;
  /** How long the app may take to answer one request (Go duration). */
  requestTimeout: string;
  /** Largest request body accepted, in bytes; larger requests get 413. */
  maxBodyBytes: number;
  /** How many times a queued request is delivered before it is given up (dead-lettered). With retryDelay's default the retries span 15 s, past a typical container restart of the app. */
  maxDeliver: number;
  /** How long a request waits before it is delivered again after the app could not be reached; doubles with every attempt, up to 1m (Go duration). */
  retryDelay: string;
  /** The response a client gets when the queue is full or its wait runs out. */
  overflow: VeltrixConfigSpecQueueOverflowResolved;
  /** What sync and async requests do while NATS is unreachable: fail (overflow response) or direct (bypass the broker, keep only the per-pod bound). */
  onBrokerUnavailable: "fail" | "direct";
  /** The JetStream work-queue stream that holds queued requests. */
  stream: VeltrixConfigSpecQueueStreamResolved;
  /** What happens to the stream, its consumer and the async outcome bucket when the VeltrixConfig is deleted: Delete removes them, Retain keeps them (and any queued requests and stored outcomes). */
  deletionPolicy: "Retain" | "Delete";
}

/** The JetStream work-queue stream that holds queued requests. */
export interface VeltrixConfigSpecQueueStreamResolved {
  /** Where JetStream keeps the messages. */
  storage: "file" | "memory";
  /** Stream replicas in a clustered NATS (1, 3 or 5). */
  replicas: 1 | 3 | 5;
  /** Messages older than this are dropped from the stream (Go duration). */
  maxAge: string;
}

/** The response a client gets when the queue is full or its wait runs out. */
export interface VeltrixConfigSpecQueueOverflowResolved {
  /** HTTP status of the overflow response. */
  status: 503 | 429;
  /** Value of the Retry-After header (Go duration, rounded up to seconds). */
  retryAfter: string;
}

export interface VeltrixConfigSpecOverridesItemResolved {
  /** Unique name of the override (shown in request records). */
  name: string;
  /** When the override applies. Every condition given must hit (AND); at least one is required. */
  match: VeltrixConfigSpecOverridesItemMatchResolved;
  /** Keys added to (or replacing those of) the base config for matching requests. */
  config: Record<string, string>;
}

/** When the override applies. Every condition given must hit (AND); at least one is required. */
export interface VeltrixConfigSpecOverridesItemMatchResolved {
  /** The request path starts with this prefix (for example "/api/v2/"). */
  pathPrefix?: string;
  /** Request headers that must be present with exactly these values. Header names are case-insensitive and written in lowercase here. */
  headers?: Record<string, string>;
}

/** VeltrixConfig describes an app's configuration layer (the config its sidecars serve, with per-request overrides) and the queue that bounds the concurrency reaching the app. Pods opt in with the annotations veltrix.io/inject="true" and veltrix.io/config=<name>. */
export interface VeltrixConfig {
  /** APIVersion defines the versioned schema of this representation of an object. */
  apiVersion?: string;
  /** Kind is a string value representing the REST resource this object represents. */
  kind?: string;
  metadata?: V1ObjectMeta;
  /** Desired configuration and queueing behaviour. */
  spec?: VeltrixConfigSpec;
  /** Observed state, written by the operator. */
  status?: VeltrixConfigStatus;
}

/** Observed state, written by the operator. */
export interface VeltrixConfigStatus {
  /** The metadata.generation the status describes. */
  observedGeneration?: number;
  /** Stable hash of what sidecars apply (config, overrides, queue and store settings). */
  revision?: string;
  /** Ready, StreamReady, ConfigPublished, BodyFitsBroker and (where the operator mints the sidecars' NATS users) NatsCredentials, each with a reason and a message. */
  conditions?: VeltrixConfigStatusConditionsItem[];
  /** Name of the JetStream stream holding this config's queue. */
  stream?: string;
  /** Name of the durable pull consumer the sidecars share. */
  consumer?: string;
  /** Name of the ConfigMap holding the current revision (boot fallback for sidecars). */
  configMap?: string;
  /** Pods that name this config. */
  pods?: VeltrixConfigStatusPods;
  /** The work-queue stream at the last reconcile. */
  queue?: VeltrixConfigStatusQueue;
}

/** The work-queue stream at the last reconcile. */
export interface VeltrixConfigStatusQueue {
  /** Messages waiting in the stream. */
  depth?: number;
  /** Messages delivered to sidecars and not yet acknowledged. */
  consumerPending?: number;
}

/** Pods that name this config. */
export interface VeltrixConfigStatusPods {
  /** Pods carrying the veltrix.io/config label for this config. */
  injected?: number;
  /** Injected pods that are Ready and whose sidecar reports the current revision. */
  inSync?: number;
  /** inSync/injected, for kubectl get. */
  summary?: string;
}

export interface VeltrixConfigStatusConditionsItem {
  /** Condition type. */
  type: string;
  /** True, False or Unknown. */
  status: "True" | "False" | "Unknown";
  /** The metadata.generation the condition was set for. */
  observedGeneration?: number;
  /** When the status last changed. */
  lastTransitionTime: string;
  /** CamelCase reason for the condition's last transition. */
  reason: string;
  /** Human-readable details. */
  message: string;
}

/** Desired configuration and queueing behaviour. */
export interface VeltrixConfigSpec {
  /** The config the app reads: string keys to string values. Sidecars serve it on their admin API, render it to a file and stamp requests with its revision. */
  config?: Record<string, string>;
  /** Per-request config. A request that matches an override gets the base config merged with the override's config; when several match, later entries win. */
  overrides?: VeltrixConfigSpecOverridesItem[];
  /** How requests are queued in front of the app. */
  queue?: VeltrixConfigSpecQueue;
  /** The per-request record store (SQLite on the pod's volume). */
  store?: VeltrixConfigSpecStore;
  /** The injected sidecar container. */
  sidecar?: VeltrixConfigSpecSidecar;
}

/** The injected sidecar container. */
export interface VeltrixConfigSpecSidecar {
  /** Sidecar image; the operator's --sidecar-image when unset. */
  image?: string;
  /** Compute resources of the sidecar container. */
  resources?: VeltrixConfigSpecSidecarResources;
  /** Ports the sidecar listens on. An unset port takes the cluster default (the chart's sidecar.port and sidecar.adminPort), else 15080 and 15090; the veltrix.io/proxy-port and veltrix.io/admin-port annotations override them. */
  ports?: VeltrixConfigSpecSidecarPorts;
}

/** Ports the sidecar listens on. An unset port takes the cluster default (the chart's sidecar.port and sidecar.adminPort), else 15080 and 15090; the veltrix.io/proxy-port and veltrix.io/admin-port annotations override them. */
export interface VeltrixConfigSpecSidecarPorts {
  /** Port of the proxy listener that clients reach. When unset, the cluster default (chart sidecar.port), else 15080. */
  proxy?: number;
  /** Port of the admin listener (health, metrics, config API), on localhost. When unset, the cluster default (chart sidecar.adminPort), else 15090. */
  admin?: number;
}

/** Compute resources of the sidecar container. */
export interface VeltrixConfigSpecSidecarResources {
  /** Minimum resources (for example cpu "100m", memory "64Mi"). */
  requests?: Record<string, number | string>;
  /** Maximum resources. */
  limits?: Record<string, number | string>;
}

/** The per-request record store (SQLite on the pod's volume). */
export interface VeltrixConfigSpecStore {
  /** How long per-request records are kept after they finish (Go duration). */
  retention?: string;
  /** Size of the volume holding the store (a quantity, for example "1Gi"). When unset, the cluster default applies (the chart's sidecar.stateVolumeSizeLimit), else 1Gi; the veltrix.io/store-size annotation overrides it. */
  sizeLimit?: string;
  /** The volume the store lives on. */
  volume?: VeltrixConfigSpecStoreVolume;
}

/** The volume the store lives on. */
export interface VeltrixConfigSpecStoreVolume {
  /** emptyDir (node-local, lives as long as the pod) or ephemeral (a generic ephemeral volume claimed from a storage class). */
  kind?: "emptyDir" | "ephemeral";
  /** Storage class of the ephemeral volume claim (cluster default when unset). */
  storageClassName?: string;
}

/** How requests are queued in front of the app. */
export interface VeltrixConfigSpecQueue {
  /** sync: requests wait in the JetStream work queue and the reply goes back to the caller. async: 202 Accepted with a request id, executed at least once, outcome retrievable. direct: no broker in the path, only the per-pod concurrency bound. */
  mode?: "sync" | "async" | "direct";
  /** Requests in flight to the app, per pod. */
  maxConcurrency?: number;
  /** Requests waiting in the queue (the stream's message limit). Past it new requests get the overflow response. */
  maxQueueDepth?: number;
  /** How long a sync request may wait in the queue before it is shed with the overflow response (Go duration, for example "30s"). */
  maxWait?: string;
  /** How long the app may take to answer one request (Go duration). */
  requestTimeout?: string;
  /** Largest request body accepted, in bytes; larger requests get 413. */
  maxBodyBytes?: number;
  /** How many times a queued request is delivered before it is given up (dead-lettered). With retryDelay's default the retries span 15 s, past a typical container restart of the app. */
  maxDeliver?: number;
  /** How long a request waits before it is delivered again after the app could not be reached; doubles with every attempt, up to 1m (Go duration). */
  retryDelay?: string;
  /** The response a client gets when the queue is full or its wait runs out. */
  overflow?: VeltrixConfigSpecQueueOverflow;
  /** What sync and async requests do while NATS is unreachable: fail (overflow response) or direct (bypass the broker, keep only the per-pod bound). */
  onBrokerUnavailable?: "fail" | "direct";
  /** The JetStream work-queue stream that holds queued requests. */
  stream?: VeltrixConfigSpecQueueStream;
  /** What happens to the stream, its consumer and the async outcome bucket when the VeltrixConfig is deleted: Delete removes them, Retain keeps them (and any queued requests and stored outcomes). */
  deletionPolicy?: "Retain" | "Delete";
}

/** The JetStream work-queue stream that holds queued requests. */
export interface VeltrixConfigSpecQueueStream {
  /** Where JetStream keeps the messages. */
  storage?: "file" | "memory";
  /** Stream replicas in a clustered NATS (1, 3 or 5). */
  replicas?: 1 | 3 | 5;
  /** Messages older than this are dropped from the stream (Go duration). */
  maxAge?: string;
}

/** The response a client gets when the queue is full or its wait runs out. */
export interface VeltrixConfigSpecQueueOverflow {
  /** HTTP status of the overflow response. */
  status?: 503 | 429;
  /** Value of the Retry-After header (Go duration, rounded up to seconds). */
  retryAfter?: string;
}

export interface VeltrixConfigSpecOverridesItem {
  /** Unique name of the override (shown in request records). */
  name: string;
  /** When the override applies. Every condition given must hit (AND); at least one is required. */
  match: VeltrixConfigSpecOverridesItemMatch;
  /** Keys added to (or replacing those of) the base config for matching requests. */
  config: Record<string, string>;
}

/** When the override applies. Every condition given must hit (AND); at least one is required. */
export interface VeltrixConfigSpecOverridesItemMatch {
  /** The request path starts with this prefix (for example "/api/v2/"). */
  pathPrefix?: string;
  /** Request headers that must be present with exactly these values. Header names are case-insensitive and written in lowercase here. */
  headers?: Record<string, string>;
}

/** The defaults the API server applies to spec (from the CRD schema). */
export const specDefaults = {
  queue: {
    mode: "sync",
    maxConcurrency: 10,
    maxQueueDepth: 1000,
    maxWait: "30s",
    requestTimeout: "60s",
    maxBodyBytes: 1048576,
    maxDeliver: 5,
    retryDelay: "1s",
    overflow: {
      status: 503,
      retryAfter: "5s",
    },
    onBrokerUnavailable: "fail",
    stream: {
      storage: "file",
      replicas: 1,
      maxAge: "24h",
    },
    deletionPolicy: "Delete",
  },
  store: {
    retention: "1h",
    volume: {
      kind: "emptyDir",
    },
  },
  sidecar: {},
} as const;
