// The webhook's Prometheus metrics, registered on the registry the operator serves.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type AdmissionOutcome = "inject" | "skip" | "refuse" | "error" | "bad-request";

export interface WebhookMetrics {
  admissions: Counter<"outcome" | "reason">;
  latency: Histogram<"outcome">;
  certificateExpiry: Gauge;
  connections: Counter;
}

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const registers = [registry];
  return {
    admissions: new Counter({
      name: "veltrix_webhook_admissions_total",
      help: "Admission requests by outcome (inject, skip, refuse, error, bad-request) and skip reason.",
      labelNames: ["outcome", "reason"],
      registers,
    }),
    latency: new Histogram({
      name: "veltrix_webhook_admission_duration_seconds",
      help: "Time from a complete request body to the response, by outcome.",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    connections: new Counter({
      name: "veltrix_webhook_tls_connections_total",
      help: "TLS connections accepted (callers that reuse connections keep this low).",
      registers,
    }),
    certificateExpiry: new Gauge({
      name: "veltrix_webhook_certificate_expiry_timestamp_seconds",
      help: "When the serving certificate in use expires (Unix seconds).",
      registers,
    }),
  };
}
