// The life of one request as a pure transition function. The proxy, the queue and
// the store all move a request through `transition`, so an impossible move (a `done`
// request dispatched again, a shed request completed) is a bug caught in one place.
//
//   received ─► queued ─► dispatched ─► done | failed
//      │          │  ▲         │
//      │          │  └─────────┘ (redelivery: back to queued, attempt + 1)
//      ├──────────┴─► shed      (over depth/wait/concurrency: overflow status)
//      └──────────┴─► expired   (maxWait or maxDeliver exhausted, dead-lettered)
//   received ─► dispatched (direct mode skips the queue)

export const RequestStates = {
  received: "received",
  queued: "queued",
  dispatched: "dispatched",
  done: "done",
  failed: "failed",
  shed: "shed",
  expired: "expired",
} as const;
export type RequestState = (typeof RequestStates)[keyof typeof RequestStates];

export type RequestEvent =
  | { type: "enqueue" }
  | { type: "dispatch" }
  | { type: "complete"; status: number }
  | { type: "fail"; reason: string }
  | { type: "shed"; reason: string }
  | { type: "expire"; reason: string }
  | { type: "redeliver" };

const terminal: ReadonlySet<RequestState> = new Set(["done", "failed", "shed", "expired"]);

export function isTerminal(state: RequestState): boolean {
  return terminal.has(state);
}

const allowed: Record<RequestEvent["type"], readonly RequestState[]> = {
  enqueue: ["received"],
  dispatch: ["received", "queued"],
  complete: ["dispatched"],
  fail: ["received", "queued", "dispatched"],
  shed: ["received", "queued"],
  expire: ["received", "queued", "dispatched"],
  redeliver: ["dispatched", "queued"],
};

const target: Record<RequestEvent["type"], RequestState> = {
  enqueue: "queued",
  dispatch: "dispatched",
  complete: "done",
  fail: "failed",
  shed: "shed",
  expire: "expired",
  redeliver: "queued",
};

export type Transition = { ok: true; state: RequestState } | { ok: false; from: RequestState; event: string };

/** The state after `event`, or why the move is not allowed. No I/O, no clock. */
export function transition(from: RequestState, event: RequestEvent): Transition {
  if (!allowed[event.type].includes(from)) return { ok: false, from, event: event.type };
  return { ok: true, state: target[event.type] };
}
