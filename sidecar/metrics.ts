// The sidecar's Prometheus metrics (prom-client), one registry per process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "veltrix_sidecar_" });
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    requests: new Counter({
      name: "veltrix_sidecar_requests_total",
      help: "Requests by mode and outcome (done, failed, shed, expired, error code)",
      labelNames: ["mode", "outcome"] as const,
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: "veltrix_sidecar_queue_wait_seconds",
      help: "Time from admission to dispatch to the app",
      labelNames: ["mode"] as const,
      buckets,
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: "veltrix_sidecar_upstream_seconds",
      help: "Time the app took to answer (headers)",
      buckets,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "veltrix_sidecar_in_flight",
      help: "Requests in flight to the app",
      registers: [registry],
    }),
    limit: new Gauge({
      name: "veltrix_sidecar_in_flight_limit",
      help: "queue.maxConcurrency",
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "veltrix_sidecar_queue_depth",
      help: "Requests waiting (local waiters in direct mode; stream messages in sync/async, sampled)",
      registers: [registry],
    }),
    shed: new Counter({
      name: "veltrix_sidecar_shed_total",
      help: "Requests answered with the overflow status",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    recordsWritten: new Gauge({
      name: "veltrix_sidecar_records_written",
      help: "Request record writes committed to SQLite since start",
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: "veltrix_sidecar_store_errors_total",
      help: "Failed store commits",
      registers: [registry],
    }),
    configRevision: new Gauge({
      name: "veltrix_sidecar_config_info",
      help: "The applied config revision (value 1)",
      labelNames: ["revision"] as const,
      registers: [registry],
    }),
    configStaleness: new Gauge({
      name: "veltrix_sidecar_config_staleness_seconds",
      help: "Seconds since the config source (NATS KV watch) was last known live; 0 while connected",
      registers: [registry],
    }),
    brokerUp: new Gauge({
      name: "veltrix_sidecar_broker_up",
      help: "1 while connected to NATS",
      registers: [registry],
    }),
    rss: new Gauge({
      name: "veltrix_sidecar_rss_bytes",
      help: "Process resident set size",
      registers: [registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    }),
  };
}
