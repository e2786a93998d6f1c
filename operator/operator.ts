// Wires the operator together: informers (VeltrixConfigs, the ConfigMaps we own, pods
// that name a config) whose callbacks only enqueue keys; the VeltrixConfig controller;
// the NATS link, sidecar-status watch and JetStream advisories; leader election that
// starts and stops the controller; and the HTTP endpoints /metrics, /healthz, /readyz.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesListObject,
  type V1ConfigMap,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { group, labels, managedByValue, plural, version } from "../api/contract.ts";
import type { VeltrixConfig } from "../api/types.generated.ts";
import { Controller } from "./runtime/controller.ts";
import { createEventRecorder } from "./runtime/events.ts";
import { type InformerEvent, SupervisedInformer } from "./runtime/informer.ts";
import type { ObservedKubeConfig } from "./runtime/kube-config.ts";
import { LeaderElector } from "./runtime/leader-election.ts";
import type { Logger } from "../lib/log.ts";
import { createMetrics, type OperatorMetrics } from "./runtime/metrics.ts";
import type { NatsClientSettings } from "../lib/nats-auth.ts";
import { NatsLink, type NatsHandles } from "./veltrixconfig/nats-link.ts";
import { SidecarStatusIndex } from "./veltrixconfig/sidecar-status.ts";
import { refOfStream } from "./veltrixconfig/stream.ts";
import { VeltrixConfigReconciler } from "./veltrixconfig/reconciler.ts";

export interface OperatorOptions {
  kc: ObservedKubeConfig;
  natsUrl: string;
  /** NATS credentials and TLS (default: none, plain TCP). */
  natsClient?: NatsClientSettings | undefined;
  log: Logger;
  /** Namespace of the leader Lease. */
  namespace: string;
  leaseName: string;
  identity: string;
  leaderElect: boolean;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  workers: number;
  resyncMs: number;
  statusRefreshMs: number;
  /** Ceiling of the per-key retry backoff. */
  maxBackoffMs: number;
  /** Port of /metrics, /healthz, /readyz (0 picks a free one); undefined serves none. */
  httpPort: number | undefined;
  httpHost: string;
  /** Watch only this namespace (default: all namespaces). */
  watchNamespace?: string | undefined;
  /** Owner of the leader Lease (the operator's Deployment; runtime/owner.ts). */
  ownerReferences?: V1OwnerReference[] | undefined;
  /** Why /readyz answers 503 besides the caches (the webhook's configuration); undefined: ready. */
  notReadyReason?: (() => string | undefined) | undefined;
}

export class Operator {
  readonly metrics: OperatorMetrics;
  private readonly o: OperatorOptions;
  private readonly controller: Controller;
  private readonly nats: NatsLink;
  private readonly elector: LeaderElector | undefined;
  private readonly informers: SupervisedInformer<VeltrixConfig | V1ConfigMap | V1Pod>[] = [];
  private readonly configs: SupervisedInformer<VeltrixConfig>;
  private server: Server | undefined;
  private readonly reconciler: VeltrixConfigReconciler;
  private synced = false;

