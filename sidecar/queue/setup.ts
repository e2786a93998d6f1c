// Makes sure the work-queue stream, its durable consumer and the outcome bucket exist.
// In a cluster the operator creates the stream and consumer (this only checks them);
// in local mode (--ensure-stream) the sidecar creates them from the same specs
// (api/jetstream.ts).
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { QueueSettings } from "../config/settings.ts";
import { workQueueConsumer, workQueueStream } from "../../api/jetstream.ts";
import { ensureOutcomeBucket } from "../../api/outcome-bucket.ts";
import type { QueueNames } from "./names.ts";

export async function ensureQueue(
  nc: NatsConnection,
  names: QueueNames,
  s: QueueSettings,
  create: boolean,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const streamExists = await jsm.streams.info(names.stream).then(
    () => true,
    () => false,
  );
  if (!streamExists) {
    if (!create) throw new Error(`stream ${names.stream} does not exist (the operator creates it)`);
    await jsm.streams.add(workQueueStream(names.ref, s));
  }
  const consumerExists = await jsm.consumers.info(names.stream, names.consumer).then(
    () => true,
    () => false,
  );
  if (!consumerExists) {
    if (!create) throw new Error(`consumer ${names.consumer} on ${names.stream} does not exist`);
    await jsm.consumers.add(names.stream, workQueueConsumer(s));
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
