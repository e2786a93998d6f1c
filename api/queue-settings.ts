// The queue and store settings of one config revision as numbers (durations in
// milliseconds): what the sidecar runs with and what the JetStream specs are built from.
import { parseDuration, type ConfigDocument } from "./resolve.ts";

export type QueueMode = ConfigDocument["queue"]["mode"];

/** The queue and store settings of one revision, with durations in milliseconds. */
export interface QueueSettings {
  mode: QueueMode;
  maxConcurrency: number;
  maxQueueDepth: number;
  maxWaitMs: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  maxDeliver: number;
  /** Delay before the first redelivery after a failed attempt; doubles per attempt (retryDelay). */
  retryDelayMs: number;
  overflowStatus: number;
  retryAfterSeconds: number;
  onBrokerUnavailable: "fail" | "direct";
  retentionMs: number;
  streamStorage: "file" | "memory";
  streamReplicas: number;
  streamMaxAgeMs: number;
}

export function queueSettings(doc: Pick<ConfigDocument, "queue" | "store">): QueueSettings {
  const q = doc.queue;
  return {
    mode: q.mode,
    maxConcurrency: q.maxConcurrency,
    maxQueueDepth: q.maxQueueDepth,
    maxWaitMs: parseDuration(q.maxWait),
    requestTimeoutMs: parseDuration(q.requestTimeout),
    maxBodyBytes: q.maxBodyBytes,
    maxDeliver: q.maxDeliver,
    retryDelayMs: parseDuration(q.retryDelay),
    overflowStatus: q.overflow.status,
    retryAfterSeconds: Math.ceil(parseDuration(q.overflow.retryAfter) / 1000),
    onBrokerUnavailable: q.onBrokerUnavailable,
    retentionMs: parseDuration(doc.store.retention),
    streamStorage: q.stream.storage,
    streamReplicas: q.stream.replicas,
    streamMaxAgeMs: parseDuration(q.stream.maxAge),
  };
}
