// The client-facing listener. Admission (id, resolved config, record) is the same for
// every mode; then the request goes straight to the app under the local bound
// (`direct`) or through JetStream (`sync`, `async`, via the QueueClient).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import {
  resolveIn,
  type AppliedRevision,
  type CurrentConfig,
  type ResolvedRef,
} from "../config/current-config.ts";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import { sendError } from "../errors.ts";
import { contract } from "../config/settings.ts";
import { listenerRoles, listenOn } from "../listen.ts";
import type { Metrics } from "../metrics.ts";
import type { Job, QueueClient } from "../queue/port.ts";
import type { Readiness } from "../readiness.ts";
import type { RequestStore } from "../state/store.ts";
import { endToEnd, requestIdFrom, veltrixHeaders, type HeaderMap } from "../app/headers.ts";
import { Limiter, type Acquire } from "./limiter.ts";
import type { Upstream } from "../app/upstream.ts";
import { logger } from "../log.ts";

const log = logger("proxy");

export interface ProxyDeps {
  config: CurrentConfig;
  store: RequestStore;
  upstream: Upstream;
  metrics: Metrics;
  queue: QueueClient | undefined;
  maxHeaderBytes: number;
  /** This process's readiness, for the kubelet's probes (see `probePaths`). */
  readiness: () => Readiness;
}

const noBody = Buffer.alloc(0);

/** Paths the sidecar answers itself (never forwarded), under a prefix apps leave alone. */
export const statusPathPrefix = "/_veltrix/requests/";
// The kubelet's probes (contract.sidecarProbePaths) answer with status codes only: the
// reasons stay on the localhost admin API's /readyz.
const probePaths = contract.sidecarProbePaths;

export class ProxyServer {
  readonly server: Server;
  readonly limiter: Limiter;
  private draining = false;
  private readonly deps: ProxyDeps;
  /** Requests admitted and not finished, and who waits for that count to reach 0 (drain). */
  private inProgress = 0;
  private idle: (() => void)[] = [];
  /** Label children of the hot path, bound once (labelled lookups hash on every call). */
  private readonly hot: ReturnType<typeof hotMetrics>;

  constructor(deps: ProxyDeps) {
    this.deps = deps;
    this.hot = hotMetrics(deps.metrics);
    const cfg = deps.config;
    this.limiter = new Limiter(
      () => cfg.current.settings.maxConcurrency,
      () => cfg.current.settings.maxQueueDepth,
    );
    cfg.onChange(() => this.limiter.pump());
    this.server = createServer(
      { maxHeaderSize: deps.maxHeaderBytes, insecureHTTPParser: false, keepAliveTimeout: 65_000 },
      (req, res) => {
        this.inProgress++;
        this.handle(req, res).then(this.finished, (err: unknown) => {
          log.error("unhandled", { err });
          sendError(res, "VX_ERR_INTERNAL", undefined, this.overflow());
          this.finished();
        });
      },
    );
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const code: ErrorCode =
        err.code === "HPE_HEADER_OVERFLOW" ? "VX_ERR_HEADERS_TOO_LARGE" : "VX_ERR_BAD_REQUEST";
      const status =
        code === "VX_ERR_HEADERS_TOO_LARGE" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      const body = JSON.stringify({ code });
      socket.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nx-veltrix-error: ${code}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  }

