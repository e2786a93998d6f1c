// `--workers N`: the primary process forks N proxy workers that each bind the proxy port
// (SO_REUSEPORT; the kernel spreads connections), each with its own NATS connection, upstream pool and record file.
// The primary holds no requests: it serves the admin API for all of them (records
// from every worker's file, each worker flushing first; metrics aggregated; readiness
// asked of every worker),
// watches and reports the config revision, and on SIGTERM or /drain drains every
// worker and exits when they have.
import cluster, { type Worker } from "node:cluster";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AggregatorRegistry } from "prom-client";
import { AdminServer } from "../admin/server.ts";
import { CurrentConfig } from "../config/current-config.ts";
import { ConfigDelivery } from "../config/delivery.ts";
import { contract } from "../config/settings.ts";
import { createMetrics } from "../metrics.ts";
import type { SidecarOptions } from "../options.ts";
import { attachmentsReadiness, type Readiness } from "../readiness.ts";
import { Broker } from "../nats/broker.ts";
import { bootConfig, renderConfig } from "../config/boot.ts";
import { ConfigSnapshots } from "../state/config-snapshots.ts";
import { ShardedReader } from "../state/sharded-store.ts";
import { podReadinessEveryMs, tellWorkers, workersReadiness } from "./readiness.ts";
import { flushWorkerRecords } from "./records.ts";
import { onListening } from "./ipc.ts";
import { logger } from "../log.ts";

const log = logger("workers");

export const workerEnv = "VELTRIX_WORKER_INDEX";

export async function runPrimary(opts: SidecarOptions): Promise<void> {
  mkdirSync(opts.dataDir, { recursive: true });
  const metrics = createMetrics();
  const snapshots = new ConfigSnapshots(join(opts.dataDir, "config.db"));
  const { doc } = await bootConfig(opts, snapshots);
  await snapshots.save({ revision: doc.revision, spec: doc, appliedAt: Date.now() });
  const config = new CurrentConfig(doc);
  if (opts.workers > config.current.settings.maxConcurrency) {
    log.warn(
      `--workers ${opts.workers} exceeds queue.maxConcurrency ${config.current.settings.maxConcurrency}; ` +
        "each worker keeps 1 slot, so the app can see up to one request per worker",
    );
  }
  renderConfig(opts.renderFile, doc);
  config.onChange((rev) => renderConfig(opts.renderFile, rev.doc));
  const broker = opts.natsUrl
    ? new Broker(
        opts.natsUrl,
        `veltrix-sidecar ${opts.pod}/primary`,
        opts.natsClient,
        contract.inboxPrefix({ namespace: doc.namespace, name: doc.name }),
      )
    : undefined;
  const delivery = broker
    ? new ConfigDelivery({ broker, config, snapshots, metrics, pod: opts.pod, report: true })
    : undefined;
  // Workers create their record files before they listen; the reader opens them after.
  // A listening worker also answers readiness requests (main.ts installs that first).
  const listening = new Map<number, Worker>();
  let draining = false;
  let exited = 0;
  const aggregator = new AggregatorRegistry();
  for (let i = 1; i <= opts.workers; i++) {
    const w = cluster.fork({ [workerEnv]: String(i) });
    onListening(w, () => listening.set(i, w));
    w.on("exit", (code) => {
      listening.delete(i);
      exited++;
      if (!draining) {
        log.error("a worker exited; stopping the pod", { worker: i, code });
        void drain("worker exit");
      }
      if (exited === opts.workers) process.exit(draining ? 0 : 1);
    });
  }
  let reader: ShardedReader | undefined;
  const store = (): ShardedReader =>
    (reader ??= new ShardedReader(
      Array.from({ length: opts.workers }, (_, i) => join(opts.dataDir, `requests-${i + 1}.db`)),
      () => flushWorkerRecords(listening),
    ));
  const drain = async (reason: string): Promise<void> => {
    if (draining) return;
    draining = true;
    log.info("draining the workers", { workers: opts.workers, reason });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM");
    await delivery?.drain();
    await broker?.close();
  };
  const podReadiness = async (): Promise<Readiness> => {
    const own = attachmentsReadiness(draining, delivery ? [delivery] : [], {
      mode: config.current.settings.mode,
      workers: opts.workers,
    });
    const each = await workersReadiness(listening);
    return {
      reasons: [
        ...own.reasons,
        ...(listening.size < opts.workers ? [`${listening.size}/${opts.workers} workers listening`] : []),
        ...each.reasons,
      ],
      detail: { ...own.detail, ...each.detail },
    };
  };
  // Every worker answers the kubelet's probes for the whole pod (worker-readiness.ts).
  let telling = false;
  setInterval(() => {
    if (telling) return; // a stuck worker makes one round take up to its answer timeout
    telling = true;
    void podReadiness()
      .then((r) => tellWorkers(listening, r))
      .catch(() => undefined)
      .finally(() => {
        telling = false;
      });
  }, podReadinessEveryMs).unref();
  const admin = new AdminServer({
    config,
    get store() {
      return store();
    },
    metrics,
    readiness: podReadiness,
    drain: () => void drain("/drain"),
    metricsText: async () => ({
      contentType: aggregator.contentType,
      text: `${await aggregator.clusterMetrics()}\n${await metrics.registry.metrics()}`,
    }),
  });
  const port = await admin.listen(opts.adminPort);
  if (opts.metricsPort > 0) await admin.listenMetrics(opts.metricsPort, opts.host);
  log.info("primary ready", { admin: `127.0.0.1:${port}`, workers: opts.workers });
  process.once("SIGTERM", () => void drain("SIGTERM"));
  process.once("SIGINT", () => void drain("SIGINT"));
}
