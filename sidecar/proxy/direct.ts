// `direct` mode: the request goes straight to the app under the pod's concurrency bound
// (the limiter). A body is read whole first (body.ts), so only a request that has
// arrived takes a slot; the answer streams back.
import { veltrixHeaders } from "../app/headers.ts";
import { admittedBody, hasBody } from "./body.ts";
import { failureCode, type ModeParts, type RequestContext } from "./context.ts";
import type { Acquire } from "./limiter.ts";

/**
 * Runs one admitted request; `got` is the slot the admission asked for, or undefined for
 * a request with a body, which asks once the body is in.
 */
export async function runDirect(
  p: ModeParts,
  ctx: RequestContext,
  asked: Acquire | undefined,
): Promise<void> {
  const { store, metrics, upstream } = p;
  const { id, res, rev, receivedAt } = ctx;
  const s = rev.settings;
  let body: Buffer | null = null;
  let got = asked;
  if (got === undefined) {
    const read = await admittedBody(p, ctx);
    if (read === undefined) return;
    if (hasBody(ctx.req)) body = read;
    got = p.limiter.acquire(s.maxWaitMs);
  }
  // Recorded as dispatched at admission only when it got its slot there.
  const waited = asked !== "granted";
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
  try {
    const ours = { [veltrixHeaders.requestId]: id, [veltrixHeaders.revision]: rev.doc.revision };
    const status = await upstream.streamTo(
      ctx.target,
      ctx.req.method ?? "GET",
      body,
      ctx.headers,
      ours,
      res,
      s.requestTimeoutMs,
    );
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
