// The VeltrixConfig controller on a manager (operator/runtime/manager.ts): what it
// watches (VeltrixConfigs, the ConfigMaps it owns, pods that name a config, sidecar
// status reports and JetStream advisories on NATS), how each event maps to a config's
// key, and the reconciler those keys run through.
import type { KubernetesListObject, V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { Gauge } from "prom-client";
import { group, labels, managedByValue, plural, version } from "../../api/contract.ts";
import type { VeltrixConfig } from "../../api/types.generated.ts";
import type { Logger } from "../../lib/log.ts";
import type { NatsClientSettings } from "../../lib/nats-auth.ts";
import { Controller } from "../runtime/controller.ts";
import { CoreV1Api, CustomObjectsApi } from "../runtime/kube-api.ts";
import { createEventRecorder } from "../runtime/events.ts";
import { keepOnly } from "../runtime/informer.ts";
import type { ObservedKubeConfig } from "../runtime/kube-config.ts";
import type { Manager } from "../runtime/manager.ts";
import type { OperatorMetrics } from "../runtime/metrics.ts";
import { type NatsHandles, NatsLink } from "./nats-link.ts";
import { VeltrixConfigReconciler } from "./reconciler.ts";
import { SidecarCredentials } from "../nats-identity/credentials.ts";
import type { NatsUserMinting } from "../nats-identity/mint.ts";
import { UserRevocations } from "../nats-identity/revocation.ts";
import { SidecarStatusIndex } from "./sidecar-status.ts";
import { refOfStream } from "./stream.ts";

export interface VeltrixConfigControllerOptions {
  kc: ObservedKubeConfig;
  log: Logger;
  metrics: OperatorMetrics;
  natsUrl: string;
  natsClient?: NatsClientSettings | undefined;
  workers: number;
  statusRefreshMs: number;
  /** Ceiling of the per-key retry backoff. */
  maxBackoffMs: number;
  /** Watch only this namespace (default: all namespaces). */
  watchNamespace?: string | undefined;
  /** Mint each config's sidecar NATS user (operator/nats-identity); undefined: bring your own. */
  natsUsers?: NatsUserMinting | undefined;
}

type Meta = { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> } };

/** What the caches keep of ConfigMaps and pods: what the reconciler and the key functions read. */
const identity = ["name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp"] as const;

const keyOf = (o: Meta): string | undefined =>
  o.metadata?.namespace && o.metadata.name ? `${o.metadata.namespace}/${o.metadata.name}` : undefined;

/** The key of the config a labelled object (a pod, our ConfigMap) belongs to. */
const configKeyOf = (o: Meta): string | undefined => {
  const config = o.metadata?.labels?.[labels.config];
  return o.metadata?.namespace && config ? `${o.metadata.namespace}/${config}` : undefined;
};

