// The operator's Prometheus metrics (prom-client), on a registry of their own.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface ControllerMetrics {
  reconciles: Counter<"controller" | "result">;
  errors: Counter<"controller">;
  duration: Histogram<"controller">;
  queueDepth: Gauge<"controller">;
}

export interface OperatorMetrics extends ControllerMetrics {
  registry: Registry;
  leader: Gauge;
  apiRequests: Counter<"verb" | "resource">;
  informerRestarts: Counter<"informer">;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "veltrix_operator_" });
  const r = [registry];
  return {
    registry,
    reconciles: new Counter({
      name: "veltrix_operator_reconciles_total",
      help: "Reconciles by controller and result (success, requeue_after, error, terminal_error, aborted).",
      labelNames: ["controller", "result"],
      registers: r,
    }),
    errors: new Counter({
      name: "veltrix_operator_reconcile_errors_total",
      help: "Reconciles that failed.",
      labelNames: ["controller"],
      registers: r,
    }),
    duration: new Histogram({
      name: "veltrix_operator_reconcile_duration_seconds",
      help: "Time spent in one reconcile.",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    queueDepth: new Gauge({
      name: "veltrix_operator_work_queue_depth",
      help: "Keys waiting in the work queue.",
      labelNames: ["controller"],
      registers: r,
    }),
    leader: new Gauge({
      name: "veltrix_operator_leader",
      help: "1 while this replica holds the leader Lease.",
      registers: r,
    }),
    apiRequests: new Counter({
      name: "veltrix_operator_api_requests_total",
      help: "Requests this process made to the Kubernetes API server.",
      labelNames: ["verb", "resource"],
      registers: r,
    }),
    informerRestarts: new Counter({
      name: "veltrix_operator_informer_restarts_total",
      help: "List+watch restarts after an error.",
      labelNames: ["informer"],
      registers: r,
    }),
  };
}
