// What sidecars apply, computed purely from a VeltrixConfig spec: the ConfigDocument
// (published to NATS KV and a ConfigMap), its revision hash, and per-request config
// resolution. Imported by the operator and the sidecar; no I/O here.
import { createHash } from "node:crypto";
import {
  specDefaults,
  type VeltrixConfigSpec,
  type VeltrixConfigSpecOverridesItemResolved,
  type VeltrixConfigSpecQueueResolved,
  type VeltrixConfigSpecResolved,
  type VeltrixConfigSpecStoreResolved,
} from "./types.generated.ts";

/** The document a sidecar applies. `revision` is the hash of everything else in it. */
export interface ConfigDocument {
  /** Schema of this document; bumped on incompatible change. */
  schema: 1;
  namespace: string;
  name: string;
  revision: string;
  config: Record<string, string>;
  overrides: VeltrixConfigSpecOverridesItemResolved[];
  queue: VeltrixConfigSpecQueueResolved;
  store: VeltrixConfigSpecStoreResolved;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mergeDefaults(defaults: unknown, value: unknown): unknown {
  if (value === undefined) return structuredClone(defaults);
  if (isPlainObject(defaults) && isPlainObject(value)) {
    const out: Record<string, unknown> = { ...value };
    for (const [k, d] of Object.entries(defaults)) out[k] = mergeDefaults(d, value[k]);
    return out;
  }
  return value;
}

/**
 * The spec with the CRD's defaults filled in. The API server already does this for
 * stored objects; this keeps the hash the same for a spec written without defaults.
 */
export function applyDefaults(spec: VeltrixConfigSpec | undefined): VeltrixConfigSpecResolved {
  return mergeDefaults(specDefaults, spec ?? {}) as VeltrixConfigSpecResolved;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Revision of what sidecars apply: 16 hex chars of SHA-256 over the canonical document. */
export function revisionOf(doc: Omit<ConfigDocument, "revision">): string {
  return createHash("sha256").update(canonicalJson(doc)).digest("hex").slice(0, 16);
}

/** The ConfigDocument for a VeltrixConfig. Sidecar image, resources and ports are not in it (injection-time only). */
export function configDocument(
  ref: { namespace: string; name: string },
  spec: VeltrixConfigSpec | undefined,
): ConfigDocument {
  const s = applyDefaults(spec);
  const body: Omit<ConfigDocument, "revision"> = {
    schema: 1,
    namespace: ref.namespace,
    name: ref.name,
    config: { ...(s.config ?? {}) },
    overrides: (s.overrides ?? []).map((o) => ({
      name: o.name,
      match: {
        ...(o.match.pathPrefix !== undefined ? { pathPrefix: o.match.pathPrefix } : {}),
        ...(o.match.headers !== undefined ? { headers: { ...o.match.headers } } : {}),
      },
      config: { ...o.config },
    })),
    queue: s.queue,
    store: s.store,
  };
  return { ...body, revision: revisionOf(body) };
}

/** The request attributes override rules look at. Header names in lowercase. */
export interface RequestFacts {
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Does one override's match hit the request? Every given condition must hit. */
export function overrideMatches(o: VeltrixConfigSpecOverridesItemResolved, req: RequestFacts): boolean {
  const { pathPrefix, headers } = o.match;
  if (pathPrefix === undefined && (headers === undefined || Object.keys(headers).length === 0)) return false;
  if (pathPrefix !== undefined && !req.path.startsWith(pathPrefix)) return false;
  for (const [name, want] of Object.entries(headers ?? {})) {
    const got = req.headers[name.toLowerCase()];
    if (Array.isArray(got) ? !got.includes(want) : got !== want) return false;
  }
  return true;
}

export interface ResolvedRequestConfig {
  config: Record<string, string>;
  /** Names of the overrides applied, in order. */
  applied: string[];
}

/** Per-request config: the base config merged with every matching override, later ones winning. */
export function resolveConfig(
  doc: Pick<ConfigDocument, "config" | "overrides">,
  req: RequestFacts,
): ResolvedRequestConfig {
  const config = { ...doc.config };
  const applied: string[] = [];
  for (const o of doc.overrides) {
    if (!overrideMatches(o, req)) continue;
    Object.assign(config, o.config);
    applied.push(o.name);
  }
  return { config, applied };
}

/** Go-style duration ("1h30m", "500ms") to milliseconds; throws on a malformed value. */
export function parseDuration(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * (unit[m[2] ?? ""] ?? Number.NaN);
    consumed += m[0].length;
  }
  if (text.length === 0 || consumed !== text.length || !Number.isFinite(total)) {
    throw new Error(`invalid duration '${text}' (want for example "500ms", "30s", "1h30m")`);
  }
  return total;
}
