// The JetStream side of a VeltrixConfig: the desired work-queue stream and durable pull
// consumer (specified in api/jetstream.ts), and ensure functions that create, update in place (keeping queued
// messages) or recreate them, reporting what they did.
import {
  type ConsumerInfo,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type StreamInfo,
} from "@nats-io/jetstream";
import { type ConfigRef, consumerName, outcomeBucketName, streamName } from "../../api/contract.ts";
import {
  type WorkQueueConsumer,
  type WorkQueueStream,
  workQueueConsumer,
  workQueueStream,
} from "../../api/jetstream.ts";
import { queueSettings } from "../../api/queue-settings.ts";
import type { VeltrixConfigSpecResolved } from "../../api/types.generated.ts";

/** The stream and consumer a config wants, from its resolved spec (api/jetstream.ts). */
export function desiredStream(ref: ConfigRef, spec: VeltrixConfigSpecResolved): WorkQueueStream {
  return workQueueStream(ref, queueSettings(spec));
}

export function desiredConsumer(spec: VeltrixConfigSpecResolved): WorkQueueConsumer {
  return workQueueConsumer(queueSettings(spec));
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
