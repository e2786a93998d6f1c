// `veltrix request ID`: one request's record and outcome, from where they are kept.
//   --admin URL            a sidecar's admin API (GET /v1/requests/ID): the record (state,
//                          revision, attempts, timings), the resolved config it ran with
//                          and, for async, its outcome. Any pod of the config answers for
//                          the pods it knows (--workers shares records across workers).
//   -n NS --config NAME    the config's outcome bucket in NATS (contract.outcomeBucketName):
//                          the outcome of an async request and every dead-lettered one,
//                          kept for store.retention; there is no record there.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { JetStreamApiError } from "@nats-io/jetstream";
import { type ConfigRef, outcomeBucketName, outcomeKey } from "../api/contract.ts";

export interface RequestFound {
  source: "admin" | "outcome-bucket";
  id: string;
  /** The sidecar's record (admin API only). */
  record: Record<string, unknown> | null;
  /** The resolved config the request ran with (admin API only). */
  config: unknown;
  /** The stored outcome: status, headers, body (base64), or a dead letter's error. */
  outcome: Record<string, unknown> | null;
}

/** From a sidecar's admin API; undefined when it does not know the request. */
export async function requestFromAdmin(admin: string, id: string): Promise<RequestFound | undefined> {
  const url = new URL(`/v1/requests/${encodeURIComponent(id)}`, admin);
  const res = await fetch(url);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${url.href} answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as {
    record?: Record<string, unknown>;
    config?: unknown;
    outcome?: Record<string, unknown> | null;
  };
  return {
    source: "admin",
    id,
    record: body.record ?? null,
    config: body.config ?? null,
    outcome: body.outcome ?? null,
  };
}

/** From the config's outcome bucket; undefined when there is no outcome for it (or no bucket). */
export async function requestFromOutcomeBucket(
  nc: NatsConnection,
  ref: ConfigRef,
  id: string,
): Promise<RequestFound | undefined> {
  let entry;
  try {
    const kv = await new Kvm(nc).open(outcomeBucketName(ref));
    entry = await kv.get(outcomeKey(ref, id));
  } catch (err) {
    // No bucket: no async request or dead letter of this config is kept.
    if (err instanceof JetStreamApiError && err.code === 10059) return undefined;
    if (err instanceof Error && /stream not found|bucket not found/i.test(err.message)) return undefined;
    throw err;
  }
  if (!entry || entry.operation !== "PUT") return undefined;
  return { source: "outcome-bucket", id, record: null, config: null, outcome: entry.json() };
}

/** A value as one line: numbers and strings as they are, anything else as JSON. */
function text(v: unknown): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean"
    ? String(v)
    : JSON.stringify(v);
}

function time(v: unknown): string {
  return typeof v === "number" ? new Date(v).toISOString() : text(v);
}

/** A readable body: text as is (first 2000 characters), anything else as its size. */
function bodyText(base64: unknown): string {
  if (typeof base64 !== "string" || base64 === "") return "(empty)";
  const bytes = Buffer.from(base64, "base64");
  const body = bytes.toString("utf8");
  // Replacement characters (invalid UTF-8) or control characters other than tab and newlines.
  const binary = [...body].some((ch) => {
    const c = ch.codePointAt(0)!;
    return c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d);
  });
  if (binary) return `(${bytes.length} bytes, not text)`;
  return body.length > 2000 ? `${body.slice(0, 2000)}… (${bytes.length} bytes)` : body;
}

export function renderRequest(r: RequestFound): string {
  const out = [
    `request ${r.id} (from ${r.source === "admin" ? "the sidecar's admin API" : "the outcome bucket"})`,
  ];
  if (r.record) {
    out.push("record:");
    for (const [k, v] of Object.entries(r.record)) {
      if (v === null || v === undefined) continue;
      out.push(`  ${k}: ${/At$/.test(k) ? time(v) : text(v)}`);
    }
  }
  if (r.config && typeof r.config === "object") {
    // The resolved config the request ran with: {revision, overrides (names applied), config}.
    const c = r.config as { config?: unknown; overrides?: unknown };
    out.push(`config: ${JSON.stringify(c.config ?? c)}`);
    if (Array.isArray(c.overrides) && c.overrides.length > 0)
      out.push(`overrides: ${c.overrides.join(", ")}`);
  }
  if (r.outcome) {
    const o = r.outcome;
    out.push("outcome:");
    if (o.state !== undefined) out.push(`  state: ${text(o.state)}`);
    if (o.deadLettered === true) out.push("  dead-lettered: yes");
    if (o.error !== undefined) out.push(`  error: ${text(o.error)}`);
    if (o.attempt !== undefined) out.push(`  attempt: ${text(o.attempt)}`);
    if (o.revision !== undefined) out.push(`  revision: ${text(o.revision)}`);
    if (o.status !== undefined) out.push(`  status: ${text(o.status)}`);
    if (o.at !== undefined) out.push(`  at: ${time(o.at)}`);
    if (o.headers && typeof o.headers === "object") out.push(`  headers: ${JSON.stringify(o.headers)}`);
    if (o.body !== undefined) out.push(`  body: ${bodyText(o.body)}`);
  } else out.push("outcome: none stored (a sync request's answer went to its client)");
  return `${out.join("\n")}\n`;
}
