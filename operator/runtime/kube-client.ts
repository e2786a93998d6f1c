// The operator's Kubernetes API client: JSON requests and watches over node:https with one
// keep-alive connection pool, authenticated by whatever the connection applies (a bearer
// token, a client certificate, the cluster's CA). It stands in for @kubernetes/client-node
// at run time: importing client-node loads all of its generated models and APIs, undici,
// openid-client, js-yaml and more (+56 MiB RSS in a fresh Node 24 process, measured in
// docs/benchmarks.md, "Operator"), for the few calls the operator makes. client-node's types
// are still used (`import type` costs nothing at run time), and its KubeConfig can stand in
// for a connection (the tests pass one), since it has the two methods used here.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type * as https from "node:https";
import type { Agent, RequestOptions } from "node:https";

/** Told of every request (verb, resource), for the operator's API request counter. */
export type RequestObserver = (verb: string, resource: string) => void;

/** Where the API server is and how to authenticate: client-node's KubeConfig or ours. */
export interface KubeConnection {
  getCurrentCluster(): { readonly server: string } | null;
  /** Fills TLS options (ca, cert, key, rejectUnauthorized, servername) and auth headers. */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
  observer?: RequestObserver | undefined;
}

/** An API error (status >= 300), shaped as client-node's: `code` is the HTTP status. */
export class ApiException<T = unknown> extends Error {
  readonly code: number;
  readonly body: T;
  readonly headers: Record<string, string>;
  constructor(code: number, message: string, body: T, headers: Record<string, string>) {
    super(
      `HTTP-Code: ${code}\nMessage: ${message}\nBody: ${JSON.stringify(body)}\nHeaders: ${JSON.stringify(headers)}`,
    );
    this.name = "ApiException";
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

export const PatchStrategy = {
  JsonPatch: "application/json-patch+json",
  MergePatch: "application/merge-patch+json",
  StrategicMergePatch: "application/strategic-merge-patch+json",
} as const;
export type PatchStrategy = (typeof PatchStrategy)[keyof typeof PatchStrategy];

/** Extra request headers; `setHeaderOptions("Content-Type", PatchStrategy.MergePatch)` as in client-node. */
export interface RequestHeaders {
  headers: Record<string, string>;
}

export function setHeaderOptions(name: string, value: string): RequestHeaders {
  return { headers: { [name]: value } };
}

/** "/apis/veltrix.io/v1alpha1/namespaces/x/veltrixconfigs/y/status" → "veltrixconfigs/status". */
export function resourceOf(url: string): string {
  const path = new URL(url, "https://x").pathname.split("/").filter(Boolean);
  const start = path[0] === "api" ? 2 : 3; // api/v1/... or apis/group/version/...
  const rest = path.slice(start);
  if (rest[0] === "namespaces" && rest.length > 2) rest.splice(0, 2);
  const resource = rest[0] ?? "";
  const sub = rest.length >= 3 ? rest[2] : undefined;
  return sub ? `${resource}/${sub}` : resource;
}

export type Query = Record<string, string | number | boolean | undefined>;

export function withQuery(path: string, query: Query | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** How long one pool is used before a new one is made (picks up rotated client certificates). */
const poolTtlMs = 10 * 60_000;
/** A request (not a watch) that has no answer after this long fails. */
const requestTimeoutMs = 60_000;

interface Pool {
  agent: Agent;
  at: number;
}
const pools = new WeakMap<KubeConnection, Pool>();

function retire(agent: Agent): void {
  // In-flight requests and open watches finish on their sockets; none goes back to the pool.
  agent.keepSocketAlive = () => false;
  for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
}

interface Prepared {
  url: URL;
  options: RequestOptions;
  request: typeof https.request;
}

async function prepare(conn: KubeConnection, path: string): Promise<Prepared> {
  const cluster = conn.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const opts: RequestOptions = {};
  await conn.applyToHTTPSOptions(opts);
  const url = new URL(cluster.server.replace(/\/+$/, "") + path);
  // getBuiltinModule, not an ESM import: see operator/runtime/http.ts.
  const secure = url.protocol === "https:";
  const mod = process.getBuiltinModule(secure ? "node:https" : "node:http") as typeof https;
  const now = Date.now();
  let pool = pools.get(conn);
  if (!pool || now - pool.at >= poolTtlMs) {
    if (pool) retire(pool.agent);
    const tls = secure
      ? {
          ...(opts.ca !== undefined && { ca: opts.ca }),
          ...(opts.cert !== undefined && { cert: opts.cert }),
          ...(opts.key !== undefined && { key: opts.key }),
          ...(opts.rejectUnauthorized !== undefined && { rejectUnauthorized: opts.rejectUnauthorized }),
          ...(opts.servername !== undefined && { servername: opts.servername }),
        }
      : {};
    pool = { agent: new mod.Agent({ keepAlive: true, ...tls }), at: now };
    pools.set(conn, pool);
  }
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "veltrix-operator" };
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  const options: RequestOptions = {
    agent: pool.agent,
    headers,
    ...(opts.auth !== undefined && { auth: opts.auth }),
  };
  return { url, options, request: mod.request };
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function send(p: Prepared, method: string, body: string | undefined, timeoutMs: number | undefined) {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = p.request(p.url, { ...p.options, method }, resolve);
    req.on("error", reject);
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${p.url.pathname}: no answer in ${timeoutMs} ms`)),
      );
    }
    req.end(body);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  res.setEncoding("utf8");
  let text = "";
  for await (const chunk of res) text += chunk as string;
  return text;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function fail(res: IncomingMessage): Promise<never> {
  const body = parse(await readBody(res));
  const message =
    (body as { message?: unknown } | undefined)?.message !== undefined
      ? String((body as { message: unknown }).message)
      : (res.statusMessage ?? "");
  throw new ApiException(res.statusCode ?? 0, message, body, flatHeaders(res.headers));
}

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** Content type of the body (default application/json). */
  contentType?: string | undefined;
  options?: RequestHeaders | undefined;
}

/** One JSON request; resolves with the parsed answer, throws ApiException for status >= 300. */
export async function kubeRequest<T>(conn: KubeConnection, r: KubeRequest): Promise<T> {
  const path = withQuery(r.path, r.query);
  const p = await prepare(conn, path);
  conn.observer?.(r.method, resourceOf(path));
  const headers = p.options.headers as Record<string, string>;
  let body: string | undefined;
  if (r.body !== undefined) {
    body = JSON.stringify(r.body);
    headers["content-type"] = r.contentType ?? "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  for (const [k, v] of Object.entries(r.options?.headers ?? {})) headers[k.toLowerCase()] = v;
  const res = await send(p, r.method, body, requestTimeoutMs);
  if ((res.statusCode ?? 0) >= 300) return fail(res);
  return parse(await readBody(res)) as T;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchHandle {
  /** Resolves when the server ends the watch, rejects on a connection or stream error. */
  done: Promise<void>;
  stop(): void;
}

/**
 * Opens a watch (`?watch=1`) and calls `onEvent` for each event in the stream. An ERROR
 * event (for example 410 Gone) is passed on as it comes; the caller decides what to do.
 * A connection silent for a minute past the query's timeoutSeconds (when the server should
 * have ended the watch) is taken for dead and fails the watch.
 */
export async function kubeWatch(
  conn: KubeConnection,
  path: string,
  query: Query,
  onEvent: (type: WatchEventType, object: unknown) => void,
): Promise<WatchHandle> {
  const full = withQuery(path, { ...query, watch: 1 });
  const p = await prepare(conn, full);
  conn.observer?.("WATCH", resourceOf(full));
  const silentMs =
    typeof query["timeoutSeconds"] === "number" ? (query["timeoutSeconds"] + 60) * 1000 : undefined;
  const res = await send(p, "GET", undefined, silentMs);
  if ((res.statusCode ?? 0) >= 300) return fail(res);
  res.setEncoding("utf8");
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    let pending = "";
    res.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while (!stopped && (nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        let event: { type: WatchEventType; object: unknown };
        try {
          event = JSON.parse(line) as typeof event;
        } catch (err) {
          res.destroy(err as Error);
          return;
        }
        onEvent(event.type, event.object);
      }
    });
    res.on("end", () => resolve());
    res.on("close", () =>
      stopped || res.complete ? resolve() : reject(new Error("watch connection closed")),
    );
    res.on("error", (err) => (stopped ? resolve() : reject(err)));
  });
  return {
    done,
    stop() {
      stopped = true;
      res.destroy();
    },
  };
}
