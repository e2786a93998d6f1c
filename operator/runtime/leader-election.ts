// Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
// acquire when the Lease is free or its holder has not renewed within leaseDuration
// (timed by our own clock from when we last saw the record change, so clock skew
// between replicas does not matter), renew every retryPeriod, and give up leadership
// at once when a renewal is refused (someone else holds it) or renewals keep failing
// for renewDeadline. Updates carry resourceVersion, so two candidates cannot both win.
import type { V1Lease, V1MicroTime, V1OwnerReference } from "@kubernetes/client-node";
import type { Logger } from "../../lib/log.ts";

export interface LeaderElectionOptions {
  /** operator/runtime/kube-api.ts's CoordinationV1Api (client-node's fits too). */
  api: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Set on the Lease (the operator's Deployment, so it goes with it; runtime/owner.ts). */
  ownerReferences?: V1OwnerReference[];
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** The Lease calls the elector makes. */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(p: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(p: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

/** A MicroTime as the API server wants it: RFC 3339 with six fractional digits. */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  }
}

function microTime(d: Date): V1MicroTime {
  return new MicroTime(d.getTime());
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, "log">> & { log: Logger };
  private leading = false;
  private stopped = false;
  private observed: { holder: string; renew: string; at: number } | undefined;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: () => void = () => undefined;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(opts: LeaderElectionOptions) {
    this.o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ownerReferences: [],
      ...opts,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.loopDone = this.loop();
  }

  /** Stops campaigning; a leader releases the Lease so another replica takes over fast. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake(); // the loop may be sleeping between attempts
    await this.loopDone;
    if (this.leading) {
      this.lose("shutting down");
      await this.release().catch((err: unknown) => this.o.log.warn("could not release lease", { err }));
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.tryOnce();
      if (this.stopped) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.o.retryPeriodMs);
      });
    }
  }

  private async tryOnce(): Promise<void> {
    const { api, namespace, name, identity } = this.o;
    const now = Date.now();
    try {
      let lease: V1Lease | undefined;
      try {
        lease = await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      if (!lease) {
        await api.createNamespacedLease({ namespace, body: this.leaseBody(undefined, 0) });
        this.renewed(now, true);
        return;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const renew = spec.renewTime ? new Date(spec.renewTime).toISOString() : "";
      if (!this.observed || this.observed.holder !== holder || this.observed.renew !== renew) {
        this.observed = { holder, renew, at: now };
      }
      const durationMs = (spec.leaseDurationSeconds ?? this.o.leaseDurationMs / 1000) * 1000;
      const expired = this.observed.at + durationMs < now;
      if (holder !== identity && holder !== "" && !expired) {
        if (this.leading) this.lose(`lease held by ${holder}`);
        return;
      }
      const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
      await api.replaceNamespacedLease({ name, namespace, body: this.leaseBody(lease, transitions) });
      this.renewed(now, holder !== identity);
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (this.leading && (code === 409 || now - this.lastRenew > this.o.renewDeadlineMs)) {
        this.lose(code === 409 ? "lease taken by another replica" : "could not renew within renewDeadline");
      }
      this.o.log.debug("lease attempt failed", { err, code });
    }
  }

  private leaseBody(old: V1Lease | undefined, transitions: number): V1Lease {
    const now = new Date();
    const acquire = old?.spec?.holderIdentity === this.o.identity ? old.spec.acquireTime : microTime(now);
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.o.name,
        namespace: this.o.namespace,
        ...(this.o.ownerReferences.length > 0 ? { ownerReferences: this.o.ownerReferences } : {}),
        ...(old?.metadata?.resourceVersion ? { resourceVersion: old.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
        ...(acquire ? { acquireTime: acquire } : {}),
        renewTime: microTime(now),
        leaseTransitions: transitions,
      },
    };
  }

  private renewed(at: number, acquired: boolean): void {
    this.lastRenew = at;
    if (this.leading) return;
    this.leading = true;
    this.o.log.info("became leader", {
      identity: this.o.identity,
      lease: `${this.o.namespace}/${this.o.name}`,
      acquired,
    });
    this.o.onStartedLeading();
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log.warn("lost leadership", { identity: this.o.identity, why });
    this.o.onStoppedLeading();
  }

  private async release(): Promise<void> {
    const { api, namespace, name, identity } = this.o;
    const lease = await api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await api.replaceNamespacedLease({
      name,
      namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } },
    });
  }
}
