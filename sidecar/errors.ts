// The sidecar's errors as HTTP answers, in one place (`sendError`): the code's status
// from the table in api/errors.ts (the config's overflow status for overflow codes),
// and a JSON body with the code and its sentence.
import type { ServerResponse } from "node:http";
import { statusPathPrefix } from "../api/contract.ts";
import { type ErrorCode, errorTable, isSidecarErrorCode } from "../api/errors.ts";

/** Codes answered with the config's overflow status and a Retry-After header. */
const overflowCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "VX_ERR_QUEUE_FULL",
  "VX_ERR_QUEUE_TIMEOUT",
  "VX_ERR_BROKER_UNAVAILABLE",
  "VX_ERR_DRAINING",
]);

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
  // An operator code never reaches a client; were one to, it is an internal error.
  const status = isOverflow ? overflow.status : isSidecarErrorCode(code) ? errorTable[code].status : 500;
  const body = JSON.stringify({ code, message: errorTable[code].message, requestId });
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-veltrix-error": code,
  };
  if (requestId) headers["x-veltrix-request-id"] = requestId;
  if (code === "VX_ERR_OUTCOME_UNKNOWN") {
    // Not a refusal: the request may run. Where to find out, and that a retry is safe.
    headers["x-veltrix-outcome"] = "unknown";
    if (requestId) headers["location"] = `${statusPathPrefix}${requestId}`;
  }
  if (isOverflow) headers["retry-after"] = overflow.retryAfterSeconds;
  res.writeHead(status, headers);
  res.end(body);
}
