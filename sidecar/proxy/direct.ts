// `direct` mode: the request goes straight to the app under the pod's concurrency bound
// (the limiter), streamed both ways.
import { veltrixHeaders } from "../app/headers.ts";
import { hasBody, limitBody } from "./body.ts";
import { failureCode, type ModeParts, type RequestContext } from "./context.ts";
import type { Acquire } from "./limiter.ts";

/** Runs one admitted request; `got` is the slot the admission asked for. */
export async function runDirect(p: ModeParts, ctx: RequestContext, got: Acquire): Promise<void> {
  const { store, metrics, upstream } = p;
  const { id, req, res, rev, receivedAt } = ctx;
  const s = rev.settings;
  const waited = got !== "granted";
  if (waited) {
    const ok = got === "full" ? false : await got;
    if (!ok) return p.shed(ctx, "direct", got === "full" ? "VX_ERR_QUEUE_FULL" : "VX_ERR_QUEUE_TIMEOUT");
    if (res.destroyed) {
      p.limiter.release();
      store.update(id, { state: "failed", at: Date.now(), error: "client closed while waiting" });
      return;
    }
  }
  metrics.inFlight.inc();
  const dispatchedAt = waited ? Date.now() : receivedAt;
  if (waited) store.update(id, { state: "dispatched", at: dispatchedAt, attempt: 1 });
  p.hot.directQueueWait.observe((dispatchedAt - receivedAt) / 1000);
  const body = hasBody(req)
    ? req.headers["content-length"] !== undefined
      ? req
      : limitBody(req, s.maxBodyBytes)
    : null;
  try {
    const ours = { [veltrixHeaders.requestId]: id, [veltrixHeaders.revision]: rev.doc.revision };
    const status = await upstream.streamTo(req, body, ctx.headers, ours, res, s.requestTimeoutMs);
    const now = Date.now();
    metrics.upstreamLatency.observe((now - dispatchedAt) / 1000);
    store.update(id, { state: "done", at: now, status });
    p.hot.directDone.inc();
  } catch (err) {
    const code = failureCode(err, res);
    store.update(id, { state: "failed", at: Date.now(), error: code });
    metrics.requests.inc({ mode: "direct", outcome: code });
    if (!res.headersSent) res.setHeader(veltrixHeaders.revision, rev.doc.revision);
    if (code !== "client_closed") p.fail(ctx, code);
  } finally {
    metrics.inFlight.dec();
    p.limiter.release();
  }
}
