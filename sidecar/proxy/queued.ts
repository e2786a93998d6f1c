// `sync` and `async` modes: the request is read whole and published to the config's
// JetStream stream (sidecar/queue); `sync` waits for the app's answer, `async` answers
// 202 with the request's status URL once JetStream and the record store have it.
import { statusPathPrefix } from "../../api/contract.ts";
import type { ServerResponse } from "node:http";
import type { Job, QueueClient, SyncReply } from "../queue/port.ts";
import { admittedBody } from "./body.ts";
import { failureCode, type ModeParts, type RequestContext } from "./context.ts";

export async function runQueued(p: ModeParts, ctx: RequestContext, mode: "sync" | "async"): Promise<void> {
  const { store, metrics } = p;
  const { id, req, res, rev, ref } = ctx;
  const queue = p.queue;
  if (!queue) throw new Error("queued mode without a queue client");
  const s = rev.settings;
  const body = await admittedBody(p, ctx);
  if (body === undefined) return;
  const job: Job = {
    id,
    revision: ref.revision,
    configKey: ref.key,
    method: req.method ?? "GET",
    path: ctx.target,
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
    const reply = await syncUnlessAbandoned(queue, job, res);
    const trailers = reply.trailers && Object.keys(reply.trailers).length > 0 ? reply.trailers : undefined;
    frameReply(job.method, reply.status, reply.headers, reply.body.length, trailers !== undefined);
    if (!res.destroyed) {
      res.writeHead(reply.status, reply.headers);
      if (trailers) {
        res.write(reply.body);
        res.addTrailers(trailers);
        res.end();
      } else res.end(reply.body);
    }
    store.update(id, { state: "done", at: Date.now(), status: reply.status });
    p.hot.syncDone.inc();
  } catch (err) {
    if (err === abandoned) {
      store.update(id, { state: "failed", at: Date.now(), error: abandonedError });
      metrics.requests.inc({ mode, outcome: "abandoned" });
      return;
    }
    const code = failureCode(err, res);
    if (code === "VX_ERR_QUEUE_FULL" || code === "VX_ERR_QUEUE_TIMEOUT") return p.shed(ctx, mode, code);
    store.update(id, { state: "failed", at: Date.now(), error: code });
    metrics.requests.inc({ mode, outcome: code });
    if (code !== "client_closed") p.fail(ctx, code);
  }
}

/** What the record of a sync request says when its client left before it was dispatched. */
export const abandonedError = "client_closed_before_dispatch: not executed";
const abandoned = new Error(abandonedError);

/**
 * Waits for the sync answer; a client that leaves before an executor claimed the request
 * takes it back (QueueClient.abandon), so it never runs: rejects with `abandoned` then.
 */
async function syncUnlessAbandoned(queue: QueueClient, job: Job, res: ServerResponse): Promise<SyncReply> {
  if (res.destroyed) throw abandoned;
  let gaveUp = false;
  const onClose = (): void => {
    if (!res.writableFinished) gaveUp = queue.abandon(job.id);
  };
  res.once("close", onClose);
  try {
    return await queue.sync(job);
  } catch (err) {
    throw gaveUp ? abandoned : err;
  } finally {
    res.off("close", onClose);
  }
}

/**
 * Frames a buffered reply for the client (RFC 9110 §8.6): its body's length, except that
 * 1xx, 204 and 304 answers carry none, a HEAD answer keeps the app's (the GET's length),
 * and an answer with trailers goes chunked (they follow the body). Only trailers that
 * travelled with it are announced.
 */
export function frameReply(
  method: string,
  status: number,
  headers: Record<string, unknown>,
  length: number,
  withTrailers: boolean,
): void {
  if (withTrailers) {
    delete headers["content-length"];
    return;
  }
  delete headers["trailer"];
  if (status < 200 || status === 204 || status === 304) delete headers["content-length"];
  else if (method !== "HEAD") headers["content-length"] = String(length);
}
