// Every error Veltrix reports, in one table: a stable code and a sentence; the
// sidecar's answers to clients also carry their HTTP status (mapped to a response in
// one place, sidecar/errors.ts). docs/sidecar.md lists the sidecar's codes and
// docs/operator.md the operator's; unit tests keep both lists equal to these tables.

/** What a client of the sidecar can be answered. */
export const sidecarErrors = {
  VX_ERR_BODY_TOO_LARGE: { status: 413, message: "request body exceeds queue.maxBodyBytes" },
  VX_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    message: "request headers exceed the sidecar's header size limit",
  },
  VX_ERR_BODY_OVER_BROKER_LIMIT: {
    status: 413,
    message:
      "request body is larger than NATS's max_payload allows (the broker's limit is below queue.maxBodyBytes); send less, or raise max_payload",
  },
  VX_ERR_BAD_REQUEST: { status: 400, message: "malformed HTTP request" },
  VX_ERR_REQUEST_TIMEOUT: {
    status: 408,
    message: "the client did not send the request's headers (or the whole request) in time",
  },
  VX_ERR_UPGRADE_UNSUPPORTED: {
    status: 501,
    message:
      "protocol upgrades (WebSocket) pass only in queue.mode direct; sync and async carry one request and its answer",
  },
  VX_ERR_QUEUE_FULL: { status: 503, message: "queue is full (queue.maxQueueDepth); retry after Retry-After" },
  VX_ERR_QUEUE_TIMEOUT: {
    status: 503,
    message: "request waited longer than queue.maxWait; retry after Retry-After",
  },
  VX_ERR_UPSTREAM_TIMEOUT: { status: 504, message: "the app did not answer within queue.requestTimeout" },
  VX_ERR_UPSTREAM_UNAVAILABLE: { status: 502, message: "the app refused or dropped the connection" },
  VX_ERR_BROKER_UNAVAILABLE: {
    status: 503,
    message: "NATS is unreachable and queue.onBrokerUnavailable is fail",
  },
  VX_ERR_BROKER_REFUSED: {
    status: 503,
    message: "NATS refused the sidecar's publish (its NATS user lacks a permission); see the sidecar log",
  },
  VX_ERR_DRAINING: { status: 503, message: "the sidecar is shutting down; retry on another pod" },
  VX_ERR_DEAD_LETTERED: {
    status: 502,
    message: "the request failed queue.maxDeliver times and was dead-lettered",
  },
  VX_ERR_OUTCOME_UNKNOWN: {
    status: 504,
    message:
      "NATS did not confirm the request in time, so it may still run; retry with the same x-veltrix-request-id (de-duplicated) or read its status URL",
  },
  VX_ERR_DUPLICATE_REQUEST: {
    status: 409,
    message:
      "a sync request with this x-veltrix-request-id is already queued or was answered recently; use a new id",
  },
  VX_ERR_STORE_UNAVAILABLE: {
    status: 503,
    message: "the sidecar's record store is failing (see its /readyz); the request's record cannot be read",
  },
  VX_ERR_NOT_FOUND: { status: 404, message: "no such request record (unknown id or past store.retention)" },
  VX_ERR_INTERNAL: { status: 500, message: "internal sidecar error; see the sidecar log" },
} as const;

/** What the operator reports in conditions and logs. */
export const operatorErrors = {
  VX_ERR_NATS_UNAVAILABLE: { message: "NATS is unreachable" },
  VX_ERR_NATS_AUTH: { message: "NATS authentication failed" },
  VX_ERR_NATS_TLS: { message: "TLS to NATS failed" },
  VX_ERR_TERMINAL: { message: "retrying cannot fix this" },
} as const;

export const errorTable = { ...sidecarErrors, ...operatorErrors } as const;

export type SidecarErrorCode = keyof typeof sidecarErrors;
export type ErrorCode = keyof typeof errorTable;

export function isSidecarErrorCode(code: string): code is SidecarErrorCode {
  return Object.hasOwn(sidecarErrors, code);
}

/** An error with a stable code; its message is the code's sentence, then the detail. */
export class VeltrixError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${errorTable[code].message}: ${detail}` : errorTable[code].message, options);
    this.code = code;
    this.name = "VeltrixError";
  }
}
