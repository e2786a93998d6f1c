// Header rules of the proxy, pure: hop-by-hop headers (RFC 9110 §7.6.1, and any named
// in Connection) never cross it (Trailer does: it announces the trailers that follow); Veltrix's own headers are set by the sidecar only.
import { randomFillSync } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { v7 as timeOrderedUuid } from "uuid";

export const veltrixHeaders = {
  requestId: "x-veltrix-request-id",
  revision: "x-veltrix-config-revision",
  attempt: "x-veltrix-attempt",
  overrides: "x-veltrix-overrides",
} as const;

const hopByHop: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const ours: ReadonlySet<string> = new Set([
  veltrixHeaders.revision,
  veltrixHeaders.attempt,
  veltrixHeaders.overrides,
]);

export type HeaderMap = Record<string, string | string[]>;

/** Tokens listed in the Connection header(s), lowercased. */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(",") : value;
  const set = new Set<string>();
  for (const t of text.split(",")) {
    const name = t.trim().toLowerCase();
    if (name) set.add(name);
  }
  return set;
}

/** End-to-end headers of a message: without hop-by-hop ones and those named in Connection. */
export function endToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  dropOurs: boolean,
): HeaderMap {
  const named = connectionTokens(headers["connection"]);
  const out: HeaderMap = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || hopByHop.has(name) || named?.has(name)) continue;
    // A request's Expect was met here: node:http answered 100 Continue and reads the body.
    if (dropOurs && (ours.has(name) || name === "expect")) continue;
    out[name] = v;
  }
  return out;
}

const validId = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * The client's x-veltrix-request-id when it is a valid id (8–128 of [A-Za-z0-9._:-]),
 * else a new time-ordered UUID (v7): records keyed by it append at the end of the
 * store's index instead of dirtying a random page per insert (random v4 ids cost ~17 µs
 * of CPU per request in WAL writes and checkpoints once the table is large).
 */
export function requestIdFrom(value: string | string[] | undefined): string {
  return typeof value === "string" && validId.test(value) ? value : newRequestId();
}

// uuid's own v7 asks the OS for 16 random bytes per id (~2.5 % of the sync path's CPU);
// these come from a pool refilled every 256 ids, with uuid's ordering kept: the ids of
// one millisecond count up from a random start.
const randomPool = Buffer.allocUnsafe(16 * 256);
let poolAt = randomPool.length;
const clock = { msecs: -Infinity, seq: 0 };

function newRequestId(): string {
  if (poolAt === randomPool.length) {
    randomFillSync(randomPool);
    poolAt = 0;
  }
  const random = randomPool.subarray(poolAt, (poolAt += 16));
  const now = Date.now();
  if (now > clock.msecs) {
    clock.msecs = now;
    clock.seq = random.readUInt32BE(6) & 0x7fffffff;
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs++;
  }
  return timeOrderedUuid({ random, msecs: clock.msecs, seq: clock.seq });
}
