// The admin listener (localhost only): health, readiness, metrics, the app's config
// API with ETag and long-poll, request records with their resolved config, drain.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "../http.ts";
import type { CurrentConfig } from "../config/current-config.ts";
import { listenerRoles, listenOn } from "../listen.ts";
import type { Metrics } from "../metrics.ts";
import type { Readiness } from "../readiness.ts";
import type { RecordLookup } from "../state/store.ts";
import { logger } from "../log.ts";

const log = logger("admin");

export interface AdminDeps {
  config: CurrentConfig;
  store: RecordLookup;
  metrics: Metrics;
  /** Reasons the sidecar is not ready (empty = ready) and detail (broker state, mode). */
  readiness: () => Readiness | Promise<Readiness>;
  drain: () => void;
  /** Looks up a record another worker or pod may hold (optional). */
  lookup?: (id: string) => Promise<unknown>;
  /** Metrics text (default: this process's registry); a multi-worker primary aggregates. */
  metricsText?: () => Promise<{ contentType: string; text: string }>;
}

const maxLongPollMs = 60_000;

export class AdminServer {
  readonly server: Server;
  private metricsServer: Server | undefined;
  private readonly deps: AdminDeps;

  constructor(deps: AdminDeps) {
    this.deps = deps;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        log.error("request failed", { err });
        if (!res.headersSent) json(res, 500, { code: "VX_ERR_INTERNAL" });
      });
    });
  }

  listen(port: number, host = "127.0.0.1"): Promise<number> {
    return listenOn(this.server, port, host, listenerRoles.admin);
  }

  /**
   * A second listener serving only GET /metrics, on `host` (the pod's address): how a
   * cluster's Prometheus scrapes the sidecar without reaching the admin API, which stays
   * on 127.0.0.1. Everything else there answers 404.
   */
  async listenMetrics(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      const p = new URL(req.url ?? "/", "http://metrics").pathname;
      if (p !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD"))
        return json(res, 404, { code: "VX_ERR_NOT_FOUND", message: "only GET /metrics is served here" });
      this.metrics(res).catch((err: unknown) => {
        log.error("metrics failed", { err });
        if (!res.headersSent) json(res, 500, { code: "VX_ERR_INTERNAL" });
      });
    });
    this.metricsServer = server;
    return listenOn(server, port, host, listenerRoles.metrics);
  }

  close(): void {
    for (const s of [this.server, this.metricsServer]) {
      s?.close();
      s?.closeAllConnections();
    }
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const { contentType, text } = this.deps.metricsText
      ? await this.deps.metricsText()
      : {
          contentType: this.deps.metrics.registry.contentType,
          text: await this.deps.metrics.registry.metrics(),
        };
    res.writeHead(200, { "content-type": contentType });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://admin");
    const p = url.pathname;
    if (p === "/healthz") return json(res, 200, { ok: true });
    if (p === "/readyz") {
      const { reasons, detail } = await this.deps.readiness();
      return json(res, reasons.length === 0 ? 200 : 503, {
        ready: reasons.length === 0,
        reasons,
        revision: this.deps.config.current.doc.revision,
        ...detail,
      });
    }
    if (p === "/metrics") return this.metrics(res);
    if (p === "/v1/config") return this.config(req, res, url);
    if (p.startsWith("/v1/requests/"))
      return this.record(decodeURIComponent(p.slice("/v1/requests/".length)), res);
    if (p === "/drain" && req.method === "POST") {
      this.deps.drain();
      return json(res, 202, { draining: true });
    }
    json(res, 404, { code: "VX_ERR_NOT_FOUND" });
  }

  /** Current config; `If-None-Match` + `?wait=30s` waits for a newer revision. */
  private async config(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const etag = (): string => `"${this.deps.config.current.doc.revision}"`;
    const inm = req.headers["if-none-match"];
    const waitMs = Math.min(parseWait(url.searchParams.get("wait")), maxLongPollMs);
    if (inm === etag() && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const off = this.deps.config.onChange(done);
        req.once("close", done);
        function done(): void {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    }
    if (res.destroyed) return;
    if (inm === etag()) {
      res.writeHead(304, { etag: etag() });
      res.end();
      return;
    }
    const body = this.deps.config.current.json;
    res.writeHead(200, {
      "content-type": "application/json",
      etag: etag(),
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  }

  private async record(id: string, res: ServerResponse): Promise<void> {
    const rec = await this.deps.store.get(id);
    if (rec) {
      const [config, outcome] = await Promise.all([
        this.deps.store.getConfig(rec.configHash),
        this.deps.store.getOutcome(id),
      ]);
      return json(res, 200, {
        record: rec,
        config: config === undefined ? null : (JSON.parse(config) as unknown),
        outcome: outcome ? { ...outcome, body: outcome.body.toString("base64") } : null,
      });
    }
    const elsewhere = await this.deps.lookup?.(id);
    if (elsewhere !== undefined) return json(res, 200, elsewhere);
    json(res, 404, { code: "VX_ERR_NOT_FOUND", id });
  }
}

function parseWait(v: string | null): number {
  if (!v) return 0;
  const m = /^(\d+)(ms|s)?$/.exec(v);
  if (!m) return 0;
  return Number(m[1]) * (m[2] === "ms" ? 1 : 1000);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
