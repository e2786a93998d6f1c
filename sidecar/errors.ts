// The sidecar's errors as HTTP answers, in one place (`sendError`): the code's status
// from the table in api/errors.ts (the config's overflow status for overflow codes),
// and a JSON body with the code and its sentence.
import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "./http.ts";
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

/** The status, headers and JSON body that answer `code`. */
export function errorAnswer(
  code: ErrorCode,
  requestId: string | undefined,
  overflow: OverflowResponse,
  detail?: string,
): { status: number; headers: Record<string, string | number>; body: string } {
  const isOverflow = overflowCodes.has(code);
  // An operator code never reaches a client; were one to, it is an internal error.
  const status = isOverflow ? overflow.status : isSidecarErrorCode(code) ? errorTable[code].status : 500;
  const message = detail ? `${errorTable[code].message}: ${detail}` : errorTable[code].message;
  const body = JSON.stringify({ code, message, requestId });
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
  return { status, headers, body };
}

/** Writes the error response (JSON body with code and message) if headers were not sent yet. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string | undefined,
  overflow: OverflowResponse,
  detail?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const answer = errorAnswer(code, requestId, overflow, detail);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** The same answer as raw bytes, closing the connection: for a socket the parser gave up on. */
export function rawErrorAnswer(code: ErrorCode, overflow: OverflowResponse, detail?: string): string {
  const { status, headers, body } = errorAnswer(code, undefined, overflow, detail);
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n${lines.join("\r\n")}\r\nconnection: close\r\n\r\n${body}`;
}
