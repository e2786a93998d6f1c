// Readiness over the cluster IPC channel: each worker has its own NATS connection
// and queue, so only it knows whether it can serve; the primary's /readyz asks every
// worker and counts one that does not answer in time (stopped, stuck loop) as not ready.
// The kubelet probes the proxy port, which whichever worker accepts the connection
// answers: so the primary also tells every worker the pod's readiness each second, and
// a worker answers probes for the whole pod, not for itself alone.
import cluster, { type Worker } from "node:cluster";
import type { Readiness } from "./readiness.ts";

const request = "veltrix:readiness-request";
const response = "veltrix:readiness-response";
const podState = "veltrix:pod-readiness";

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

interface PodReadiness {
  type: typeof podState;
  reasons: string[];
}

/** How often the primary tells the workers the pod's readiness. */
export const podReadinessEveryMs = 1_000;
/** A worker that has not heard the pod's readiness for this long answers not ready. */
const podReadinessStaleMs = 5_000;

function isMessage<T extends ReadinessRequest | ReadinessResponse | PodReadiness>(
  m: unknown,
  type: T["type"],
): m is T {
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

/** In the primary: sends the pod's readiness to every listening worker. */
export function tellWorkers(workers: ReadonlyMap<number, Worker>, pod: Readiness): void {
  const msg: PodReadiness = { type: podState, reasons: pod.reasons };
  for (const w of workers.values()) w.send(msg, () => undefined);
}

/**
 * In a worker: the pod-wide reasons the primary last sent (none = ready). Until the
 * first message, or when the primary has been silent for 5 s, that is itself a reason.
 */
export function podReasonsFromPrimary(): () => string[] {
  let last: { reasons: string[]; at: number } | undefined;
  process.on("message", (m: unknown) => {
    if (isMessage<PodReadiness>(m, podState)) last = { reasons: m.reasons, at: Date.now() };
  });
  return () => {
    if (!last) return ["the primary has not sent the pod's readiness yet"];
    if (Date.now() - last.at > podReadinessStaleMs)
      return [`no pod readiness from the primary for ${podReadinessStaleMs} ms`];
    return last.reasons;
  };
}
