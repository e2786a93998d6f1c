// Wires one sidecar process: config (file, disk, NATS KV), store, upstream pool,
// proxy and admin listeners, the JetStream queue, shutdown.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AdminServer } from "./admin/server.ts";
import { bootConfig, renderConfig } from "./config/boot.ts";
import { CurrentConfig } from "./config/current-config.ts";
import { ConfigDelivery } from "./config/delivery.ts";
import { contract, type ConfigDocument } from "./config/settings.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import type { SidecarOptions } from "./options.ts";
import type { Attachment } from "./attachment.ts";
import { attachmentsReadiness, type Readiness } from "./readiness.ts";
import { ProxyServer } from "./proxy/server.ts";
import { Upstream } from "./app/upstream.ts";
import { QueueAttachment } from "./queue/attachment.ts";
import { Broker } from "./nats/broker.ts";
import { ConfigSnapshots } from "./state/config-snapshots.ts";
import { SqliteRequestStore } from "./state/sqlite-store.ts";
import type { RequestStore } from "./state/store.ts";
import { podReasonsFromPrimary } from "./workers/readiness.ts";
import { logger } from "./log.ts";

const log = logger("sidecar");
const storeLog = logger("store");

export interface SidecarHandle {
  proxyPort: number;
  adminPort: number;
  shutdown(reason: string): Promise<void>;
}

export interface Sidecar {
  readonly opts: SidecarOptions;
  readonly config: CurrentConfig;
  readonly store: RequestStore;
  readonly snapshots: ConfigSnapshots;
  readonly metrics: Metrics;
  readonly upstream: Upstream;
  readonly proxy: ProxyServer;
  readonly worker: number;
  readonly broker: Broker | undefined;
  attachments: Attachment[];
}

export async function createSidecar(opts: SidecarOptions, worker = 0): Promise<Sidecar> {
  mkdirSync(opts.dataDir, { recursive: true });
  const metrics = createMetrics();
  const snapshots = new ConfigSnapshots(join(opts.dataDir, "config.db"));
  const { doc, source } = await bootConfig(opts, snapshots);
  log.info("config loaded", { config: `${doc.namespace}/${doc.name}`, revision: doc.revision, source });
  await snapshots.save({ revision: doc.revision, spec: doc, appliedAt: Date.now() });
  // Worker 0 is a single-process sidecar; workers 1..N split the pod's limits.
  const config = new CurrentConfig(doc, worker > 0 ? { index: worker, of: opts.workers } : undefined);
  const store = new SqliteRequestStore(join(opts.dataDir, `requests-${worker}.db`), {
    // Long enough that most requests (admit, dispatch, finish) fold into one row
    // statement (ADR 0002). Reads flush first: in a single process the store does; a
    // --workers primary asks each worker to (workers/records.ts).
    flushDelayMs: 25,
    // A JetStream ack waits on its record's commit; until acked, the executed message
    // still counts against the stream's maxQueueDepth, so those batches leave sooner.
    gatedFlushDelayMs: 10,
    onError: (err) => {
      metrics.storeErrors.inc();
      storeLog.error("commit failed", { err });
    },
  });
  const upstream = new Upstream({ host: opts.appHost, port: opts.appPort });
  const podReasons = worker > 0 ? podReasonsFromPrimary() : (): string[] => [];
  const broker = opts.natsUrl
    ? new Broker(
        opts.natsUrl,
        `veltrix-sidecar ${opts.pod}/${worker}`,
        opts.natsClient,
        contract.inboxPrefix({ namespace: doc.namespace, name: doc.name }),
      )
    : undefined;
  const queue: QueueAttachment | undefined = broker
    ? new QueueAttachment({
        broker,
        config,
        store,
        upstream,
        metrics,
        createStream: opts.ensureStream,
        // One maxConcurrency for the app, whichever path a request takes (`proxy` exists by
        // the time a request runs).
        slotsElsewhere: (): number => proxy.limiter.inFlight,
        onSlotFreed: (): void => proxy.limiter.pump(),
      })
    : undefined;
  const proxy: ProxyServer = new ProxyServer({
    config,
    store,
    upstream,
    metrics,
    queue: queue?.client,
    ...(queue && { queueSlots: () => queue.slots }),
    maxHeaderBytes: opts.maxHeaderBytes,
    clientTimeouts: { headersMs: opts.clientHeadersTimeoutMs, requestMs: opts.clientRequestTimeoutMs },
    // Called only once requests arrive, after `sc` below exists. A worker answers the
    // kubelet for the whole pod: its own state and what the primary last said of all.
    readiness: () => {
      const own = sidecarReadiness(sc);
      const pod = podReasons();
      return pod.length === 0 ? own : { reasons: [...own.reasons, ...pod], detail: own.detail };
    },
  });
  if (queue) proxy.limiter.onRelease = () => queue.slotFreed();
  const onApplied = (d: ConfigDocument): void => {
    metrics.configRevision.reset();
    metrics.configRevision.set({ revision: d.revision }, 1);
    metrics.limit.set(config.current.settings.maxConcurrency);
    if (worker === 0) renderConfig(opts.renderFile, d);
  };
  onApplied(doc);
  config.onChange((rev) => onApplied(rev.doc));
  setInterval(() => {
    metrics.recordsWritten.set(store.written);
    // In direct mode the queue is the local wait list; queued modes sample the stream.
    if (config.current.settings.mode === "direct") metrics.queueDepth.set(proxy.limiter.waiting);
  }, 1_000).unref();
  const sc: Sidecar = {
    opts,
    config,
    store,
    snapshots,
    metrics,
    upstream,
    proxy,
    worker,
    broker,
    attachments: [
      ...(queue ? [queue] : []),
      ...(broker
        ? [new ConfigDelivery({ broker, config, snapshots, metrics, pod: opts.pod, report: worker === 0 })]
        : []),
    ],
  };
  return sc;
}

