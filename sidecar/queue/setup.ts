// Makes sure the work-queue stream, its durable consumer and the outcome bucket exist.
// In a cluster the operator creates the stream and consumer (this only checks them);
// in local mode (--ensure-stream) the sidecar creates them with the same settings.
import { AckPolicy, DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { QueueSettings } from "../config/settings.ts";
import { ensureOutcomeBucket } from "../../api/outcome-bucket.ts";
import type { QueueNames } from "./names.ts";

const nanos = (ms: number): number => ms * 1_000_000;

/** ack_wait of the shared consumer: the app's timeout plus room for the reply and the record. */
export function ackWaitMs(s: QueueSettings): number {
  return s.requestTimeoutMs + 5_000;
}

export async function ensureQueue(
  nc: NatsConnection,
  names: QueueNames,
  s: QueueSettings,
  subjects: string[],
  create: boolean,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const streamExists = await jsm.streams.info(names.stream).then(
    () => true,
    () => false,
  );
  if (!streamExists) {
    if (!create) throw new Error(`stream ${names.stream} does not exist (the operator creates it)`);
    await jsm.streams.add({
      name: names.stream,
      subjects,
      retention: RetentionPolicy.Workqueue,
      max_msgs: s.maxQueueDepth,
      discard: DiscardPolicy.New,
      storage: s.streamStorage === "memory" ? StorageType.Memory : StorageType.File,
      num_replicas: s.streamReplicas,
      max_age: nanos(s.streamMaxAgeMs),
      duplicate_window: nanos(Math.min(120_000, s.streamMaxAgeMs)),
      // Same as the operator: the body limit plus room for the request's headers.
      max_msg_size: s.maxBodyBytes + 64 * 1024,
    });
  }
  const consumerExists = await jsm.consumers.info(names.stream, names.consumer).then(
    () => true,
    () => false,
  );
  if (!consumerExists) {
    if (!create) throw new Error(`consumer ${names.consumer} on ${names.stream} does not exist`);
    await jsm.consumers.add(names.stream, {
      durable_name: names.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs(s)),
      // One more than maxDeliver: the sidecar dead-letters on its last attempt itself;
      // the extra delivery catches a request whose executor crashed on the last one.
      max_deliver: s.maxDeliver + 1,
      max_ack_pending: 100_000,
      max_waiting: 4_096,
    });
  }
}

/**
 * Opens the config's outcome bucket. The operator creates it and keeps its TTL at the
 * config's retention; in local mode (`create`) the sidecar does that itself.
 */
export async function openOutcomes(
  nc: NatsConnection,
  names: QueueNames,
  s: QueueSettings,
  create: boolean,
): Promise<KV> {
  if (create) return ensureOutcomeBucket(nc, names.outcomeBucket, s.retentionMs, s.streamReplicas);
  // The operator's bucket allows direct gets (any replica answers); bind() cannot tell.
  const kv = await new Kvm(nc).open(names.outcomeBucket, { allow_direct: true });
  // open() does not look; status() does, so a missing bucket keeps the queue detached.
  await kv.status().catch((err: unknown) => {
    throw new Error(`outcome bucket ${names.outcomeBucket} does not exist (the operator creates it)`, {
      cause: err,
    });
  });
  return kv;
}
