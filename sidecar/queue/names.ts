// NATS names the sidecar uses beyond the operator's contract (api/contract.ts):
// all computed here, once, at start.
import { randomBytes } from "node:crypto";
import { contract, type ConfigDocument } from "../config/settings.ts";

export interface QueueNames {
  ref: contract.ConfigRef;
  stream: string;
  consumer: string;
  syncSubject: string;
  asyncSubject: string;
  /** Core-NATS subject dead-lettered requests are announced on. */
  deadLetterSubject: string;
  /** KV bucket of async outcomes (status, headers, body) by request; TTL = store.retention. */
  outcomeBucket: string;
  /** This sidecar's reply inbox prefix: `<prefix>.<request id>`. */
  replyPrefix: string;
  outcomeKeyPrefix: string;
}

export function queueNames(doc: Pick<ConfigDocument, "namespace" | "name">): QueueNames {
  const ref = { namespace: doc.namespace, name: doc.name };
  const prefix = contract.queueSubjectPrefix(ref);
  return {
    ref,
    stream: contract.streamName(ref),
    consumer: contract.consumerName,
    syncSubject: `${prefix}.sync`,
    asyncSubject: `${prefix}.async`,
    deadLetterSubject: contract.deadLetterSubject(ref),
    outcomeBucket: contract.outcomeBucketName(ref),
    replyPrefix: `${contract.replyPrefix(ref)}.${randomBytes(8).toString("hex")}`,
    outcomeKeyPrefix: `${ref.namespace}.${ref.name}`,
  };
}

/** KV key of a request's outcome; KV keys allow [-/_=.a-zA-Z0-9]. */
export function outcomeKey(names: QueueNames, id: string): string {
  return contract.outcomeKey(names.ref, id);
}
