// Readiness over the cluster IPC channel: each worker has its own NATS connection
// and queue, so only it knows whether it can serve; the primary's /readyz asks every
// worker and counts one that does not answer in time (stopped, stuck loop) as not ready.
import cluster, { type Worker } from "node:cluster";
import type { Readiness } from "./readiness.ts";

const request = "veltrix:readiness-request";
const response = "veltrix:readiness-response";

interface ReadinessRequest {
  type: typeof request;
  id: number;
}

interface ReadinessResponse {
  type: typeof response;
  id: number;
  readiness: Readiness;
}

/** How long the primary waits for a worker's answer. */
const answerWithinMs = 1_000;

function isMessage<T extends ReadinessRequest | ReadinessResponse>(m: unknown, type: T["type"]): m is T {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === type;
}

/** In a worker: answer the primary's readiness requests. */
export function answerReadiness(read: () => Readiness): void {
  process.on("message", (m: unknown) => {
    if (!isMessage<ReadinessRequest>(m, request)) return;
    const answer: ReadinessResponse = { type: response, id: m.id, readiness: read() };
    // The channel may close while the worker drains; the primary then times out.
    process.send?.(answer, () => undefined);
  });
}

let nextId = 0;
// Answers by request id: one cluster listener, not one per request on each worker.
const pending = new Map<number, (r: Readiness) => void>();
let answersHeard = false;

function ask(w: Worker, timeoutMs: number): Promise<Readiness> {
  if (!answersHeard) cluster.on("message", onAnswer);
  answersHeard = true;
  const id = ++nextId;
  return new Promise((resolve) => {
    const done = (r: Readiness): void => {
      clearTimeout(timer);
      pending.delete(id);
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ reasons: [`no readiness answer within ${timeoutMs} ms`], detail: {} }),
      timeoutMs,
    );
    pending.set(id, done);
    const msg: ReadinessRequest = { type: request, id };
    w.send(msg, (err) => {
      if (err) done({ reasons: [`readiness request failed: ${err.message}`], detail: {} });
    });
  });
}

function onAnswer(_w: Worker, m: unknown): void {
  if (isMessage<ReadinessResponse>(m, response)) pending.get(m.id)?.(m.readiness);
}

/** In the primary: every worker's readiness, reasons prefixed `worker N: `, detail under `perWorker`. */
export async function workersReadiness(
  workers: ReadonlyMap<number, Worker>,
  timeoutMs = answerWithinMs,
): Promise<Readiness> {
  const answers = await Promise.all(
    [...workers].map(async ([n, w]) => ({ n, pid: w.process.pid, r: await ask(w, timeoutMs) })),
  );
  return {
    reasons: answers.flatMap(({ n, r }) => r.reasons.map((why) => `worker ${n}: ${why}`)),
    detail: {
      perWorker: Object.fromEntries(
        answers.map(({ n, pid, r }) => [n, { pid, ready: r.reasons.length === 0, ...r.detail }]),
      ),
    },
  };
}
