// `sync` and `async` modes: the request is read whole and published to the config's
// JetStream stream (sidecar/queue); `sync` waits for the app's answer, `async` answers
// 202 with the request's status URL once JetStream and the record store have it.
import { statusPathPrefix } from "../../api/contract.ts";
import type { Job } from "../queue/port.ts";
import { readBody, hasBody } from "./body.ts";
import { failureCode, type ModeParts, type RequestContext } from "./context.ts";

const noBody = Buffer.alloc(0);

export async function runQueued(p: ModeParts, ctx: RequestContext, mode: "sync" | "async"): Promise<void> {
  const { store, metrics } = p;
  const { id, req, res, rev, ref } = ctx;
  const queue = p.queue;
  if (!queue) throw new Error("queued mode without a queue client");
  const s = rev.settings;
  let body: Buffer;
  try {
    // No body framing means no body: leave the stream unread (reading it makes the
    // socket allocate read buffers that a held request would keep).
    body = hasBody(req) ? await readBody(req, s.maxBodyBytes) : noBody;
  } catch (err) {
    const code = failureCode(err, res);
    store.update(id, { state: "failed", at: Date.now(), error: code });
    if (code !== "client_closed") p.fail(ctx, code);
    return;
  }
  const job: Job = {
    id,
    revision: ref.revision,
    configKey: ref.key,
    method: req.method ?? "GET",
    path: req.url ?? "/",
    headers: ctx.headers,
    body,
    receivedAt: ctx.receivedAt,
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
    p.hot.syncDone.inc();
  } catch (err) {
    const code = failureCode(err, res);
    if (code === "VX_ERR_QUEUE_FULL" || code === "VX_ERR_QUEUE_TIMEOUT") return p.shed(ctx, mode, code);
    store.update(id, { state: "failed", at: Date.now(), error: code });
    metrics.requests.inc({ mode, outcome: code });
    if (code !== "client_closed") p.fail(ctx, code);
  }
}
