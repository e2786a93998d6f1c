// A config's async outcome bucket (contract.outcomeBucketName): created when missing, and
// its TTL brought to the config's store.retention when that changed. The operator keeps
// it in a cluster; a sidecar in local mode (--ensure-stream) keeps it itself.
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** JetStream durations are nanoseconds. */
const nanos = (ms: number): number => ms * 1_000_000;

export async function ensureOutcomeBucket(
  nc: NatsConnection,
  bucket: string,
  retentionMs: number,
  replicas = 1,
): Promise<KV> {
  const ttlMs = Math.max(1_000, retentionMs);
  const kv = await new Kvm(nc).create(bucket, { ttl: ttlMs, history: 1, replicas });
  const jsm = await jetstreamManager(nc);
  const stream = `KV_${bucket}`;
  const { config } = await jsm.streams.info(stream);
  if (config.max_age !== nanos(ttlMs)) await jsm.streams.update(stream, { ...config, max_age: nanos(ttlMs) });
  return kv;
}
