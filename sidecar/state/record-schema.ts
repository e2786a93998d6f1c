// The request-record tables and the messages between the store (event loop) and its
// writer thread. Shared by both sides and by the read-only view over worker files.

export const schema = `
CREATE TABLE IF NOT EXISTS configs (
  hash TEXT PRIMARY KEY, revision TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, revision TEXT NOT NULL, config_hash TEXT NOT NULL, mode TEXT NOT NULL,
  method TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
  received_at INTEGER NOT NULL, queued_at INTEGER, dispatched_at INTEGER, finished_at INTEGER,
  status INTEGER, error TEXT
);
CREATE INDEX IF NOT EXISTS requests_finished ON requests(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_unfinished ON requests(received_at) WHERE finished_at IS NULL;
CREATE TABLE IF NOT EXISTS outcomes (
  id TEXT PRIMARY KEY, status INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
  finished_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

export const pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;";

/** Op codes of a batch's other writes (tuples keep the structured clone to the thread cheap). */
export const OpCode = { config: 0, update: 2, outcome: 3 } as const;

/**
 * The request rows of a batch by column (row-columns.ts builds it): each row as admitted,
 * with every update that arrived before its batch left folded in, one statement instead
 * of two or three. `touched[i]` says whether any update was folded in; when the id
 * already has a row (a redelivery, or a client reusing its id) only a touched row
 * changes it, the same as a separate UPDATE would have.
 */
export interface RowBatch {
  n: number;
  ids: string[];
  paths: string[];
  /** The strings `text` points at; index 0 is null. */
  strings: string[];
  /** Per row: revision, config hash, mode, method, state, error (TextCol). */
  text: Uint16Array;
  /** Per row: attempt, received, queued, dispatched, finished, status (NumCol); NaN = null. */
  nums: Float64Array;
  touched: Uint8Array;
}

export type WriteOp =
  | [op: typeof OpCode.config, hash: string, revision: string, body: string, createdAt: number]
  | [
      op: typeof OpCode.update,
      id: string,
      state: string,
      attempt: number | null,
      status: number | null,
      error: string | null,
      at: number,
    ]
  | [op: typeof OpCode.outcome, id: string, status: number, headers: string, body: Uint8Array, at: number];

export type ToWriter =
  | {
      type: "batch";
      seq: number;
      rows: RowBatch;
      ops: WriteOp[];
      /** For each op, how many of the rows were queued before it (the order they apply in). */
      opAfterRows: number[];
    }
  | { type: "sweep"; seq: number; olderThan: number; unfinishedBefore: number }
  | { type: "close"; seq: number };

export interface FromWriter {
  seq: number;
  /** Statements committed by this message's batch. */
  written: number;
  /** The batch was rolled back (disk full, I/O error): its message. */
  error?: string;
  /** Rows a sweep deleted. */
  swept?: number;
}

export interface WriterData {
  path: string;
}
