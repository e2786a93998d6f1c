// Readiness over the cluster IPC channel: each worker has its own NATS connection
// and queue, so only it knows whether it can serve; the primary's /readyz asks every
// worker and counts one that does not answer in time (stopped, stuck loop) as not ready.
// The kubelet probes the proxy port, which whichever worker accepts the connection
// answers: so the primary also tells every worker the pod's readiness each second, and
// a worker answers probes for the whole pod, not for itself alone.
import type { Worker } from "node:cluster";
import type { Readiness } from "../readiness.ts";
import { answerQuestions, ask } from "./ipc.ts";

const kind = "readiness";
const podState = "veltrix:pod-readiness";

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

function isPodReadiness(m: unknown): m is PodReadiness {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === podState;
}

/** In a worker: answer the primary's readiness requests. */
export function answerReadiness(read: () => Readiness): void {
  answerQuestions(kind, read);
}

function askReadiness(w: Worker, timeoutMs: number): Promise<Readiness> {
  return ask<Readiness>(w, kind, timeoutMs, (err) => ({
    reasons: [
      err ? `readiness request failed: ${err.message}` : `no readiness answer within ${timeoutMs} ms`,
    ],
    detail: {},
  }));
}

/** In the primary: every worker's readiness, reasons prefixed `worker N: `, detail under `perWorker`. */
export async function workersReadiness(
  workers: ReadonlyMap<number, Worker>,
  timeoutMs = answerWithinMs,
): Promise<Readiness> {
  const answers = await Promise.all(
    [...workers].map(async ([n, w]) => ({ n, pid: w.process.pid, r: await askReadiness(w, timeoutMs) })),
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
    if (isPodReadiness(m)) last = { reasons: m.reasons, at: Date.now() };
  });
  return () => {
    if (!last) return ["the primary has not sent the pod's readiness yet"];
    if (Date.now() - last.at > podReadinessStaleMs)
      return [`no pod readiness from the primary for ${podReadinessStaleMs} ms`];
    return last.reasons;
  };
}
