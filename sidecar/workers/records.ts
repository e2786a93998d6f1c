// Records in a --workers pod: each worker batches its record writes (sqlite-store.ts)
// into its own file, and the primary's admin API reads those files. Before a read the
// primary asks every worker to commit what it has queued, so an app that reads its own
// record mid-request sees its current state, as it does from a single process.
import type { Worker } from "node:cluster";
import type { RequestStore } from "../state/store.ts";
import { answerQuestions, ask } from "./ipc.ts";

const kind = "flush-records";

/** How long a read waits for a worker's flush before it reads what is committed. */
const flushWithinMs = 1_000;

/** In a worker: commit the queued record writes when the primary asks. */
export function answerRecordFlushes(store: RequestStore): void {
  answerQuestions(kind, () => store.flush().then(() => true));
}

/**
 * In the primary: resolves once every worker committed the record writes it had queued,
 * or after `timeoutMs` for a worker that does not answer (stopped, stuck): the read then
 * goes on with what that worker has committed.
 */
export async function flushWorkerRecords(
  workers: ReadonlyMap<number, Worker>,
  timeoutMs = flushWithinMs,
): Promise<void> {
  await Promise.all([...workers.values()].map((w) => ask(w, kind, timeoutMs, () => false)));
}
