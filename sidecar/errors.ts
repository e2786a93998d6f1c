// Every error the sidecar answers a client with: a stable code, the HTTP status, and
// a sentence. One table, mapped to HTTP in one place (`sendError`); docs/sidecar.md
// lists the same codes (sidecar/errors.test.ts keeps them in step).
import type { ServerResponse } from "node:http";

export const errorTable = {
  VX_ERR_BODY_TOO_LARGE: { status: 413, message: "request body exceeds queue.maxBodyBytes" },
  VX_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    message: "request headers exceed the sidecar's header size limit",
  },
  VX_ERR_BAD_REQUEST: { status: 400, message: "malformed HTTP request" },
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
  VX_ERR_DUPLICATE_REQUEST: {
    status: 409,
    message:
      "a sync request with this x-veltrix-request-id is already queued or was answered recently; use a new id",
  },
  VX_ERR_NOT_FOUND: { status: 404, message: "no such request record (unknown id or past store.retention)" },
  VX_ERR_INTERNAL: { status: 500, message: "internal sidecar error; see the sidecar log" },
} as const;

export type ErrorCode = keyof typeof errorTable;

/** Codes answered with the config's overflow status and a Retry-After header. */
const overflowCodes: ReadonlySet<ErrorCode> = new Set([
  "VX_ERR_QUEUE_FULL",
  "VX_ERR_QUEUE_TIMEOUT",
  "VX_ERR_BROKER_UNAVAILABLE",
  "VX_ERR_DRAINING",
]);

export class VeltrixError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${errorTable[code].message}: ${detail}` : errorTable[code].message, options);
    this.code = code;
    this.name = "VeltrixError";
  }
}

export interface OverflowResponse {
  status: number;
  retryAfterSeconds: number;
}

/** Writes the error response (JSON body with code and message) if headers were not sent yet. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string | undefined,
  overflow: OverflowResponse,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const isOverflow = overflowCodes.has(code);
  const status = isOverflow ? overflow.status : errorTable[code].status;
  const body = JSON.stringify({ code, message: errorTable[code].message, requestId });
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-veltrix-error": code,
  };
  if (requestId) headers["x-veltrix-request-id"] = requestId;
  if (isOverflow) headers["retry-after"] = overflow.retryAfterSeconds;
  res.writeHead(status, headers);
  res.end(body);
}
