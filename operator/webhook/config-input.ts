// What planInjection needs from a VeltrixConfig and from the operator's options.
// Kept small and local so the pure core does not depend on the whole CRD type;
// `injectionConfigFrom` adapts a VeltrixConfig object read from the API.

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface InjectionConfig {
  /** metadata.name of the VeltrixConfig. */
  name: string;
  /** The config revision stamped on the pod (status.revision, else the generation). */
  revision: string;
  sidecar: {
    image: string;
    imagePullPolicy?: string;
    resources?: ResourceRequirements;
    ports?: { proxy?: number; admin?: number };
  };
  store: {
    sizeLimit?: string;
    volume?: { kind: "emptyDir" | "ephemeral"; storageClassName?: string };
  };
  /**
   * The config's Ready condition when it is False (the operator could not set up its queue,
   * e.g. NATS unreachable): the pod is still injected, with a warning naming the reason.
   */
  notReady?: { reason: string; message: string };
}

export interface InjectionOptions {
  /** The API server runs sidecars as restartable init containers (Kubernetes ≥ 1.29). */
  nativeSidecars: boolean;
  /** The API server accepts `lifecycle.preStop.sleep` (Kubernetes ≥ 1.30). */
  preStopSleep: boolean;
  nats: {
    url: string;
    /**
     * Secret in the pod's namespace with the NATS credentials: without `key`, mounted whole
     * as a directory holding `creds` (a .creds file), or `user` and `password`, or `token`;
     * with `key`, that key is a .creds file and only it is mounted.
     */
    credentialsSecret?: { name: string; key?: string };
    /**
     * The operator mints each VeltrixConfig's NATS user (operator/nats-identity): mount the
     * Secret natsCredentialsSecretName(config) of the pod's config, whatever credentialsSecret says.
     */
    mintedCredentials?: boolean;
    /**
     * NATS requires TLS. The CA (`ca.crt`, and for mutual TLS `tls.crt` and `tls.key`)
     * comes from a Secret or, CA only, a ConfigMap in the pod's namespace (the Secret wins
     * when both are named); neither means the system trust store.
     */
    tls?: { secretName?: string; configMapName?: string; serverName?: string };
  };
}

/** Kubernetes versions from which the features above are on by default. */
export function injectionFeaturesFor(
  gitVersion: string,
): Pick<InjectionOptions, "nativeSidecars" | "preStopSleep"> {
  const m = /^v?(\d+)\.(\d+)/.exec(gitVersion);
  const minor = m && m[1] === "1" ? Number(m[2]) : m ? 1000 : 0;
  return { nativeSidecars: minor >= 29, preStopSleep: minor >= 30 };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function stringMap(v: unknown): Record<string, string> | undefined {
  const r = record(v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(r))
    if (typeof val === "string" || typeof val === "number") out[k] = String(val);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Cluster-wide sidecar defaults (the chart's sidecar-defaults ConfigMap). Layers, lowest
 * first: built-in defaults (annotations.ts) → these → the VeltrixConfig → namespace
 * annotations → pod annotations. The CRD defaults none of ports and store size, so an
 * unset field in the VeltrixConfig leaves these in force.
 */
export interface ClusterDefaults {
  image: string;
  imagePullPolicy?: string;
  resources?: ResourceRequirements;
  ports?: { proxy?: number; admin?: number };
  /** Size of the state volume (a quantity). */
  storeSize?: string;
}

/** Reads the fields the injector needs from a VeltrixConfig as returned by the API. */
export function injectionConfigFrom(object: unknown, defaults: ClusterDefaults): InjectionConfig {
  const o = record(object);
  const meta = record(o["metadata"]);
  const spec = record(o["spec"]);
  const status = record(o["status"]);
  const sidecar = record(spec["sidecar"]);
  const store = record(spec["store"]);
  const volume = record(store["volume"]);
  const ports = record(sidecar["ports"]);
  const resources = record(sidecar["resources"]);

  const config: InjectionConfig = {
    name: typeof meta["name"] === "string" ? meta["name"] : "",
    revision:
      typeof status["revision"] === "string"
        ? status["revision"]
        : typeof meta["generation"] === "number"
          ? `generation-${meta["generation"]}`
          : "unknown",
    sidecar: {
      image: typeof sidecar["image"] === "string" ? sidecar["image"] : defaults.image,
      ...(defaults.imagePullPolicy !== undefined && { imagePullPolicy: defaults.imagePullPolicy }),
    },
    store: {},
  };
  const requests = stringMap(resources["requests"]);
  const limits = stringMap(resources["limits"]);
  if (requests || limits)
    config.sidecar.resources = { ...(requests && { requests }), ...(limits && { limits }) };
  else if (defaults.resources) config.sidecar.resources = defaults.resources;
  // Per field: the VeltrixConfig's value, else the cluster default, else (in planInjection) built-in.
  const proxy = typeof ports["proxy"] === "number" ? ports["proxy"] : defaults.ports?.proxy;
  const admin = typeof ports["admin"] === "number" ? ports["admin"] : defaults.ports?.admin;
  if (proxy !== undefined || admin !== undefined) {
    config.sidecar.ports = {
      ...(proxy !== undefined && { proxy }),
      ...(admin !== undefined && { admin }),
    };
  }
  const sizeLimit = typeof store["sizeLimit"] === "string" ? store["sizeLimit"] : defaults.storeSize;
  if (sizeLimit !== undefined) config.store.sizeLimit = sizeLimit;
  if (volume["kind"] === "emptyDir" || volume["kind"] === "ephemeral") {
    config.store.volume = {
      kind: volume["kind"],
      ...(typeof volume["storageClassName"] === "string" && { storageClassName: volume["storageClassName"] }),
    };
  }
  const conditions = Array.isArray(status["conditions"]) ? status["conditions"].map(record) : [];
  const ready = conditions.find((c) => c["type"] === "Ready");
  if (ready?.["status"] === "False") {
    config.notReady = {
      reason: typeof ready["reason"] === "string" ? ready["reason"] : "",
      message: typeof ready["message"] === "string" ? ready["message"] : "",
    };
  }
  return config;
}
