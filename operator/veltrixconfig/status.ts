// A VeltrixConfig's status as a pure function of what one reconcile observed: the stream
// (or the NATS failure that kept it from being checked), the pods, the revision. No I/O,
// no clock (the reconciler passes `now`); the reconciler writes the result last, and only
// when it differs from the stored status.
import {
  type ConfigRef,
  configMapName,
  conditionTypes,
  natsCredentialsSecretName,
  consumerName,
  streamName,
} from "../../api/contract.ts";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import type { VeltrixConfigStatus } from "../../api/types.generated.ts";
import { payloadLimitWarning } from "../../api/payload-limit.ts";
import { type ConditionInput, setCondition } from "./conditions.ts";
import type { StreamState } from "./stream.ts";

/** Condition reasons for the NATS failures a reconcile can meet; anything else is NatsError. */
const natsReasons: Partial<Record<ErrorCode, string>> = {
  VX_ERR_NATS_UNAVAILABLE: "NatsUnavailable",
  VX_ERR_NATS_AUTH: "NatsAuthFailed",
  VX_ERR_NATS_TLS: "NatsTLSFailed",
};

export interface NatsFailure {
  reason: string;
  message: string;
}

export function natsFailure(err: unknown): NatsFailure {
  const reason = (err instanceof VeltrixError ? natsReasons[err.code] : undefined) ?? "NatsError";
  return { reason, message: err instanceof Error ? err.message : String(err) };
}

export interface Observed {
  ref: ConfigRef;
  generation: number | undefined;
  revision: string;
  now: Date;
  /** The stored status. */
  old: VeltrixConfigStatus;
  /** The stream and consumer as ensured, unless NATS failed first. */
  stream: StreamState | undefined;
  failure: NatsFailure | undefined;
  pods: { injected: number; inSync: number };
  /** The config's largest body, and the NATS server's max_payload when NATS answered. */
  body: { maxBodyBytes: number; maxPayload: number | undefined };
  /** Where the operator mints the sidecars' NATS user: "ok", or why minting failed. */
  credentials?: "ok" | { failed: string };
}

export function desiredStatus(o: Observed): VeltrixConfigStatus {
  const { ref, failure, revision } = o;
  const stream: ConditionInput = o.stream
    ? {
        type: conditionTypes.streamReady,
        status: "True",
        reason: "StreamReady",
        message: `stream ${streamName(ref)} with durable consumer ${consumerName}`,
      }
    : {
        type: conditionTypes.streamReady,
        status: "False",
        reason: failure?.reason ?? "NatsError",
        message: failure?.message ?? "the stream was not checked",
      };
  const published: ConditionInput = failure
    ? {
        type: conditionTypes.configPublished,
        status: "False",
        reason: failure.reason,
        message: `revision ${revision} is in ConfigMap ${configMapName(ref.name)} only: ${failure.message}`,
      }
    : {
        type: conditionTypes.configPublished,
        status: "True",
        reason: "Published",
        message: `revision ${revision} published to NATS KV and ConfigMap ${configMapName(ref.name)}`,
      };
  const credentialsFailed = typeof o.credentials === "object" ? o.credentials.failed : undefined;
  const ready: ConditionInput = failure
    ? { type: conditionTypes.ready, status: "False", reason: failure.reason, message: failure.message }
    : credentialsFailed !== undefined
      ? {
          type: conditionTypes.ready,
          status: "False",
          reason: "CredentialsFailed",
          message: `the sidecars' NATS user could not be issued (pods wait for its Secret): ${credentialsFailed}`,
        }
      : {
          type: conditionTypes.ready,
          status: "True",
          reason: "Reconciled",
          message: "stream, consumer and config are in place",
        };
  let conditions = o.old.conditions ?? [];
  for (const c of [stream, published, ready, bodyCondition(o), ...credentialsCondition(o)])
    conditions = setCondition(conditions, c, o.generation, o.now);
  const { injected, inSync } = o.pods;
  return {
    ...(o.generation !== undefined ? { observedGeneration: o.generation } : {}),
    revision,
    conditions,
    stream: streamName(ref),
    consumer: consumerName,
    configMap: configMapName(ref.name),
    pods: { injected, inSync, summary: `${inSync}/${injected}` },
    // Without NATS the last known depth stays (the status says why it may be stale).
    queue: o.stream
      ? { depth: o.stream.stream.state.messages, consumerPending: o.stream.consumer.num_ack_pending }
      : (o.old.queue ?? { depth: 0, consumerPending: 0 }),
  };
}

/** Whether the minted NATS user is in its Secret; none where the operator does not mint. */
function credentialsCondition(o: Observed): ConditionInput[] {
  const type = conditionTypes.natsCredentials;
  const secret = natsCredentialsSecretName(o.ref.name);
  if (o.credentials === undefined) return [];
  return o.credentials === "ok"
    ? [{ type, status: "True", reason: "Issued", message: `the sidecars' NATS user is in Secret ${secret}` }]
    : [{ type, status: "False", reason: "MintFailed", message: o.credentials.failed }];
}

/** Whether queue.maxBodyBytes fits in one NATS message; informational (Ready ignores it). */
function bodyCondition(o: Observed): ConditionInput {
  const type = conditionTypes.bodyFitsBroker;
  const { maxBodyBytes, maxPayload } = o.body;
  if (maxPayload === undefined) {
    return {
      type,
      status: "Unknown",
      reason: o.failure?.reason ?? "NatsError",
      message: "max_payload not read",
    };
  }
  const warning = payloadLimitWarning(maxBodyBytes, maxPayload);
  return warning
    ? { type, status: "False", reason: "AboveMaxPayload", message: warning }
    : {
        type,
        status: "True",
        reason: "Fits",
        message: `${maxBodyBytes} bytes fit NATS's max_payload (${maxPayload})`,
      };
}
