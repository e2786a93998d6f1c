// The wire format of a queued request and of its reply: each carries its fields in one
// JSON header, so a message costs one header encode and decode. nats.js re-scans every
// header on each set/get/decode, and one header per field made that a third of the
// sync path's allocations. Dead letters keep their documented `Vx-Id`/`Vx-Error`.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { HeaderMap } from "../app/headers.ts";

/** Bumped on an incompatible change; a sidecar refuses (dead-letters) other versions. */
export const wireVersion = 1;

export const wireHeaders = {
  job: "Vx-Job",
  result: "Vx-Result",
  /** Dead letters only (documented in docs/sidecar.md). */
  id: "Vx-Id",
  error: "Vx-Error",
} as const;

/** A request as admitted: what the executor needs besides its body. */
export interface JobMeta {
  id: string;
  revision: string;
  configKey: string;
  method: string;
  path: string;
  headers: HeaderMap;
  receivedAt: number;
}

/** What a queued message carries in `Vx-Job`; the body is the message's payload. */
export interface QueuedJob extends JobMeta {
  /** sync: the holder's reply subject. */
  reply?: string | undefined;
  /**
   * sync, for executors that predate claims: past this (epoch ms, the holder's clock)
   * the holder has answered the overflow status. Executors that know claims ignore it.
   */
  deadline?: number | undefined;
  /** sync: the holder answers claims; an executor runs the request only once it claimed it. */
  claim?: true | undefined;
}

/**
 * What goes between the holder of a sync request and its executor: an event ("started"
 * from executors that predate claims; "claim" asks the holder whether the request may
 * still run, "claimed" grants it), a response, or an error.
 */
export interface JobResult {
  event?: "started" | "claim" | "claimed";
  /** "claimed": how many times the request has been claimed, this one included. */
  attempt?: number;
  status?: number;
  headers?: HeaderMap;
  /** The app's trailers, when it sent any (sync replies). */
  trailers?: HeaderMap;
  /** An ErrorCode the holder answers with instead of a response. */
  error?: string;
}

export function jobHeaders(job: QueuedJob): MsgHdrs {
  const h = natsHeaders();
  h.set(wireHeaders.job, JSON.stringify({ v: wireVersion, ...job }));
  return h;
}

/** The job a message carries, or why it carries none. */
export function readJob(h: MsgHdrs | undefined): QueuedJob | { malformed: string } {
  const raw = h?.get(wireHeaders.job);
  if (!raw) return { malformed: `no ${wireHeaders.job} header` };
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch {
    return { malformed: `${wireHeaders.job} is not JSON` };
  }
  if (typeof j !== "object" || j === null) return { malformed: `${wireHeaders.job} is not an object` };
  const o = j as Record<string, unknown>;
  if (o["v"] !== wireVersion)
    return { malformed: `${wireHeaders.job} version ${String(o["v"])}, this sidecar reads ${wireVersion}` };
  const strings = ["id", "revision", "configKey", "method", "path"] as const;
  for (const k of strings)
    if (typeof o[k] !== "string") return { malformed: `${wireHeaders.job}.${k} missing` };
  if (o["id"] === "") return { malformed: `${wireHeaders.job}.id is empty` };
  if (typeof o["receivedAt"] !== "number") return { malformed: `${wireHeaders.job}.receivedAt missing` };
  if (typeof o["headers"] !== "object" || o["headers"] === null)
    return { malformed: `${wireHeaders.job}.headers missing` };
  if (o["reply"] !== undefined && typeof o["reply"] !== "string")
    return { malformed: `${wireHeaders.job}.reply is not a subject` };
  if (o["deadline"] !== undefined && typeof o["deadline"] !== "number")
    return { malformed: `${wireHeaders.job}.deadline is not a time` };
  if (o["claim"] !== undefined && o["claim"] !== true)
    return { malformed: `${wireHeaders.job}.claim is not true` };
  return j as QueuedJob;
}

export function resultHeaders(r: JobResult): MsgHdrs {
  const h = natsHeaders();
  h.set(wireHeaders.result, JSON.stringify(r));
  return h;
}

/** A reply's result; a reply without one is answered as a bad gateway by the holder. */
export function readResult(h: MsgHdrs | undefined): JobResult {
  const raw = h?.get(wireHeaders.result);
  if (!raw) return { error: "VX_ERR_UPSTREAM_UNAVAILABLE" };
  try {
    const r = JSON.parse(raw) as JobResult | null;
    return typeof r === "object" && r !== null ? r : { error: "VX_ERR_UPSTREAM_UNAVAILABLE" };
  } catch {
    return { error: "VX_ERR_UPSTREAM_UNAVAILABLE" };
  }
}
