// Entry point: node sidecar/main.ts --config veltrixconfig.yaml --app-port 8080
import cluster from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import { configureLog, logger } from "./log.ts";
import { parseOptions } from "./options.ts";
import { createSidecar, sidecarReadiness, startListeners, startSweeper } from "./sidecar.ts";
import { answerReadiness } from "./workers/readiness.ts";
import { tellListening } from "./workers/ipc.ts";
import { answerRecordFlushes } from "./workers/records.ts";
import { runPrimary, workerEnv } from "./workers/primary.ts";

const log = logger("sidecar");

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const worker = cluster.isWorker ? Number(process.env[workerEnv] ?? 1) : 0;
  configureLog({ level: opts.logLevel, fields: { pod: opts.pod, worker } });
  if (opts.workers > 1 && cluster.isPrimary) return runPrimary(opts);
  const sc = await createSidecar(opts, worker);
  if (cluster.isWorker) {
    // Constructing one registers the worker's responder to the primary's metrics requests.
    const responder = new AggregatorRegistry();
    AggregatorRegistry.setRegistries([sc.metrics.registry, responder]);
    // Before listening: the primary asks a worker for readiness once it listens.
    answerReadiness(() => sidecarReadiness(sc));
    answerRecordFlushes(sc.store);
  }
  startSweeper(sc);
  const handle = await startListeners(sc, worker === 0);
  if (cluster.isWorker) tellListening();
  log.info("listening", {
    proxy: handle.proxyPort,
    ...(worker ? {} : { admin: `127.0.0.1:${handle.adminPort}` }),
    app: `${opts.appHost}:${opts.appPort}`,
  });
  const stop = (signal: string): void => {
    void handle.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("shutdown failed", { err });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  log.error("fatal", { err });
  process.exit(1);
});
