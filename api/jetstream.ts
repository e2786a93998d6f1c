// The JetStream objects of one VeltrixConfig, specified once: the work-queue stream and
// the durable pull consumer all its sidecars share. The operator creates and updates
// them in a cluster (operator/veltrixconfig/stream.ts); a sidecar in local mode
// (--ensure-stream) creates them itself (sidecar/queue/setup.ts). Pure.
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type ConfigRef, consumerName, streamName, streamSubjects } from "./contract.ts";
import type { QueueSettings } from "./queue-settings.ts";

/** JetStream durations are nanoseconds. */
export const nanos = (ms: number): number => ms * 1_000_000;

/** Headroom over maxBodyBytes for the headers the sidecar adds to a queued request. */
export const headerAllowance = 64 * 1024;

export type WorkQueueStream = Pick<
  StreamConfig,
  | "name"
  | "subjects"
  | "retention"
  | "storage"
  | "num_replicas"
  | "max_age"
  | "max_msgs"
  | "discard"
  | "max_msg_size"
  | "duplicate_window"
  | "description"
>;

export function workQueueStream(ref: ConfigRef, s: QueueSettings): WorkQueueStream {
  return {
    name: streamName(ref),
    description: `Veltrix work queue of VeltrixConfig ${ref.namespace}/${ref.name}`,
    subjects: streamSubjects(ref),
    retention: RetentionPolicy.Workqueue,
    storage: s.streamStorage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: s.streamReplicas,
    max_age: nanos(s.streamMaxAgeMs),
    max_msgs: s.maxQueueDepth,
    discard: DiscardPolicy.New,
    max_msg_size: s.maxBodyBytes + headerAllowance,
    // Publishes carry msgID = request id; retries within this window are dropped.
    duplicate_window: nanos(Math.min(120_000, s.streamMaxAgeMs)),
  };
}

export type WorkQueueConsumer = Pick<
  ConsumerConfig,
  | "durable_name"
  | "ack_policy"
  | "deliver_policy"
  | "max_deliver"
  | "ack_wait"
  | "max_ack_pending"
  | "description"
>;

/** ack_wait of the shared consumer: the app's timeout plus room for the reply and the record. */
export function ackWaitMs(s: QueueSettings): number {
  return s.requestTimeoutMs + 5_000;
}

export function workQueueConsumer(s: QueueSettings): WorkQueueConsumer {
  return {
    durable_name: consumerName,
    description: "Veltrix sidecars pull queued requests from here",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // One more than maxDeliver: a sidecar dead-letters a request on its last attempt
    // itself; the extra delivery catches one whose executor crashed on that attempt,
    // which JetStream would otherwise drop silently (no dead letter, no outcome).
    max_deliver: s.maxDeliver + 1,
    // Redeliver only after the app could have answered.
    ack_wait: nanos(ackWaitMs(s)),
    // Unbounded: each sidecar bounds what it pulls by its free slots (maxConcurrency).
    max_ack_pending: -1,
  };
}
