// What every stage of the proxy shares: one admitted request (its context), and the
// parts the modes use (store, metrics, queue, answers) behind one small interface.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import { endToEnd, type HeaderMap, veltrixHeaders } from "../app/headers.ts";
import type { Upstream } from "../app/upstream.ts";
import type { AppliedRevision, ResolvedRef } from "../config/current-config.ts";
import type { Metrics } from "../metrics.ts";
import type { QueueClient } from "../queue/port.ts";
import type { RequestStore } from "../state/store.ts";
import type { Limiter } from "./limiter.ts";
import { logger } from "../log.ts";

const log = logger("proxy");

/** One request past admission: it has an id, a revision, a record, and the app's headers. */
export interface RequestContext {
  readonly id: string;
  /** The origin-form target the app is sent (request-shape.ts). */
  readonly target: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** What the app receives: the end-to-end headers plus Veltrix's own. */
  readonly headers: HeaderMap;
  /** The revision it was admitted under; it runs with this one whatever arrives later. */
  readonly rev: AppliedRevision;
  readonly ref: ResolvedRef;
  readonly receivedAt: number;
}

/** What the modes need from the proxy. */
export interface ModeParts {
  readonly store: RequestStore;
  readonly metrics: Metrics;
  readonly upstream: Upstream;
  readonly limiter: Limiter;
  readonly queue: QueueClient | undefined;
  /** Label children of the hot path, bound once (labelled lookups hash on every call). */
  readonly hot: HotMetrics;
  /** Answers with the code's error (the config's overflow status for overflow codes). */
  fail(ctx: { id: string; res: ServerResponse }, code: ErrorCode): void;
  /** Answers a request the queue could not take or hold: recorded and counted as shed. */
  shed(ctx: { id: string; res: ServerResponse }, mode: string, code: ErrorCode): void;
}

export function hotMetrics(m: Metrics) {
  return {
    directDone: m.requests.labels({ mode: "direct", outcome: "done" }),
    directQueueWait: m.queueWait.labels({ mode: "direct" }),
    syncDone: m.requests.labels({ mode: "sync", outcome: "done" }),
  };
}

export type HotMetrics = ReturnType<typeof hotMetrics>;

/** The code a failed request is answered and recorded with; a client that left is no error. */
export function failureCode(err: unknown, res: ServerResponse): ErrorCode | "client_closed" {
  if (err instanceof VeltrixError) return err.code;
  if (res.destroyed || (err instanceof Error && err.name === "AbortError")) return "client_closed";
  log.error("request failed", { err });
  return "VX_ERR_INTERNAL";
}

/** What the app receives: the request's end-to-end headers plus Veltrix's own. */
export function appHeaders(id: string, req: { headers: IncomingHttpHeaders }, ref: ResolvedRef): HeaderMap {
  const headers = endToEnd(req.headers, true);
  headers[veltrixHeaders.requestId] = id;
  headers[veltrixHeaders.revision] = ref.revision;
  headers[veltrixHeaders.attempt] = "1";
  const plus = ref.key.indexOf("+");
  if (plus > 0) headers[veltrixHeaders.overrides] = ref.key.slice(plus + 1).replaceAll("+", ",");
  return headers;
}