/**
 * Periodic retention sweep: records finished longer than store.retention ago, and rows
 * that never finish here (an async request another pod ran) once no stream could still
 * hold their request (retention plus the stream's maxAge).
 */
export function startSweeper(sc: Sidecar): NodeJS.Timeout {
  const every = Math.min(60_000, Math.max(1_000, sc.config.current.settings.retentionMs / 10));
  const t = setInterval(() => {
    const s = sc.config.current.settings;
    const now = Date.now();
    sc.store.sweep(now - s.retentionMs, now - s.retentionMs - s.streamMaxAgeMs).catch((err: unknown) => {
      sc.metrics.storeErrors.inc();
      storeLog.error("sweep failed", { err });
    });
  }, every);
  t.unref();
  return t;
}

/** This process's readiness: the single-process /readyz, and a worker's answer to the primary. */
export function sidecarReadiness(sc: Sidecar): Readiness {
  const r = attachmentsReadiness(sc.proxy.isDraining, sc.attachments, {
    mode: sc.config.current.settings.mode,
  });
  // A store that fails is never trusted silently: the pod leaves the Service.
  const store = sc.store.problem();
  return store ? { reasons: [...r.reasons, store], detail: r.detail } : r;
}

export async function startListeners(sc: Sidecar, admin: boolean): Promise<SidecarHandle> {
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      log.info("draining", { reason });
      const grace = sc.opts.graceMs;
      await Promise.all([sc.proxy.drain(grace), ...sc.attachments.map((a) => a.drain(grace))]);
      await sc.broker?.close();
      await sc.store.close();
      await sc.upstream.close().catch(() => undefined);
      await sc.snapshots.close().catch(() => undefined);
      adminServer?.close();
      log.info("drained");
    })();
    return shuttingDown;
  };
  const adminServer = admin
    ? new AdminServer({
        config: sc.config,
        store: sc.store,
        metrics: sc.metrics,
        readiness: () => sidecarReadiness(sc),
        drain: () => void shutdown("/drain").then(() => process.exit(0)),
      })
    : undefined;
  const adminPort = adminServer ? await adminServer.listen(sc.opts.adminPort) : 0;
  if (adminServer && sc.opts.metricsPort > 0)
    await adminServer.listenMetrics(sc.opts.metricsPort, sc.opts.host);
  const proxyPort = await sc.proxy.listen(sc.opts.port, sc.opts.host);
  return { proxyPort, adminPort, shutdown };
}
