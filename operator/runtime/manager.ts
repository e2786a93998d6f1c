// The generic part of an operator process, as controller-runtime's manager: informers
// whose callbacks only enqueue keys, controllers that run only while this replica leads
// (or always, without leader election), other runnables (a NATS connection) started
// before the caches and stopped after them, and the HTTP endpoints /metrics, /healthz
// and /readyz. Knows nothing of VeltrixConfig.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubernetesObject, V1OwnerReference } from "@kubernetes/client-node";
import type { Logger } from "../../lib/log.ts";
import type { Controller } from "./controller.ts";
import { createServer } from "./http.ts";
import { CoordinationV1Api } from "./kube-api.ts";
import { type InformerOptions, SupervisedInformer } from "./informer.ts";
import type { ObservedKubeConfig } from "./kube-config.ts";
import { LeaderElector } from "./leader-election.ts";
import type { OperatorMetrics } from "./metrics.ts";

export interface LeaseSettings {
  /** Namespace of the Lease. */
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Owner of the Lease (the operator's Deployment, so it goes with it). */
  ownerReferences?: V1OwnerReference[] | undefined;
}

export interface ManagerOptions {
  kc: ObservedKubeConfig;
  log: Logger;
  metrics: OperatorMetrics;
  /** Period of every informer's resync. */
  resyncMs: number;
  /** Elect a leader over this Lease; undefined: this replica leads at once. */
  lease: LeaseSettings | undefined;
  /** Serve /metrics, /healthz, /readyz here (port 0 picks a free one); undefined serves none. */
  http: { port: number; host: string } | undefined;
  /** Why /readyz answers 503 besides the caches; undefined: ready. */
  notReadyReason?: (() => string | undefined) | undefined;
}

/** Something the manager starts before the caches and stops after them. */
export interface Runnable {
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

interface Led {
  controller: Controller;
  /** Runs each time this replica starts leading (after the controller started). */
  onLead: (() => void) | undefined;
}

export class Manager {
  private readonly o: ManagerOptions;
  private readonly informers: { start(): Promise<void>; stop(): Promise<void> }[] = [];
  private readonly controllers: Led[] = [];
  private readonly runnables: Runnable[] = [];
  private readonly elector: LeaderElector | undefined;
  private server: Server | undefined;
  private synced = false;

  constructor(o: ManagerOptions) {
    this.o = o;
    const lease = o.lease;
    if (lease) {
      this.elector = new LeaderElector({
        api: new CoordinationV1Api(o.kc),
        ...lease,
        ownerReferences: lease.ownerReferences ?? [],
        log: o.log,
        onStartedLeading: () => this.lead(),
        onStoppedLeading: () => this.follow(),
      });
    }
  }

  /** A supervised list+watch, started with the others and counted in the metrics. */
  informer<T extends KubernetesObject>(
    spec: Omit<InformerOptions<T>, "kc" | "log" | "resyncMs" | "onRestart">,
  ): SupervisedInformer<T> {
    const inf = new SupervisedInformer<T>({
      ...spec,
      kc: this.o.kc,
      log: this.o.log,
      resyncMs: this.o.resyncMs,
      onRestart: () => this.o.metrics.informerRestarts.inc({ informer: spec.name }),
    });
    this.informers.push(inf);
    return inf;
  }

  addController(controller: Controller, onLead?: () => void): void {
    this.controllers.push({ controller, onLead });
  }

  addRunnable(r: Runnable): void {
    this.runnables.push(r);
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.controllers.some((c) => c.controller.isRunning);
  }

  get httpAddress(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  async start(): Promise<void> {
    if (this.o.http) await this.serve(this.o.http.port, this.o.http.host);
    for (const r of this.runnables) await r.start();
    await Promise.all(this.informers.map((i) => i.start()));
    this.synced = true;
    this.o.log.info("caches synced", { informers: this.informers.length });
    if (this.elector) this.elector.start();
    else this.lead();
  }

  async stop(): Promise<void> {
    await this.elector?.stop();
    await Promise.all(this.controllers.map((c) => c.controller.stop()));
    await Promise.all(this.informers.map((i) => i.stop()));
    for (const r of this.runnables) await r.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private lead(): void {
    this.o.metrics.leader.set(1);
    for (const c of this.controllers) {
      c.controller.start();
      c.onLead?.();
    }
  }

  private follow(): void {
    this.o.metrics.leader.set(0);
    for (const c of this.controllers) void c.controller.stop();
  }

  private async serve(port: number, host: string): Promise<void> {
    const metrics = this.o.metrics;
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
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }
}
