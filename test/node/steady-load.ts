// Steady load through a forwarded port into the node's namespace (devenv/node/forward.ts):
// a few concurrent loops of requests until stopped, bounded in time and count, each outcome
// recorded so a test can hold every answer to the documented ones.
import { setTimeout as sleep } from "node:timers/promises";

/** Answers the sidecar documents for overload (503 with Retry-After; api/errors.ts). */
export const overloadCodes = new Set([
  "VX_ERR_QUEUE_FULL",
  "VX_ERR_QUEUE_TIMEOUT",
  "VX_ERR_BROKER_UNAVAILABLE",
  "VX_ERR_DRAINING",
]);

export interface Outcome {
  /** 0 when the request got no HTTP answer (connection refused, reset). */
  status: number;
  code?: string;
  retryAfter?: string;
  requestId?: string;
  attempt?: string;
  revision?: string;
  error?: string;
  /** The start of a non-200 answer's body (its code, message and request id). */
  body?: string;
  at: number;
}

export interface SteadyLoad {
  readonly outcomes: Outcome[];
  stop(): Promise<Outcome[]>;
}

export function startSteadyLoad(
  port: number,
  opts: { concurrency?: number; maxRequests?: number; maxMs?: number; pauseMs?: number } = {},
): SteadyLoad {
  const outcomes: Outcome[] = [];
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  const maxRequests = opts.maxRequests ?? 20_000;
  let stopped = false;
  let n = 0;
  const loop = async (worker: number): Promise<void> => {
    while (!stopped && Date.now() < deadline && n < maxRequests) {
      const i = n++;
      const at = Date.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/load/${worker}/${i}`, {
          // Longer than any bound the sidecar documents (queue wait, request timeout), so the
          // answer seen is the sidecar's own, not this client giving up.
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        const outcome: Outcome = { status: res.status, at };
        const code = res.headers.get("x-veltrix-error");
        if (code) outcome.code = code;
        const retryAfter = res.headers.get("retry-after");
        if (retryAfter) outcome.retryAfter = retryAfter;
        if (res.status !== 200) outcome.body = text.slice(0, 300);
        if (res.status === 200) {
          const body = JSON.parse(text) as {
            requestId: string | null;
            attempt: string | null;
            configRevision: string | null;
          };
          if (body.requestId) outcome.requestId = body.requestId;
          if (body.attempt) outcome.attempt = body.attempt;
          if (body.configRevision) outcome.revision = body.configRevision;
        }
        outcomes.push(outcome);
      } catch (err) {
        outcomes.push({
          status: 0,
          error:
            err instanceof Error
              ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ""}`
              : String(err),
          at,
        });
      }
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? 4 }, (_, w) => loop(w));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/** Outcomes that are neither a success nor a documented overload answer. */
export function undocumented(outcomes: Outcome[]): Outcome[] {
  return outcomes.filter(
    (o) => o.status !== 200 && !(o.status === 503 && o.code && overloadCodes.has(o.code) && o.retryAfter),
  );
}

export function summarize(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key =
      o.status === 0 ? `error: ${(o.error ?? "").slice(0, 60)}` : `${o.status}${o.code ? ` ${o.code}` : ""}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
