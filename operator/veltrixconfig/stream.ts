// The JetStream side of a VeltrixConfig: the desired work-queue stream and durable pull
// consumer (pure), and ensure functions that create, update in place (keeping queued
// messages) or recreate them, reporting what they did.
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import {
  type ConfigRef,
  consumerName,
  outcomeBucketName,
  streamName,
  streamSubjects,
} from "../../api/contract.ts";
import { parseDuration } from "../../api/resolve.ts";
import type { VeltrixConfigSpecResolved } from "../../api/types.generated.ts";

/** JetStream durations are nanoseconds. */
const nanos = (ms: number): number => ms * 1_000_000;

/** Headroom over maxBodyBytes for the headers the sidecar adds to a queued request. */
const headerAllowance = 64 * 1024;

export type DesiredStream = Pick<
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

export function desiredStream(ref: ConfigRef, spec: VeltrixConfigSpecResolved): DesiredStream {
  const maxAgeMs = parseDuration(spec.queue.stream.maxAge);
  return {
    name: streamName(ref),
    description: `Veltrix work queue of VeltrixConfig ${ref.namespace}/${ref.name}`,
    subjects: streamSubjects(ref),
    retention: RetentionPolicy.Workqueue,
    storage: spec.queue.stream.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: spec.queue.stream.replicas,
    max_age: nanos(maxAgeMs),
    max_msgs: spec.queue.maxQueueDepth,
    discard: DiscardPolicy.New,
    max_msg_size: spec.queue.maxBodyBytes + headerAllowance,
    // Publishes carry msgID = request id; retries within this window are dropped.
    duplicate_window: nanos(Math.min(120_000, maxAgeMs)),
  };
}

export type DesiredConsumer = Pick<
  ConsumerConfig,
  | "durable_name"
  | "ack_policy"
  | "deliver_policy"
  | "max_deliver"
  | "ack_wait"
  | "max_ack_pending"
  | "description"
>;

export function desiredConsumer(spec: VeltrixConfigSpecResolved): DesiredConsumer {
  return {
    durable_name: consumerName,
    description: "Veltrix sidecars pull queued requests from here",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // One more than maxDeliver: a sidecar dead-letters a request on its last attempt
    // itself; the extra delivery catches one whose executor crashed on that attempt,
    // which JetStream would otherwise drop silently (no dead letter, no outcome).
    max_deliver: spec.queue.maxDeliver + 1,
    // A request may run requestTimeout in the app; redeliver only after that (+ slack).
    ack_wait: nanos(parseDuration(spec.queue.requestTimeout) + 5_000),
    max_ack_pending: -1,
  };
}

/** Fields of `want` that differ in `have` (what an update would change). */
export function drift<T extends object>(want: T, have: Partial<T>): (keyof T)[] {
  return (Object.keys(want) as (keyof T)[]).filter(
    (k) => JSON.stringify(want[k]) !== JSON.stringify(have[k] ?? undefined),
  );
}

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

export type EnsureAction = "none" | "created" | "updated";

export interface StreamState {
  stream: StreamInfo;
  consumer: ConsumerInfo;
  streamAction: EnsureAction;
  consumerAction: EnsureAction;
  /** Fields changed by an update. */
  changed: string[];
}

export async function ensureStream(
  jsm: JetStreamManager,
  ref: ConfigRef,
  spec: VeltrixConfigSpecResolved,
): Promise<StreamState> {
  const want = desiredStream(ref, spec);
  let streamAction: EnsureAction = "none";
  const changed: string[] = [];
  let stream: StreamInfo;
  try {
    stream = await jsm.streams.info(want.name);
    const d = drift(want, stream.config);
    if (d.length > 0) {
      // Everything we set is editable in place except storage, which the CRD makes immutable.
      stream = await jsm.streams.update(want.name, want);
      streamAction = "updated";
      changed.push(...d.map(String));
    }
  } catch (err) {
    if (!isNotFound(err, JetStreamApiCodes.StreamNotFound)) throw err;
    stream = await jsm.streams.add(want);
    streamAction = "created";
  }

  const wantC = desiredConsumer(spec);
  let consumerAction: EnsureAction = "none";
  let consumer: ConsumerInfo;
  try {
    consumer = await jsm.consumers.info(want.name, consumerName);
    const d = drift(wantC, consumer.config);
    if (d.length > 0) {
      consumer = await jsm.consumers.update(want.name, consumerName, wantC);
      consumerAction = "updated";
      changed.push(...d.map((k) => `consumer.${String(k)}`));
    }
  } catch (err) {
    if (!isNotFound(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    consumer = await jsm.consumers.add(want.name, wantC);
    consumerAction = "created";
  }
  return { stream, consumer, streamAction, consumerAction, changed };
}

/** Deletes the config's async outcome bucket (its sidecars create it); absent counts as done. */
export function deleteOutcomeBucket(jsm: JetStreamManager, ref: ConfigRef): Promise<boolean> {
  return deleteStreamIfPresent(jsm, `KV_${outcomeBucketName(ref)}`);
}

/** Deletes the stream (and with it the consumer); absent counts as done. */
export function deleteStream(jsm: JetStreamManager, ref: ConfigRef): Promise<boolean> {
  return deleteStreamIfPresent(jsm, streamName(ref));
}

async function deleteStreamIfPresent(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    return await jsm.streams.delete(name);
  } catch (err) {
    if (isNotFound(err, JetStreamApiCodes.StreamNotFound)) return false;
    throw err;
  }
}

/** "VX_<namespace>_<name>" back to its config, or undefined for streams that are not ours. */
export function refOfStream(stream: string): ConfigRef | undefined {
  const m = /^VX_([a-z0-9-]+)_([a-z0-9-]+)$/.exec(stream);
  return m?.[1] && m[2] ? { namespace: m[1], name: m[2] } : undefined;
}
