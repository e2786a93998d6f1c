// The webhook's HTTPS server: a thin shell. It limits the body, checks method and
// content type, decodes and encodes AdmissionReview, and always answers with a
// well-formed review echoing the uid it could read. Certificates reload in place
// (setSecureContext) so rotation never drops the listener.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Admitted, admit, type Lookups } from "./admit.ts";
import type { InjectionOptions } from "./config-input.ts";
import type { AdmissionOutcome, WebhookMetrics } from "./metrics.ts";
import { decodeReview, errored, review } from "./review.ts";
import type { ServingCertificate } from "../certs/issue.ts";

/** The path the chart registers (charts/veltrix/templates/mutatingwebhook.yaml). */
export const admissionPath = "/mutate";
/** controller-runtime's limit: a pod review carries the object twice at most. */
export const defaultMaxBodyBytes = 7 * 1024 * 1024;

export interface WebhookServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  certificate: ServingCertificate;
  lookups: Lookups;
  injection: InjectionOptions;
  metrics?: WebhookMetrics;
  maxBodyBytes?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export interface WebhookServer {
  readonly port: number;
  readonly url: string;
  /** Serve a new certificate from the next TLS handshake on. */
  setCertificate(certificate: ServingCertificate): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<{ body: string } | { tooLarge: true }> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      resolve({ tooLarge: true });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve({ tooLarge: true });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!done) resolve({ body: Buffer.concat(chunks).toString("utf8") });
    });
    req.on("error", reject);
  });
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const limit = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const metrics = options.metrics;
  const log = options.log ?? (() => {});
  const server: Server = createServer({ cert: options.certificate.certPem, key: options.certificate.keyPem });
  if (options.certificate.notAfter)
    metrics?.certificateExpiry.set(options.certificate.notAfter.getTime() / 1000);

  const record = (outcome: AdmissionOutcome, reason: string, started: bigint): void => {
    metrics?.admissions.inc({ outcome, reason });
    metrics?.latency.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    if (url === "/healthz" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (url.split("?")[0] !== admissionPath) {
      send(res, 404, review(errored("", 404, `not found: ${url}; admission reviews go to ${admissionPath}`)));
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      send(res, 405, review(errored("", 405, `method ${req.method ?? ""} not allowed: use POST`)));
      return;
    }
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (contentType !== "application/json") {
      req.resume();
      send(
        res,
        415,
        review(errored("", 415, `content type '${contentType}' not supported: use application/json`)),
      );
      return;
    }
    const read = await readBody(req, limit);
    const started = process.hrtime.bigint();
    if ("tooLarge" in read) {
      record("bad-request", "", started);
      res.setHeader("connection", "close");
      send(res, 413, review(errored("", 413, `body larger than ${limit} bytes`)));
      return;
    }
    const decoded = decodeReview(read.body);
    if (!decoded.ok) {
      record("bad-request", "", started);
      send(res, 400, review(errored(decoded.uid, 400, decoded.message)));
      return;
    }
    const result: Admitted = await admit(decoded.request, options.lookups, options.injection);
    record(result.outcome, result.reason, started);
    if (result.outcome === "refuse" || result.outcome === "error") {
      log("admission denied", {
        uid: decoded.request.uid,
        namespace: decoded.request.namespace,
        outcome: result.outcome,
        message: result.response.status?.message,
      });
    }
    send(res, 200, review(result.response));
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      log("webhook request failed", { error: (err as Error).message });
      if (!res.headersSent) send(res, 500, review(errored("", 500, "internal error")));
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  server.on("secureConnection", () => metrics?.connections.inc());
  // The API server keeps connections alive; keep them longer than its idle timeout. It
  // waits at most 30 s for a webhook, so a request slower than that is abandoned anyway.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? "0.0.0.0";
  return {
    port,
    url: `https://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}${admissionPath}`,
    setCertificate(certificate) {
      server.setSecureContext({ cert: certificate.certPem, key: certificate.keyPem });
      if (certificate.notAfter) metrics?.certificateExpiry.set(certificate.notAfter.getTime() / 1000);
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
