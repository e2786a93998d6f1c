// The store interface the rest of the sidecar sees. One implementation today
// (SqliteRequestStore, node:sqlite); see docs/adr/0002-sidecar-store.md for why.
import type { RequestState } from "./request-state.ts";

import type { QueueMode } from "../config/settings.ts";

export interface NewRequest {
  id: string;
  revision: string;
  /** Content hash of the resolved config; the config itself is stored once per hash. */
  configHash: string;
  mode: QueueMode;
  method: string;
  path: string;
  receivedAt: number;
  /** Admitted straight to the app (direct mode with a free slot): one write, not two. */
  dispatched?: boolean;
}

export interface RequestUpdate {
  state: RequestState;
  at: number;
  attempt?: number;
  status?: number;
  error?: string;
}

export interface Outcome {
  status: number;
  headers: Record<string, string>;
  /** Body up to the outcome limit, base64 in JSON. */
  body: Buffer;
}

/** What was known at admission, then where the request is now. */
export interface RequestRecord extends Omit<NewRequest, "dispatched"> {
  state: RequestState;
  attempt: number;
  queuedAt: number | null;
  dispatchedAt: number | null;
  finishedAt: number | null;
  status: number | null;
  error: string | null;
}

/** The read side, all the admin API needs (a multi-worker primary reads every worker's file). */
export type RecordLookup = Pick<RequestStore, "get" | "getConfig" | "getOutcome">;

export interface RequestStore {
  /** Records a resolved config under its hash (idempotent). Batched. */
  putConfig(hash: string, revision: string, json: string): void;
  /** Records a new request. Batched: committed by the next flush. */
  admit(req: NewRequest): void;
  /** Moves a request to a new state. Batched. */
  update(id: string, change: RequestUpdate): void;
  putOutcome(id: string, outcome: Outcome, at?: number): void;
  /** Resolves once every write queued so far is committed (a failed commit is reported, not thrown). */
  flush(): Promise<void>;
  /**
   * Runs `cb` once every write queued so far is committed (batched with the tick's
   * other writes): acknowledgements that a record gates go here.
   */
  afterCommit(cb: () => void): void;
  /** Reads see every write queued before them. */
  get(id: string): Promise<RequestRecord | undefined>;
  getConfig(hash: string): Promise<string | undefined>;
  getOutcome(id: string): Promise<Outcome | undefined>;
  /**
   * Deletes records finished before `olderThan` (ms epoch), and records never finished
   * here that were received before `unfinishedBefore` (an async request another pod ran:
   * its holder's row never finishes); returns how many.
   */
  sweep(olderThan: number, unfinishedBefore: number): Promise<number>;
  /**
   * Why the store cannot be trusted now (the last commit failed, or the file it writes
   * was deleted or replaced under it), for readiness; undefined while it works.
   */
  problem(): string | undefined;
  /** Writes committed since open (for metrics). */
  readonly written: number;
  /** Commits what is queued, then closes the file. */
  close(): Promise<void>;
}
