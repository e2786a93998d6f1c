// The fault suite's checker: holds what each client was told against what each app
// executed (its own fsync'd log) and what the status URL says afterwards, and classifies
// every request. Pure: the suite collects the history, this judges it against the
// promises in docs/reliability.md.

/** What one client was told. `status` 0: no answer (the connection broke). */
export interface Answer {
  id: string;
  mode: "sync" | "async";
  status: number;
  /** `x-veltrix-error`, when the sidecar answered instead of the app. */
  code: string | null;
  /** `x-veltrix-outcome`: "unknown" marks an answer that cannot know whether the request runs. */
  outcome: string | null;
  /** When the answer arrived (ms epoch of the test's clock). */
  at: number;
}

/** One execution at an app, as the app logged it before answering. */
export interface Execution {
  id: string;
  /** `x-veltrix-attempt` as the app saw it. */
  attempt: number;
  /** The app's requests in flight, this one included, when it started. */
  inFlight: number;
  /** Which app (pod) ran it. */
  app: string;
}

/** Refusals that promise the request never runs (docs/reliability.md). */
export const cleanRefusals: ReadonlySet<string> = new Set([
  "VX_ERR_BROKER_UNAVAILABLE",
  "VX_ERR_BROKER_REFUSED",
  "VX_ERR_QUEUE_FULL",
  "VX_ERR_QUEUE_TIMEOUT",
  "VX_ERR_DRAINING",
]);

/** Failures that are definite about the app's part: it ran and failed, or never answered. */
const definiteFailures: ReadonlySet<string> = new Set([
  "VX_ERR_DEAD_LETTERED",
  "VX_ERR_UPSTREAM_UNAVAILABLE",
]);

/** Answers that say the request may or may not run. */
const indefiniteCodes: ReadonlySet<string> = new Set(["VX_ERR_OUTCOME_UNKNOWN", "VX_ERR_UPSTREAM_TIMEOUT"]);

export type Class =
  | "ok"
  | "refused"
  | "failed"
  | "indefinite"
  | "lost"
  | "refused but ran"
  | "unmarked 5xx"
  | "not acknowledged";

export interface Verdict {
  sent: number;
  acknowledged: number;
  executed: number;
  lost: string[];
  /** Ran more than once with an attempt number that does not say so (two runs as attempt 1). */
  undeclaredDuplicates: string[];
  /** Ran more than once, each run numbered as a repeat: at least once, as promised. */
  declaredDuplicates: number;
  refusedButRan: string[];
  /** A 5xx that neither refuses cleanly, nor fails definitely, nor says the outcome is unknown. */
  unmarked: string[];
  indefinite: number;
  maxInFlight: number;
  overBound: boolean;
  /** Async requests whose status URL is not final after the drain, or says done for one that never ran. */
  recordDisagrees: string[];
}

export function classify(a: Answer, runs: number): Class {
  // Acknowledged: a sync answer from the app, an async 202. It ran, or it is lost.
  if (a.status >= 200 && a.status < 300) return runs > 0 ? "ok" : "lost";
  // A connection refused never carried the request (the sidecar was down).
  const refused =
    (a.code !== null && cleanRefusals.has(a.code)) || (a.status === 0 && a.code === "ECONNREFUSED");
  if (refused) return runs > 0 ? "refused but ran" : "refused";
  if (a.status === 0 || a.outcome === "unknown" || (a.code !== null && indefiniteCodes.has(a.code)))
    return "indefinite";
  if (a.code !== null && definiteFailures.has(a.code)) return "failed";
  // The app's own answer (4xx/5xx without a Veltrix code) is an answer like any other.
  if (a.code === null) return runs > 0 ? "ok" : "lost";
  return a.status >= 500 ? "unmarked 5xx" : "not acknowledged";
}

/**
 * Judges a scenario's history. `records` maps async ids to the state their status URL
 * gave after the drain ("done", "queued", ...).
 */
export function judge(
  answers: readonly Answer[],
  executions: readonly Execution[],
  maxConcurrency: number,
  records: ReadonlyMap<string, string> = new Map(),
): Verdict {
  const runsOf = new Map<string, Execution[]>();
  for (const e of executions) runsOf.set(e.id, [...(runsOf.get(e.id) ?? []), e]);
  const v: Verdict = {
    sent: answers.length,
    acknowledged: 0,
    executed: 0,
    lost: [],
    undeclaredDuplicates: [],
    declaredDuplicates: 0,
    refusedButRan: [],
    unmarked: [],
    indefinite: 0,
    maxInFlight: executions.reduce((m, e) => Math.max(m, e.inFlight), 0),
    overBound: false,
    recordDisagrees: [],
  };
  v.overBound = v.maxInFlight > maxConcurrency;
  for (const a of answers) {
    const runs = runsOf.get(a.id) ?? [];
    if (runs.length > 0) v.executed++;
    const c = classify(a, runs.length);
    if (a.status >= 200 && a.status < 300) v.acknowledged++;
    if (c === "lost") v.lost.push(a.id);
    if (c === "refused but ran") v.refusedButRan.push(a.id);
    if (c === "unmarked 5xx") v.unmarked.push(a.id);
    if (c === "indefinite") v.indefinite++;
    if (runs.length > 1) {
      const attempts = runs.map((r) => r.attempt);
      if (new Set(attempts).size < attempts.length) v.undeclaredDuplicates.push(a.id);
      else v.declaredDuplicates++;
    }
    // After the drain every async record is final: "done" (it ran to an answer) or
    // "expired" (dead-lettered); "done" for a request that never ran is a lie too.
    const record = records.get(a.id);
    if (
      record !== undefined &&
      (!["done", "expired"].includes(record) || (record === "done" && runs.length === 0))
    )
      v.recordDisagrees.push(a.id);
  }
  return v;
}

/** `breaches` of a history that keeps every promise. */
export const noBreaches = {
  lost: [],
  undeclaredDuplicates: [],
  refusedButRan: [],
  unmarked: [],
  recordDisagrees: [],
  overBound: false,
} as const;

/** What a scenario must show: nothing lost, no undeclared repeat, no lie, the bound held. */
export function breaches(v: Verdict): Record<string, string[] | boolean> {
  return {
    lost: v.lost,
    undeclaredDuplicates: v.undeclaredDuplicates,
    refusedButRan: v.refusedButRan,
    unmarked: v.unmarked,
    recordDisagrees: v.recordDisagrees,
    overBound: v.overBound,
  };
}
