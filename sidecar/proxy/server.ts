// The client-facing listener, as a chain of stages: the sidecar's own paths (probes,
// status URLs) → drain → limits → admission (id, the revision and resolved config it
// runs with, its record) → the config's mode: straight to the app under the local bound
// (`direct`, direct.ts) or through JetStream (`sync`, `async`, queued.ts).
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "../http.ts";
import cluster from "node:cluster";
import { Server as NetServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Duplex } from "node:stream";
import { statusPathPrefix } from "../../api/contract.ts";
import type { ErrorCode } from "../../api/errors.ts";
import { requestIdFrom, veltrixHeaders } from "../app/headers.ts";
import type { Upstream } from "../app/upstream.ts";
import {
  resolveIn,
  type AppliedRevision,
  type CurrentConfig,
  type ResolvedRef,
} from "../config/current-config.ts";
import { contract } from "../config/settings.ts";
import { rawErrorAnswer, sendError } from "../errors.ts";
import { listenerRoles, listenOn } from "../listen.ts";
import { logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { QueueClient } from "../queue/port.ts";
import type { Readiness } from "../readiness.ts";
import type { RequestStore } from "../state/store.ts";
import { appHeaders, type HotMetrics, hotMetrics, type ModeParts, type RequestContext } from "./context.ts";
import { hasBody } from "./body.ts";
import { runDirect } from "./direct.ts";
import { type Acquire, Limiter } from "./limiter.ts";
import { isUnsafe, Lane } from "./pipeline-order.ts";
import { runQueued } from "./queued.ts";
import { isRefusal, routedPath, shapeOf } from "./request-shape.ts";
import { passUpgrade } from "./upgrade.ts";

const log = logger("proxy");

/** A client's connection, with its pipeline lane (pipeline-order.ts). */
const laneKey = Symbol("veltrix.lane");
type ClientSocket = Socket & { [laneKey]: Lane };

export interface ProxyDeps {
  config: CurrentConfig;
  store: RequestStore;
  upstream: Upstream;
  metrics: Metrics;
  queue: QueueClient | undefined;
  maxHeaderBytes: number;
  /** How long a client may take to send its headers, and its whole request (408 past them). */
  clientTimeouts: { headersMs: number; requestMs: number };
  /** This process's readiness, for the kubelet's probes (see `probePaths`). */
  readiness: () => Readiness;
  /**
   * App slots the queue's executor holds (running or pulled): requests served directly
   * while the broker is away (onBrokerUnavailable: direct) share maxConcurrency with them.
   */
  queueSlots?: () => number;
}

// The kubelet's probes (contract.sidecarProbePaths) answer with status codes only: the
// reasons stay on the localhost admin API's /readyz.
const probePaths = contract.sidecarProbePaths;

/**
 * How long a client's keep-alive connection must have been quiet (nothing read from it,
 * no answer being written) before a draining sidecar closes it. A request sent on it
 * before that is answered (503 VX_ERR_DRAINING with Connection: close), so only a client
 * that stayed silent this long and sends at the very moment of the close can race it
 * (RFC 9112 §9.6 leaves that to clients: retry an idempotent request).
 */
const drainQuietMs = 1_000;
/** How often a drain looks at its open connections. */
const drainSweepMs = 50;

export class ProxyServer implements ModeParts {
  readonly server: Server;
  readonly limiter: Limiter;
  private draining = false;
  private readonly deps: ProxyDeps;
  readonly store: RequestStore;
  readonly metrics: Metrics;
  readonly upstream: Upstream;
  readonly queue: QueueClient | undefined;
  /** Requests admitted and not finished, and who waits for that count to reach 0 (drain). */
  private inProgress = 0;
  private idle: (() => void)[] = [];
  /** Clients' open connections (not upgraded ones): a drain closes each once it is quiet. */
  private readonly connections = new Set<Socket>();
  readonly hot: HotMetrics;

  constructor(deps: ProxyDeps) {
    this.deps = deps;
    this.store = deps.store;
    this.metrics = deps.metrics;
    this.upstream = deps.upstream;
    this.queue = deps.queue;
    this.hot = hotMetrics(deps.metrics);
    const cfg = deps.config;
    const queueSlots = deps.queueSlots ?? (() => 0);
    this.limiter = new Limiter(
      () => cfg.current.settings.maxConcurrency - (cfg.current.settings.mode === "direct" ? 0 : queueSlots()),
      () => cfg.current.settings.maxQueueDepth,
    );
    cfg.onChange(() => this.limiter.pump());
    const { headersMs, requestMs } = deps.clientTimeouts;
    this.server = createServer(
      {
        maxHeaderSize: deps.maxHeaderBytes,
        insecureHTTPParser: false,
        keepAliveTimeout: 65_000,
        // The Host rules are checked in `handle` (request-shape.ts), answered with our JSON error.
        requireHostHeader: false,
        headersTimeout: headersMs,
        requestTimeout: Math.max(requestMs, headersMs),
        // How often the timeouts above are checked (Node's 30 s made a 60 s limit ~80 s).
        connectionsCheckingInterval: Math.min(1000, headersMs),
      },
      (req, res) => {
        this.inProgress++;
        const lane = (req.socket as ClientSocket)[laneKey];
        const unsafe = isUnsafe(req.method);
        const finished = (): void => {
          lane.done(unsafe);
          this.finished();
        };
        this.handle(req, res, lane.take(unsafe)).then(finished, (err: unknown) => {
          log.error("unhandled", { err });
          try {
            sendError(res, "VX_ERR_INTERNAL", undefined, this.overflow());
          } catch (answerErr) {
            log.error("could not answer", { err: answerErr });
            res.destroy();
          }
          finished();
        });
      },
    );
    this.server.on("connection", (socket: ClientSocket) => {
      // Every connection gets its lane here, once (the same property on every socket).
      socket[laneKey] = new Lane();
      this.connections.add(socket);
      socket.once("close", () => this.connections.delete(socket));
    });
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      // An answer already under way (node:http's own check) cannot be followed by another.
      if (answeringOn(socket)?.headersSent) return socket.destroy();
      this.refuse(socket, clientErrorCode(err.code));
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
  }

  /** Answers on a raw socket (one the parser gave up on, or an upgrade) and closes it. */
  readonly refuse = (socket: Duplex, code: ErrorCode, detail?: string): void => {
    if (!socket.writable) return void socket.destroy();
    socket.end(rawErrorAnswer(code, this.overflow(), detail));
  };

  /** An upgrade (WebSocket): passed to the app in `direct` (upgrade.ts), refused otherwise. */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // No longer an HTTP connection: passUpgrade owns it, however it ends.
    this.connections.delete(socket as Socket);
    const rev = this.deps.config.current;
    const shape = shapeOf(req);
    if (isRefusal(shape)) return this.refuse(socket, shape.code, shape.detail);
    if (this.draining) return this.refuse(socket, "VX_ERR_DRAINING");
    if (this.modeFor(rev) !== "direct") return this.refuse(socket, "VX_ERR_UPGRADE_UNSUPPORTED");
    const id = requestIdFrom(req.headers[veltrixHeaders.requestId]);
    const { ref } = this.record(id, shape.target, req, rev, "direct", false);
    const headers = appHeaders(id, req, ref);
    void passUpgrade(this, { id, req, socket, head, target: shape.target, headers }, rev.settings.maxWaitMs);
  }

  private readonly finished = (): void => {
    if (--this.inProgress > 0 || this.idle.length === 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  };

  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host, listenerRoles.proxy, {
      reusePort: cluster.isWorker,
      // Each worker has its own accept queue: room for a burst of new connections while it
      // is busy (the kernel caps it at net.core.somaxconn).
      backlog: 4096,
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Stops admitting; resolves when every admitted request finished and every client's
   * connection is closed, or `graceMs` passed. A keep-alive connection is not closed while
   * its client may be sending on it (which would leave that request with no answer at all:
   * the node suite saw "other side closed" while pods rolled). Requests arriving on one are
   * answered 503 VX_ERR_DRAINING with Connection: close, answers of admitted requests close
   * their connection, and a connection is closed by the sidecar only once it has been quiet
   * for `drainQuietMs` (counted from the drain's start, or from the last activity seen).
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    // net.Server's close: no new connections. node:http's would also close the idle
    // keep-alive connections right away.
    NetServer.prototype.close.call(this.server);
    // Answers not started yet close their connection (pipelined ones queued behind them
    // leave it to the next request's 503).
    for (const socket of this.connections) {
      const res = answeringOn(socket);
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
    const start = Date.now();
    const deadline = start + graceMs;
    /** Per connection: the bytes read when last looked at, and since when it is quiet. */
    const seen = new Map<Socket, { bytesRead: number; quietSince: number }>();
    while (this.inProgress > 0 || this.connections.size > 0) {
      const now = Date.now();
      if (now >= deadline) break;
      for (const socket of this.connections) {
        const last = seen.get(socket);
        const busy =
          answeringOn(socket) !== undefined || (last !== undefined && socket.bytesRead !== last.bytesRead);
        const quietSince = busy ? now : (last?.quietSince ?? start);
        if (now - quietSince >= drainQuietMs) socket.destroy();
        else seen.set(socket, { bytesRead: socket.bytesRead, quietSince });
      }
      await sleep(Math.min(drainSweepMs, deadline - now), undefined, { ref: false });
    }
    this.server.closeAllConnections();
  }

  private overflow(): { status: number; retryAfterSeconds: number } {
    const s = this.deps.config.current.settings;
    return { status: s.overflowStatus, retryAfterSeconds: s.retryAfterSeconds };
  }

  fail(ctx: { id: string; res: ServerResponse }, code: ErrorCode): void {
    sendError(ctx.res, code, ctx.id, this.overflow());
  }

  shed(ctx: { id: string; res: ServerResponse }, mode: string, code: ErrorCode): void {
    this.store.update(ctx.id, { state: "shed", at: Date.now(), error: code });
    this.metrics.shed.inc({ reason: code });
    this.metrics.requests.inc({ mode, outcome: "shed" });
    sendError(ctx.res, code, ctx.id, this.overflow());
  }

  /** `ready`: the request's turn on its connection, when it must wait for one (pipeline-order.ts). */
  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    ready: Promise<void> | undefined,
  ): Promise<void> {
    const id = requestIdFrom(req.headers[veltrixHeaders.requestId]);
    const url = req.url ?? "/";
    if (req.method === "GET" && url.startsWith("/_veltrix/")) {
      if (url.startsWith(statusPathPrefix)) return this.status(url.slice(statusPathPrefix.length), res);
      if (url === probePaths.healthz) return probeAnswer(res, true);
      if (url === probePaths.readyz) return probeAnswer(res, this.deps.readiness().reasons.length === 0);
    }
    const rev = this.deps.config.current;
    const shape = shapeOf(req);
    if (isRefusal(shape)) {
      res.setHeader("connection", "close");
      this.metrics.requests.inc({ mode: rev.settings.mode, outcome: shape.code });
      return sendError(res, shape.code, id, this.overflow(), shape.detail);
    }
    if (shape.target === "*") return answerOptionsAsterisk(res);
    const refused = this.refusal(req, rev);
    if (refused) {
      // A refused body is read and dropped (node:http does it, within the client request
      // timeout) so the client, still sending, can read the 413 and not a reset connection.
      if (refused === "VX_ERR_DRAINING") res.setHeader("connection", "close");
      this.metrics.requests.inc({ mode: rev.settings.mode, outcome: refused });
      return sendError(res, refused, id, this.overflow());
    }
    const mode = this.modeFor(rev);
    if (ready) {
      // Pipelined behind a request it must not overtake: recorded now, run in its turn.
      const waiting = this.admit(id, shape.target, req, res, rev, mode, false);
      await ready;
      return this.run(waiting, mode, undefined);
    }
    // Direct mode takes its slot now unless a body must arrive first: a request that gets
    // one at once is recorded as dispatched in one write instead of two.
    const got = mode === "direct" && !hasBody(req) ? this.limiter.acquire(rev.settings.maxWaitMs) : undefined;
    return this.run(this.admit(id, shape.target, req, res, rev, mode, got === "granted"), mode, got);
  }

  private run(
    ctx: RequestContext,
    mode: "direct" | "sync" | "async",
    got: Acquire | undefined,
  ): Promise<void> {
    if (mode === "direct") return runDirect(this, ctx, got);
    ctx.res.setHeader(veltrixHeaders.requestId, ctx.id);
    ctx.res.setHeader(veltrixHeaders.revision, ctx.ref.revision);
    return runQueued(this, ctx, mode);
  }

  /** Why the request is refused before admission, if it is: draining, too large, no broker. */
  private refusal(req: IncomingMessage, rev: AppliedRevision): ErrorCode | undefined {
    const s = rev.settings;
    if (this.draining) return "VX_ERR_DRAINING";
    if (Number(req.headers["content-length"] ?? 0) > s.maxBodyBytes) return "VX_ERR_BODY_TOO_LARGE";
    if (s.mode !== "direct" && !this.queue?.available && s.onBrokerUnavailable !== "direct")
      return "VX_ERR_BROKER_UNAVAILABLE";
    return undefined;
  }

  /** The config's mode, or direct while the broker is down and the config allows it. */
  private modeFor(rev: AppliedRevision): "direct" | "sync" | "async" {
    const mode = rev.settings.mode;
    return mode !== "direct" && !this.queue?.available ? "direct" : mode;
  }

  /** Resolves the request's config under `rev`, records it, and builds the app's headers. */
  private admit(
    id: string,
    target: string,
    req: IncomingMessage,
    res: ServerResponse,
    rev: AppliedRevision,
    mode: "direct" | "sync" | "async",
    dispatched: boolean,
  ): RequestContext {
    const { ref, receivedAt } = this.record(id, target, req, rev, mode, dispatched);
    return { id, target, req, res, headers: appHeaders(id, req, ref), rev, ref, receivedAt };
  }

  /** The request's record (and its resolved config, the first time that key is seen). */
  private record(
    id: string,
    target: string,
    req: IncomingMessage,
    rev: AppliedRevision,
    mode: "direct" | "sync" | "async",
    dispatched: boolean,
  ): { ref: ResolvedRef; receivedAt: number } {
    const ref = resolveIn(rev, routedPath(target), req.headers);
    const receivedAt = Date.now();
    if (ref.isNew) this.store.putConfig(ref.key, ref.revision, ref.json);
    this.store.admit({
      id,
      revision: ref.revision,
      configHash: ref.key,
      mode,
      method: req.method ?? "GET",
      path: target,
      receivedAt,
      dispatched,
    });
    return { ref, receivedAt };
  }

  private async status(id: string, res: ServerResponse): Promise<void> {
    const fromQueue = await this.queue?.outcome(id).catch(() => undefined);
    // The outcome bucket answers for async requests even while the local store fails.
    let local: Awaited<ReturnType<RequestStore["get"]>>;
    try {
      local = await this.store.get(id);
    } catch (err) {
      if (fromQueue) local = undefined;
      else {
        log.error("status read failed", { err });
        return sendError(res, "VX_ERR_STORE_UNAVAILABLE", id, this.overflow());
      }
    }
    const found =
      fromQueue ?? (local ? { id, state: local.state, status: local.status, record: local } : undefined);
    if (!found) return sendError(res, "VX_ERR_NOT_FOUND", id, this.overflow());
    const body = JSON.stringify(found);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }
}

/** The server-wide OPTIONS (RFC 9110 §9.3.7): answered here, as Go's net/http does; the app's pool cannot send `*`. */
function answerOptionsAsterisk(res: ServerResponse): void {
  res.writeHead(200, { "content-length": 0 });
  res.end();
}

/** The answer being written on the connection, if any (node:http attaches it to the socket). */
function answeringOn(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/** The code a request the parser refused is answered with. */
function clientErrorCode(code: string | undefined): ErrorCode {
  if (code === "HPE_HEADER_OVERFLOW") return "VX_ERR_HEADERS_TOO_LARGE";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "VX_ERR_REQUEST_TIMEOUT";
  return "VX_ERR_BAD_REQUEST";
}

function probeAnswer(res: ServerResponse, ok: boolean): void {
  const body = ok ? '{"ok":true}' : '{"ok":false}';
  res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}