  constructor(o: OperatorOptions) {
    this.o = o;
    const metrics = (this.metrics = createMetrics());
    o.kc.observer = (verb, resource) => metrics.apiRequests.inc({ verb, resource });
    const custom = o.kc.makeApiClient(CustomObjectsApi);
    const core = o.kc.makeApiClient(CoreV1Api);
    const log = o.log;
    const enqueue = (key: string): void => {
      // KV and advisory events cover every namespace; keep to the one we watch.
      if (o.watchNamespace && !key.startsWith(`${o.watchNamespace}/`)) return;
      this.controller.enqueue(key);
    };

    const informer = <T extends VeltrixConfig | V1ConfigMap | V1Pod>(
      name: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      toKey: (obj: T, event: InformerEvent) => string | undefined,
      labelSelector?: string,
    ): SupervisedInformer<T> => {
      const inf = new SupervisedInformer<T>({
        name,
        kc: o.kc,
        path,
        list,
        ...(labelSelector ? { labelSelector } : {}),
        log,
        resyncMs: o.resyncMs,
        onRestart: () => metrics.informerRestarts.inc({ informer: name }),
        onEvent: (obj, event) => {
          const key = toKey(obj, event);
          if (key) enqueue(key);
        },
      });
      this.informers.push(inf as unknown as SupervisedInformer<VeltrixConfig | V1ConfigMap | V1Pod>);
      return inf;
    };
    const keyOf = (o: { metadata?: { namespace?: string; name?: string } }): string | undefined =>
      o.metadata?.namespace && o.metadata.name ? `${o.metadata.namespace}/${o.metadata.name}` : undefined;
    const ns = o.watchNamespace;
    const base = (prefix: string, resource: string): string =>
      ns ? `${prefix}/namespaces/${ns}/${resource}` : `${prefix}/${resource}`;
    const configKeyOf = (o: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
      const config = o.metadata?.labels?.[labels.config];
      return o.metadata?.namespace && config ? `${o.metadata.namespace}/${config}` : undefined;
    };

    const seen = new Map<string, string>();
    this.configs = informer<VeltrixConfig>(
      "veltrixconfigs",
      base(`/apis/${group}/${version}`, plural),
      () =>
        (ns
          ? custom.listNamespacedCustomObject({ group, version, plural, namespace: ns })
          : custom.listClusterCustomObject({ group, version, plural })) as Promise<
          KubernetesListObject<VeltrixConfig>
        >,
      (v, event) => {
        // Our own status writes come back as updates; they need no reconcile (half the
        // reconciles at scale), nor does our finalizer being added. Spec (generation) and
        // deletion changes do; the periodic refresh catches anything else.
        const key = keyOf(v);
        if (!key) return undefined;
        if (event === "delete") {
          seen.delete(key);
          return key;
        }
        const m = v.metadata;
        const signature = `${m?.uid}|${m?.generation}|${m?.deletionTimestamp ? "deleting" : ""}`;
        if (event === "update" && seen.get(key) === signature) return undefined;
        seen.set(key, signature);
        return key;
      },
    );
    const managed = `${labels.managedBy}=${managedByValue}`;
    const configMaps = informer<V1ConfigMap>(
      "configmaps",
      base("/api/v1", "configmaps"),
      () =>
        ns
          ? core.listNamespacedConfigMap({ namespace: ns, labelSelector: managed })
          : core.listConfigMapForAllNamespaces({ labelSelector: managed }),
      // Adds are our own creates (or the initial list, which the VeltrixConfig list
      // covers); changes and deletions by someone else bring a reconcile.
      (cm, event) => (event === "add" ? undefined : configKeyOf(cm)),
      managed,
    );
    const pods = informer<V1Pod>(
      "pods",
      base("/api/v1", "pods"),
      () =>
        ns
          ? core.listNamespacedPod({ namespace: ns, labelSelector: labels.config })
          : core.listPodForAllNamespaces({ labelSelector: labels.config }),
      configKeyOf,
      labels.config,
    );

    const sidecars = new SidecarStatusIndex();
    // The connection the sidecar-status watch and advisories run on: a new one (after NATS
    // closed the old, e.g. on rejected credentials) needs them again.
    let followed: NatsHandles["nc"] | undefined;
    this.nats = new NatsLink({
      servers: o.natsUrl,
      ...(o.natsClient && { client: o.natsClient }),
      log,
      onUp: (h) => {
        // NATS came (back): look at every config now instead of waiting for backoff.
        this.configs.resync();
        if (followed === h.nc) return;
        followed = h.nc;
        void sidecars
          .follow(h.sidecarKv, log, enqueue)
          .catch((err: unknown) => log.warn("sidecar status watch ended", { err }));
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

    const reconciler = (this.reconciler = new VeltrixConfigReconciler({
      custom,
      core,
      configs: this.configs,
      configMaps,
      pods,
      sidecars,
      nats: this.nats,
      events: createEventRecorder(core, "veltrix-operator", log),
      statusRefreshMs: o.statusRefreshMs,
    }));
    this.controller = new Controller({
      name: "veltrixconfig",
      reconcile: reconciler.reconcile,
      log,
      workers: o.workers,
      metrics,
      backoff: { baseDelayMs: 200, maxDelayMs: o.maxBackoffMs, qps: 50, burst: 200 },
    });

    if (o.leaderElect) {
      this.elector = new LeaderElector({
        api: o.kc.makeApiClient(CoordinationV1Api),
        namespace: o.namespace,
        name: o.leaseName,
        identity: o.identity,
        leaseDurationMs: o.leaseDurationMs,
        renewDeadlineMs: o.renewDeadlineMs,
        retryPeriodMs: o.retryPeriodMs,
        ownerReferences: o.ownerReferences ?? [],
        log,
        onStartedLeading: () => this.lead(),
        onStoppedLeading: () => this.follow(),
      });
    }
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.controller.isRunning;
  }

  get httpAddress(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  /** Runs one reconcile of `key` now, outside the queue (tests: "reconcile twice changes nothing"). */
  async reconcileOnce(key: string): Promise<void> {
    await this.reconciler.reconcile(key, {
      reconcileId: "manual",
      log: this.o.log.child({ key, reconcileId: "manual" }),
      signal: new AbortController().signal,
    });
  }

  private lead(): void {
    this.metrics.leader.set(1);
    this.controller.start();
    this.configs.resync(); // level-based: look at everything on taking over
  }

  private follow(): void {
    this.metrics.leader.set(0);
    void this.controller.stop();
  }

  async start(): Promise<void> {
    if (this.o.httpPort !== undefined) await this.serve(this.o.httpPort);
    this.nats.start();
    await Promise.all(this.informers.map((i) => i.start()));
    this.synced = true;
    this.o.log.info("caches synced", { informers: this.informers.length });
    if (this.elector) this.elector.start();
    else this.lead();
  }

  async stop(): Promise<void> {
    await this.elector?.stop();
    await this.controller.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.nats.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async serve(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (path === "/readyz") {
        // Ready once the caches are synced and the webhook can be called; leadership does not
        // matter (every replica serves the webhook).
        const reason = this.synced ? this.o.notReadyReason?.() : "caches not synced";
        res.writeHead(reason ? 503 : 200, { "content-type": "text/plain" }).end(`${reason ?? "ok"}\n`);
      } else if (path === "/metrics") {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": this.metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.o.httpHost, () => resolve());
    });
    this.server = server;
  }
}