/** Adds the VeltrixConfig controller and what it watches to `manager`; returns its reconciler. */
export function addVeltrixConfigController(
  manager: Manager,
  o: VeltrixConfigControllerOptions,
): VeltrixConfigReconciler {
  const custom = o.kc.makeApiClient(CustomObjectsApi);
  const core = o.kc.makeApiClient(CoreV1Api);
  const ns = o.watchNamespace;
  const base = (prefix: string, resource: string): string =>
    ns ? `${prefix}/namespaces/${ns}/${resource}` : `${prefix}/${resource}`;
  const controller = new Controller({
    name: "veltrixconfig",
    // The reconciler needs the caches made below; keys run only after the manager started.
    reconcile: (key, ctx) => reconciler.reconcile(key, ctx),
    log: o.log,
    workers: o.workers,
    metrics: o.metrics,
    backoff: { baseDelayMs: 200, maxDelayMs: o.maxBackoffMs, qps: 50, burst: 200 },
  });
  const enqueue = (key: string): void => {
    // KV and advisory events cover every namespace; keep to the one we watch.
    if (ns && !key.startsWith(`${ns}/`)) return;
    controller.enqueue(key);
  };

  const seen = new Map<string, string>();
  const configs = manager.informer<VeltrixConfig>({
    name: "veltrixconfigs",
    path: base(`/apis/${group}/${version}`, plural),
    list: () =>
      (ns
        ? custom.listNamespacedCustomObject({ group, version, plural, namespace: ns })
        : custom.listClusterCustomObject({ group, version, plural })) as Promise<
        KubernetesListObject<VeltrixConfig>
      >,
    onEvent: (v, event) => {
      // Our own status writes come back as updates; they need no reconcile (half the
      // reconciles at scale), nor does our finalizer being added. Spec (generation) and
      // deletion changes do; the periodic refresh catches anything else.
      const key = keyOf(v);
      if (!key) return;
      if (event === "delete") {
        seen.delete(key);
        return enqueue(key);
      }
      const m = v.metadata;
      const signature = `${m?.uid}|${m?.generation}|${m?.deletionTimestamp ? "deleting" : ""}`;
      if (event === "update" && seen.get(key) === signature) return;
      seen.set(key, signature);
      enqueue(key);
    },
  });
  const managed = `${labels.managedBy}=${managedByValue}`;
  const configMaps = manager.informer<V1ConfigMap>({
    name: "configmaps",
    path: base("/api/v1", "configmaps"),
    list: () =>
      ns
        ? core.listNamespacedConfigMap({ namespace: ns, labelSelector: managed })
        : core.listConfigMapForAllNamespaces({ labelSelector: managed }),
    labelSelector: managed,
    transform: keepOnly<V1ConfigMap>(identity, ["data"]),
    // Adds are our own creates (or the initial list, which the VeltrixConfig list
    // covers); changes and deletions by someone else bring a reconcile.
    onEvent: (cm, event) => {
      const key = event === "add" ? undefined : configKeyOf(cm);
      if (key) enqueue(key);
    },
  });
  const pods = manager.informer<V1Pod>({
    name: "pods",
    path: base("/api/v1", "pods"),
    list: () =>
      ns
        ? core.listNamespacedPod({ namespace: ns, labelSelector: labels.config })
        : core.listPodForAllNamespaces({ labelSelector: labels.config }),
    labelSelector: labels.config,
    // A pod is counted by its labels, its deletion and its Ready condition (sidecar-status.ts,
    // podsInSync); the rest of its spec and status is most of its size.
    transform: (pod) => {
      const kept = keepOnly<V1Pod>(identity)(pod);
      const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
      return ready ? { ...kept, status: { conditions: [{ type: "Ready", status: ready.status }] } } : kept;
    },
    onEvent: (pod) => {
      const key = configKeyOf(pod);
      if (key) enqueue(key);
    },
  });

  const minting = o.natsUsers;
  const revocations =
    minting?.revocation &&
    new UserRevocations({
      authority: minting.revocation,
      servers: o.natsUrl,
      validityMs: minting.validityMs,
    });
  const sidecars = new SidecarStatusIndex();
  // The connection the sidecar-status watch and advisories run on: a new one (after NATS
  // closed the old) needs them again.
  let followed: NatsHandles["nc"] | undefined;
  const nats = new NatsLink({
    servers: o.natsUrl,
    ...(o.natsClient && { client: o.natsClient }),
    log: o.log,
    onUp: (h) => {
      // NATS came (back): look at every config now instead of waiting for backoff.
      configs.resync();
      // A restarted nats-server is back at its preloaded account JWT: revoke again.
      revocations?.push(h.nc).then(
        (n) => o.log.info("revoked NATS users pushed", { account: revocations.account, revoked: n }),
        (err: unknown) => o.log.warn("could not push revoked NATS users", { err }),
      );
      if (followed === h.nc) return;
      followed = h.nc;
      void sidecars
        .follow(h.sidecarKv, o.log, enqueue)
        .catch((err: unknown) => o.log.warn("sidecar status watch ended", { err }));
      // A stream or consumer deleted behind our back: reconcile its config at once.
      h.nc.subscribe("$JS.EVENT.ADVISORY.STREAM.DELETED.>", {
        callback: (_e, m) => {
          const ref = refOfStream(m.subject.split(".").pop() ?? "");
          if (ref) enqueue(`${ref.namespace}/${ref.name}`);
        },
      });
      h.nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.DELETED.>", {
        callback: (_e, m) => {
          const ref = refOfStream(m.subject.split(".").at(-2) ?? "");
          if (ref) enqueue(`${ref.namespace}/${ref.name}`);
        },
      });
    },
  });
  manager.addRunnable({ start: () => nats.start(), stop: () => nats.close() });
  // Every replica's own connection, read at each scrape. /readyz does not depend on NATS (the
  // webhook must not refuse pods during a NATS outage: docs/operator.md, "Readiness while NATS
  // is unreachable"), so an outage shows here, in each config's Ready condition and in the
  // webhook's warning on the pods it injects meanwhile.
  new Gauge({
    name: "veltrix_operator_nats_connected",
    help: "1 while this replica's NATS connection is usable, 0 while NATS is unreachable or refuses it.",
    registers: [o.metrics.registry],
    collect() {
      this.set(nats.isConnected ? 1 : 0);
    },
  });

  const reconciler = new VeltrixConfigReconciler({
    custom,
    core,
    configs,
    configMaps,
    pods,
    sidecars,
    nats,
    events: createEventRecorder(core, "veltrix-operator", o.log),
    credentials:
      minting && new SidecarCredentials({ core, signer: minting.signer, validityMs: minting.validityMs }),
    revocations,
    statusRefreshMs: o.statusRefreshMs,
  });
  // Level-based: look at everything on taking over.
  manager.addController(controller, () => configs.resync());
  return reconciler;
}