  private readonly finished = (): void => {
    if (--this.inProgress > 0 || this.idle.length === 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  };

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host, listenerRoles.proxy);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops admitting; resolves when every admitted request finished or `graceMs` passed. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    this.server.closeIdleConnections();
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    const allDone = this.inProgress === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.push(r));
    await Promise.race([allDone, deadline]);
    this.server.closeAllConnections();
  }

  private overflow(): { status: number; retryAfterSeconds: number } {
    const s = this.deps.config.current.settings;
    return { status: s.overflowStatus, retryAfterSeconds: s.retryAfterSeconds };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { store, metrics, config } = this.deps;
    const id = requestIdFrom(req.headers[veltrixHeaders.requestId]);
    const url = req.url ?? "/";
    if (req.method === "GET" && url.startsWith("/_veltrix/")) {
      if (url.startsWith(statusPathPrefix)) return this.status(url.slice(statusPathPrefix.length), res);
      if (url === probePaths.healthz) return probeAnswer(res, true);
      if (url === probePaths.readyz) return probeAnswer(res, this.deps.readiness().reasons.length === 0);
    }
    const rev = config.current;
    const s = rev.settings;
    if (this.draining) {
      res.setHeader("connection", "close");
      metrics.requests.inc({ mode: s.mode, outcome: "VX_ERR_DRAINING" });
      return sendError(res, "VX_ERR_DRAINING", id, this.overflow());
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > s.maxBodyBytes) {
      res.setHeader("connection", "close");
      metrics.requests.inc({ mode: s.mode, outcome: "VX_ERR_BODY_TOO_LARGE" });
      return sendError(res, "VX_ERR_BODY_TOO_LARGE", id, this.overflow());
    }
    const path = url;
    const ref = resolveIn(rev, path, req.headers);
    const receivedAt = Date.now();
    if (ref.isNew) store.putConfig(ref.key, ref.revision, ref.json);
    let mode = s.mode;
    if (mode !== "direct" && !this.deps.queue?.available) {
      if (s.onBrokerUnavailable === "direct") mode = "direct";
      else {
        metrics.requests.inc({ mode, outcome: "VX_ERR_BROKER_UNAVAILABLE" });
        return sendError(res, "VX_ERR_BROKER_UNAVAILABLE", id, this.overflow());
      }
    }
    // Direct mode takes its slot now: a request that gets one at once is recorded as
    // dispatched in one write instead of two.
    const got = mode === "direct" ? this.limiter.acquire(s.maxWaitMs) : undefined;
    store.admit({
      id,
      revision: ref.revision,
      configHash: ref.key,
      mode,
      method: req.method ?? "GET",
      path,
      receivedAt,
      dispatched: got === "granted",
    });
    const headers = endToEnd(req.headers, true);
    headers[veltrixHeaders.requestId] = id;
    headers[veltrixHeaders.revision] = ref.revision;
    headers[veltrixHeaders.attempt] = "1";
    const plus = ref.key.indexOf("+");
    if (plus > 0) headers[veltrixHeaders.overrides] = ref.key.slice(plus + 1).replaceAll("+", ",");
    if (mode === "direct") return this.direct(got ?? "full", id, req, res, headers, rev, receivedAt);
    res.setHeader(veltrixHeaders.requestId, id);
    res.setHeader(veltrixHeaders.revision, ref.revision);
    return this.queued(mode, id, req, res, headers, rev, ref, receivedAt);
  }

  private async direct(
    got: Acquire,
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    headers: HeaderMap,
    rev: AppliedRevision,
    receivedAt: number,
  ): Promise<void> {
    const { store, metrics, upstream } = this.deps;
    const s = rev.settings;
    const waited = got !== "granted";
    if (waited) {
      const ok = got === "full" ? false : await got;
      if (!ok)
        return this.shed(id, res, "direct", got === "full" ? "VX_ERR_QUEUE_FULL" : "VX_ERR_QUEUE_TIMEOUT");
      if (res.destroyed) {
        this.limiter.release();
        store.update(id, { state: "failed", at: Date.now(), error: "client closed while waiting" });
        return;
      }
    }
    metrics.inFlight.inc();
    const dispatchedAt = waited ? Date.now() : receivedAt;
    if (waited) store.update(id, { state: "dispatched", at: dispatchedAt, attempt: 1 });
    this.hot.directQueueWait.observe((dispatchedAt - receivedAt) / 1000);
    const hasBody =
      req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    const body = hasBody
      ? req.headers["content-length"] !== undefined
        ? req
        : limitBody(req, s.maxBodyBytes)
      : null;
    try {
      const ours = { [veltrixHeaders.requestId]: id, [veltrixHeaders.revision]: rev.doc.revision };
      const status = await upstream.streamTo(req, body, headers, ours, res, s.requestTimeoutMs);
      const now = Date.now();
      metrics.upstreamLatency.observe((now - dispatchedAt) / 1000);
      store.update(id, { state: "done", at: now, status });
      this.hot.directDone.inc();
    } catch (err) {
      const code = errorCode(err, res);
      store.update(id, { state: "failed", at: Date.now(), error: code });
      metrics.requests.inc({ mode: "direct", outcome: code });
      if (!res.headersSent) res.setHeader(veltrixHeaders.revision, rev.doc.revision);
      if (code !== "client_closed") sendError(res, code, id, this.overflow());
    } finally {
      metrics.inFlight.dec();
      this.limiter.release();
    }
  }

  private async queued(
    mode: "sync" | "async",
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    headers: HeaderMap,
    rev: AppliedRevision,
    ref: ResolvedRef,
    receivedAt: number,
  ): Promise<void> {
    const { store, metrics } = this.deps;
    const queue = this.deps.queue;
    if (!queue) throw new Error("queued mode without a queue client");
    const s = rev.settings;
    let body: Buffer;
    try {
      // No body framing means no body: leave the stream unread (reading it makes the
      // socket allocate read buffers that a held request would keep).
      const framed =
        req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
      body = framed ? await readBody(req, s.maxBodyBytes) : noBody;
    } catch (err) {
      const code = errorCode(err, res);
      store.update(id, { state: "failed", at: Date.now(), error: code });
      if (code !== "client_closed") sendError(res, code, id, this.overflow());
      return;
    }
    const job: Job = {
      id,
      revision: ref.revision,
      configKey: ref.key,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers,
      body,
      receivedAt,
      settings: s,
    };
    try {
      if (mode === "async") {
        await queue.async(job);
        store.update(id, { state: "queued", at: Date.now() });
        await store.flush(); // the 202 acknowledges the record too
        const out = JSON.stringify({ id, status: `${statusPathPrefix}${id}`, revision: ref.revision });
        res.writeHead(202, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(out),
          location: `${statusPathPrefix}${id}`,
        });
        res.end(out);
        metrics.requests.inc({ mode, outcome: "accepted" });
        return;
      }
      store.update(id, { state: "queued", at: Date.now() });
      const reply = await queue.sync(job);
      reply.headers["content-length"] = String(reply.body.length);
      if (!res.destroyed) {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      }
      store.update(id, { state: "done", at: Date.now(), status: reply.status });
      this.hot.syncDone.inc();
    } catch (err) {
      const code = errorCode(err, res);
      if (code === "VX_ERR_QUEUE_FULL" || code === "VX_ERR_QUEUE_TIMEOUT")
        return this.shed(id, res, mode, code);
      store.update(id, { state: "failed", at: Date.now(), error: code });
      metrics.requests.inc({ mode, outcome: code });
      if (code !== "client_closed") sendError(res, code, id, this.overflow());
    }
  }

  private shed(id: string, res: ServerResponse, mode: string, code: ErrorCode): void {
    this.deps.store.update(id, { state: "shed", at: Date.now(), error: code });
    this.deps.metrics.shed.inc({ reason: code });
    this.deps.metrics.requests.inc({ mode, outcome: "shed" });
    sendError(res, code, id, this.overflow());
  }

  private async status(id: string, res: ServerResponse): Promise<void> {
    const fromQueue = await this.deps.queue?.outcome(id).catch(() => undefined);
    const local = await this.deps.store.get(id);
    const found =
      fromQueue ?? (local ? { id, state: local.state, status: local.status, record: local } : undefined);
    if (!found) return sendError(res, "VX_ERR_NOT_FOUND", id, this.overflow());
    const body = JSON.stringify(found);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }
}

function probeAnswer(res: ServerResponse, ok: boolean): void {
  const body = ok ? '{"ok":true}' : '{"ok":false}';
  res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

function hotMetrics(m: Metrics) {
  return {
    directDone: m.requests.labels({ mode: "direct", outcome: "done" }),
    directQueueWait: m.queueWait.labels({ mode: "direct" }),
    syncDone: m.requests.labels({ mode: "sync", outcome: "done" }),
  };
}

function errorCode(err: unknown, res: ServerResponse): ErrorCode | "client_closed" {
  if (err instanceof VeltrixError) return err.code;
  if (res.destroyed || (err instanceof Error && err.name === "AbortError")) return "client_closed";
  log.error("request failed", { err });
  return "VX_ERR_INTERNAL";
}

/** Counts a chunked body on its way up; errors with VX_ERR_BODY_TOO_LARGE past the limit. */
function limitBody(req: IncomingMessage, max: number): Readable {
  return Readable.from(
    (async function* () {
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > max) throw new VeltrixError("VX_ERR_BODY_TOO_LARGE");
        yield chunk;
      }
    })(),
  );
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        reject(new VeltrixError("VX_ERR_BODY_TOO_LARGE"));
        return;
      }
      chunks.push(c);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
