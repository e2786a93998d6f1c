// Config delivery over NATS KV: watch this config's key in the operator's bucket
// (current value first, then updates; the watcher is recreated if it ends, e.g. after
// a reconnect), persist each revision to disk, then switch atomically. Requests in
// flight keep the revision they were admitted with (their resolved config is on disk
// under its own key). Also reports the applied revision in the sidecar status bucket
// so the operator can count pods in sync (api/contract.ts).
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Metrics } from "../metrics.ts";
import { Broker } from "../nats/broker.ts";
import type { SidecarOptions } from "../options.ts";
import type { Attachment } from "../attachment.ts";
import type { ConfigSnapshots } from "../state/config-snapshots.ts";
import type { CurrentConfig } from "./current-config.ts";
import { contract, toConfigDocument, type ConfigDocument } from "./settings.ts";
import { logger } from "../log.ts";

const log = logger("config");

export interface DeliveryDeps {
  broker: Broker;
  config: CurrentConfig;
  snapshots: ConfigSnapshots;
  metrics: Metrics;
  pod: string;
  /** Report the applied revision (one worker per pod does). */
  report: boolean;
}

export class ConfigDelivery implements Attachment {
  private readonly d: DeliveryDeps;
  private stopped = false;
  private watching = false;
  private lastLiveAt = Date.now();
  private statusKv: KV | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private stop: (() => void) | undefined;
  private readonly ref: contract.ConfigRef;

  constructor(d: DeliveryDeps) {
    this.d = d;
    const doc = d.config.current.doc;
    this.ref = { namespace: doc.namespace, name: doc.name };
    d.config.onChange(() => void this.report());
    const staleness = setInterval(() => {
      if (this.watching && d.broker.available) this.lastLiveAt = Date.now();
      d.metrics.configStaleness.set((Date.now() - this.lastLiveAt) / 1000);
    }, 1_000);
    staleness.unref();
    void this.run();
  }

  /** Config delivery never blocks readiness: the sidecar serves the revision it has. */
  get ready(): boolean {
    return true;
  }

  get notReadyReason(): string {
    return "";
  }

  detail(): Record<string, unknown> {
    return {
      configSource: this.watching && this.d.broker.available ? "nats-kv" : "disk",
      configStalenessSeconds: Math.round((Date.now() - this.lastLiveAt) / 1000),
    };
  }

  private async run(): Promise<void> {
    const nc = await this.d.broker.ready();
    while (!this.stopped) {
      try {
        const kv = await openOrCreate(nc, contract.configBucket, { history: 5 });
        if (this.d.report && !this.statusKv) {
          this.statusKv = await openOrCreate(nc, contract.sidecarStatusBucket, {
            history: 1,
            ttl: contract.sidecarStatusTtlMs,
          });
          await this.report();
          this.reportTimer = setInterval(() => void this.report(), contract.sidecarStatusTtlMs / 3);
          this.reportTimer.unref();
        }
        const watch = await kv.watch({ key: contract.configKey(this.ref) });
        this.stop = () => watch.stop();
        this.watching = true;
        for await (const e of watch) {
          if (e.operation !== "PUT") continue;
          await this.apply(e.json<unknown>());
        }
      } catch (err) {
        if (!this.stopped) log.error("watch failed", { err });
      }
      this.watching = false;
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  private async apply(value: unknown): Promise<void> {
    let doc: ConfigDocument;
    try {
      doc = toConfigDocument(value, this.ref.namespace, "nats kv");
    } catch (err) {
      log.error("ignoring an invalid revision", { err });
      return;
    }
    if (doc.revision === this.d.config.current.doc.revision) return;
    // Disk first: a crash right after the switch boots with this revision.
    await this.d.snapshots.save({ revision: doc.revision, spec: doc, appliedAt: Date.now() });
    this.d.config.apply(doc);
    log.info("applied revision", { revision: doc.revision });
  }

  private async report(): Promise<void> {
    if (!this.statusKv) return;
    const status: contract.SidecarStatus = {
      revision: this.d.config.current.doc.revision,
      pod: this.d.pod,
      at: new Date().toISOString(),
    };
    await this.statusKv
      .put(contract.sidecarStatusKey(this.ref, this.d.pod), JSON.stringify(status))
      .catch((err: unknown) => log.error("status report failed", { err }));
  }

  drain(): Promise<void> {
    this.stopped = true;
    this.stop?.();
    clearInterval(this.reportTimer);
    return Promise.resolve();
  }
}

async function openOrCreate(
  nc: NatsConnection,
  bucket: string,
  opts: { history: number; ttl?: number },
): Promise<KV> {
  // create() is idempotent for a bucket the operator made with the same settings;
  // if its settings differ, bind to it as it is.
  const kvm = new Kvm(nc);
  try {
    return await kvm.create(bucket, opts);
  } catch {
    return kvm.open(bucket);
  }
}

/** Boot without any config on disk or file: waits until the operator's KV entry exists. */
export async function firstRevisionFromKv(
  opts: Pick<SidecarOptions, "natsUrl" | "natsClient" | "namespace" | "pod">,
  ref: contract.ConfigRef,
): Promise<ConfigDocument> {
  const broker = new Broker(
    opts.natsUrl ?? "",
    `veltrix-sidecar ${opts.pod}/boot`,
    opts.natsClient,
    contract.inboxPrefix(ref),
  );
  const nc = await broker.ready();
  try {
    for (;;) {
      try {
        const kv = await openOrCreate(nc, contract.configBucket, { history: 5 });
        const e = await kv.get(contract.configKey(ref));
        if (e?.operation === "PUT") return toConfigDocument(e.json<unknown>(), ref.namespace, "nats kv");
        log.info("waiting for the config", { bucket: contract.configBucket, key: contract.configKey(ref) });
      } catch (err) {
        log.error("boot fetch failed", { err });
      }
      await new Promise((r) => setTimeout(r, 2_000));
    }
  } finally {
    await broker.close();
  }
}
