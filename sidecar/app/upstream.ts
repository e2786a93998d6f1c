// The app behind the sidecar: one keep-alive undici Pool. Two ways to call it:
// `streamTo` pipes the client's body up and the app's response down (direct mode);
// `call` sends a buffered body and collects the response (queued modes, where the
// request travelled through JetStream and the reply travels back the same way).
import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { VeltrixError } from "../../api/errors.ts";
import { endToEnd, type HeaderMap } from "./headers.ts";
import { Pool, undiciErrors } from "./undici-pool.ts";

export interface UpstreamOptions {
  host: string;
  port: number;
}

export interface Buffered {
  status: number;
  headers: HeaderMap;
  body: Buffer;
  /** The body was cut at the collect limit. */
  truncated: boolean;
  /** The app's trailers (end-to-end ones), empty when it sent none. */
  trailers: HeaderMap;
}

export class Upstream {
  readonly pool: Pool;
  /** Where the app listens (an upgraded connection opens its own socket to it). */
  readonly origin: UpstreamOptions;

  constructor(opts: UpstreamOptions) {
    this.origin = opts;
    this.pool = new Pool(`http://${opts.host}:${opts.port}`, {
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
    });
  }

  /**
   * Streams the request to the app and the answer to `res`, with `responseHeaders` added
   * to the app's (one writeHead); resolves with the app's status. A client that goes
   * away aborts the upstream request (rejects with an AbortError).
   * A bare dispatch handler, like `call`: undici's `stream` API adds a stream handler,
   * an abort-signal listener and a promise per request that this path does not need.
   */
  streamTo(
    path: string,
    method: string,
    body: Buffer | null,
    headers: HeaderMap,
    responseHeaders: HeaderMap,
    res: ServerResponse,
    timeoutMs: number,
  ): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let status = 0;
      let controller: Dispatcher.DispatchController | undefined;
      let clientGone = false;
      const onClose = (): void => {
        if (res.writableFinished) return;
        clientGone = true;
        controller?.abort(clientClosed());
      };
      const onDrain = (): void => controller?.resume();
      res.once("close", onClose);
      const settle = (err: unknown): void => {
        res.off("close", onClose);
        res.off("drain", onDrain);
        if (err === undefined) resolve(status);
        else reject(classify(err));
      };
      this.pool.dispatch(
        {
          path,
          method,
          headers,
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        {
          onRequestStart(c) {
            controller = c;
            if (clientGone) c.abort(clientClosed());
          },
          onResponseStart(_c, statusCode, h) {
            status = statusCode;
            res.writeHead(statusCode, Object.assign(endToEnd(h, false), responseHeaders));
          },
          onResponseData(c, chunk) {
            if (!res.write(chunk)) {
              c.pause();
              res.once("drain", onDrain);
            }
          },
          onResponseEnd(_c, trailers) {
            if (Object.keys(trailers).length > 0) res.addTrailers(endToEnd(trailers, false));
            res.end();
            settle(undefined);
          },
          onResponseError(_c, err) {
            settle(err);
          },
        },
      );
    });
  }

  /**
   * Sends a buffered request and collects the answer (up to `maxBody` bytes kept).
   * A bare dispatch handler: no stream objects per request on the queued hot path.
   */
  call(
    method: string,
    path: string,
    headers: HeaderMap,
    body: Buffer | null,
    timeoutMs: number,
    maxBody: number,
  ): Promise<Buffered> {
    return new Promise<Buffered>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      let status = 0;
      let resHeaders: HeaderMap = {};
      this.pool.dispatch(
        {
          path,
          method: method,
          headers,
          body: body && body.length > 0 ? body : null,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        {
          onRequestStart() {
            // nothing to set up; undici calls it unconditionally
          },
          onResponseStart(_c, statusCode, h) {
            status = statusCode;
            resHeaders = endToEnd(h, false);
            // The body is re-framed on the way back; a HEAD answer's length is the app's to say.
            if (method !== "HEAD") delete resHeaders["content-length"];
          },
          onResponseData(_c, chunk) {
            if (size + chunk.length <= maxBody) chunks.push(chunk);
            else truncated = true;
            size += chunk.length;
          },
          onResponseEnd(_c, trailers) {
            resolve({
              status,
              headers: resHeaders,
              body: Buffer.concat(chunks),
              truncated,
              trailers: endToEnd(trailers, false),
            });
          },
          onResponseError(_c, err) {
            reject(classify(err));
          },
        },
      );
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function clientClosed(): Error {
  return new DOMException("the client closed the connection", "AbortError");
}

function classify(err: unknown): Error {
  if (err instanceof VeltrixError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new VeltrixError("VX_ERR_UPSTREAM_TIMEOUT", undefined, { cause: err });
  }
  if (err instanceof Error && err.name === "AbortError") return err;
  if (
    err instanceof Error &&
    (err as { cause?: { code?: string } }).cause?.code === "VX_ERR_BODY_TOO_LARGE"
  ) {
    return new VeltrixError("VX_ERR_BODY_TOO_LARGE");
  }
  return new VeltrixError("VX_ERR_UPSTREAM_UNAVAILABLE", err instanceof Error ? err.message : String(err), {
    cause: err,
  });
}
