// The operator process: the generic manager (operator/runtime/manager.ts: informers,
// leader election, HTTP endpoints) with the VeltrixConfig controller added to it
// (operator/veltrixconfig/controller.ts).
import type { AddressInfo } from "node:net";
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { Logger } from "../lib/log.ts";
import type { NatsClientSettings } from "../lib/nats-auth.ts";
import type { ObservedKubeConfig } from "./runtime/kube-config.ts";
import { Manager } from "./runtime/manager.ts";
import { createMetrics, type OperatorMetrics } from "./runtime/metrics.ts";
import type { NatsUserMinting } from "./nats-identity/mint.ts";
import { addVeltrixConfigController } from "./veltrixconfig/controller.ts";
import type { VeltrixConfigReconciler } from "./veltrixconfig/reconciler.ts";

export interface OperatorOptions {
  kc: ObservedKubeConfig;
  natsUrl: string;
  /** NATS credentials and TLS (default: none, plain TCP). */
  natsClient?: NatsClientSettings | undefined;
  /** Mint each config's sidecar NATS user into a Secret; undefined: sidecars bring their own. */
  natsUsers?: NatsUserMinting | undefined;
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

/** The operator process: a manager with the VeltrixConfig controller on it. */
export class Operator {
  readonly metrics: OperatorMetrics;
  private readonly o: OperatorOptions;
  private readonly manager: Manager;
  private readonly reconciler: VeltrixConfigReconciler;

  constructor(o: OperatorOptions) {
    this.o = o;
    const metrics = (this.metrics = createMetrics());
    o.kc.observer = (verb, resource) => metrics.apiRequests.inc({ verb, resource });
    this.manager = new Manager({
      kc: o.kc,
      log: o.log,
      metrics,
      resyncMs: o.resyncMs,
      lease: o.leaderElect
        ? {
            namespace: o.namespace,
            name: o.leaseName,
            identity: o.identity,
            leaseDurationMs: o.leaseDurationMs,
            renewDeadlineMs: o.renewDeadlineMs,
            retryPeriodMs: o.retryPeriodMs,
            ownerReferences: o.ownerReferences,
          }
        : undefined,
      http: o.httpPort === undefined ? undefined : { port: o.httpPort, host: o.httpHost },
      notReadyReason: o.notReadyReason,
    });
    this.reconciler = addVeltrixConfigController(this.manager, {
      kc: o.kc,
      log: o.log,
      metrics,
      natsUrl: o.natsUrl,
      natsClient: o.natsClient,
      workers: o.workers,
      statusRefreshMs: o.statusRefreshMs,
      maxBackoffMs: o.maxBackoffMs,
      watchNamespace: o.watchNamespace,
      natsUsers: o.natsUsers,
    });
  }

  get isLeader(): boolean {
    return this.manager.isLeader;
  }

  get httpAddress(): AddressInfo | undefined {
    return this.manager.httpAddress;
  }

  /** Runs one reconcile of `key` now, outside the queue (tests: "reconcile twice changes nothing"). */
  async reconcileOnce(key: string): Promise<void> {
    await this.reconciler.reconcile(key, {
      reconcileId: "manual",
      log: this.o.log.child({ key, reconcileId: "manual" }),
      signal: new AbortController().signal,
    });
  }

  start(): Promise<void> {
    return this.manager.start();
  }

  stop(): Promise<void> {
    return this.manager.stop();
  }
}
