// Request records in SQLite through node:sqlite: WAL, statements prepared once,
// writes queued in memory for at most one tick and committed in one transaction.
// Callers that must not acknowledge before the record is durable call `flush()`.
import { Worker } from "node:worker_threads";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { NewRequest, Outcome, RequestRecord, RequestStore, RequestUpdate } from "./store.ts";

const schema = `
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
CREATE TABLE IF NOT EXISTS outcomes (
  id TEXT PRIMARY KEY, status INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
  finished_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

type Op = () => void;

// The WAL checkpointer thread (see `checkpointEveryMs`). flag[0]: 0 run, 1 stop asked,
// 2 stopped; flag[1]: 1 while a checkpoint runs.
const checkpointerSource = `
const { workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const { path, flag, intervalMs } = workerData;
const db = new DatabaseSync(path, { timeout: 5000 });
while (Atomics.wait(flag, 0, 0, intervalMs) === "timed-out") {
  Atomics.store(flag, 1, 1);
  try {
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } finally {
    Atomics.store(flag, 1, 0);
  }
}
db.close();
Atomics.store(flag, 0, 2);
Atomics.notify(flag, 0);
`;

export interface SqliteStoreOptions {
  /** Flush when this many writes are pending, even within one tick. */
  maxBatch?: number;
  /**
   * How long writes wait for company before the commit (ms). 0 = end of this tick.
   * Each commit is a write() of at least one WAL page, so at thousands of requests
   * per second a few milliseconds cut the commits by an order of magnitude.
   */
  flushDelayMs?: number;
  /** Called when a batched commit fails (the batch is dropped). */
  onError?: (err: unknown) => void;
  /**
   * Checkpoint the WAL every this many ms from a worker thread instead of inside a
   * commit on the caller's thread (SQLite's auto-checkpoint copies and fsyncs pages:
   * 5–12 ms stalls of the event loop every ~10 commits under load). Timed flushes wait
   * while a checkpoint runs so that it can finish and the WAL can restart from its
   * beginning. Off (SQLite's auto-checkpoint) when absent.
   */
  checkpointEveryMs?: number;
}

export class SqliteRequestStore implements RequestStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly s: Record<
    | "putConfig"
    | "admit"
    | "admitDispatched"
    | "update"
    | "putOutcome"
    | "get"
    | "getConfig"
    | "getOutcome"
    | "sweepReq"
    | "sweepOut"
    | "sweepCfg",
    StatementSync
  >;
  private pending: Op[] = [];
  private committed: (() => void)[] = [];
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly flushDelayMs: number;
  private readonly onError: (err: unknown) => void;
  private count = 0;
  private readonly knownConfigs = new Set<string>();
  private checkpointer: { worker: Worker; flag: Int32Array } | undefined;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.maxBatch = opts.maxBatch ?? 512;
    this.flushDelayMs = opts.flushDelayMs ?? 0;
    this.onError = opts.onError ?? ((err) => console.error("veltrix store: batch commit failed", err));
    this.db = new DatabaseSync(path, { timeout: 5_000 });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;");
    this.db.exec(schema);
    if (opts.checkpointEveryMs !== undefined) this.startCheckpointer(opts.checkpointEveryMs);
    const p = (sql: string): StatementSync => this.db.prepare(sql);
    this.s = {
      putConfig: p("INSERT OR IGNORE INTO configs (hash, revision, body, created_at) VALUES (?, ?, ?, ?)"),
      admit: p(
        "INSERT OR IGNORE INTO requests (id, revision, config_hash, mode, method, path, state, received_at) VALUES (?, ?, ?, ?, ?, ?, 'received', ?)",
      ),
      admitDispatched: p(
        "INSERT OR IGNORE INTO requests (id, revision, config_hash, mode, method, path, state, received_at, dispatched_at) VALUES (?, ?, ?, ?, ?, ?, 'dispatched', ?, ?)",
      ),
      update: p(
        `UPDATE requests SET state = ?,
           attempt = COALESCE(?, attempt), status = COALESCE(?, status), error = COALESCE(?, error),
           queued_at = CASE WHEN ? = 'queued' THEN ? ELSE queued_at END,
           dispatched_at = CASE WHEN ? = 'dispatched' THEN ? ELSE dispatched_at END,
           finished_at = CASE WHEN ? IN ('done','failed','shed','expired') THEN ? ELSE finished_at END
         WHERE id = ?`,
      ),
      putOutcome: p(
        "INSERT OR REPLACE INTO outcomes (id, status, headers, body, finished_at) VALUES (?, ?, ?, ?, ?)",
      ),
      get: p("SELECT * FROM requests WHERE id = ?"),
      getConfig: p("SELECT body FROM configs WHERE hash = ?"),
      getOutcome: p("SELECT status, headers, body FROM outcomes WHERE id = ?"),
      sweepReq: p("DELETE FROM requests WHERE finished_at IS NOT NULL AND finished_at < ?"),
      sweepOut: p("DELETE FROM outcomes WHERE finished_at < ?"),
      sweepCfg: p(
        "DELETE FROM configs WHERE created_at < ? AND hash NOT IN (SELECT DISTINCT config_hash FROM requests)",
      ),
    };
  }

  get written(): number {
    return this.count;
  }

  private startCheckpointer(intervalMs: number): void {
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(checkpointerSource, {
      eval: true,
      workerData: { path: this.path, flag, intervalMs },
    });
    const c = { worker, flag };
    // Should the thread die, SQLite's own checkpoints take over again.
    const fallBack = (): void => {
      if (this.checkpointer !== c || Atomics.load(flag, 0) !== 0) return;
      this.checkpointer = undefined;
      this.db.exec("PRAGMA wal_autocheckpoint = 1000");
    };
    worker.on("error", (err) => {
      this.onError(err);
      fallBack();
    });
    worker.on("exit", fallBack);
    worker.unref();
    this.checkpointer = c;
  }

  private readonly onTimer = (): void => {
    const c = this.checkpointer;
    if (c && Atomics.load(c.flag, 1) === 1) {
      setTimeout(this.onTimer, 1);
      return;
    }
    this.scheduled = false;
    this.flush();
  };

  private enqueue(op: Op): void {
    this.pending.push(op);
    if (this.pending.length >= this.maxBatch) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.onTimer, this.flushDelayMs);
    }
  }

  putConfig(hash: string, revision: string, json: string): void {
    if (this.knownConfigs.has(hash)) return;
    this.knownConfigs.add(hash);
    const now = Date.now();
    this.enqueue(() => this.s.putConfig.run(hash, revision, json, now));
  }

  admit(r: NewRequest): void {
    if (r.dispatched) {
      this.enqueue(() =>
        this.s.admitDispatched.run(
          r.id,
          r.revision,
          r.configHash,
          r.mode,
          r.method,
          r.path,
          r.receivedAt,
          r.receivedAt,
        ),
      );
      return;
    }
    this.enqueue(() =>
      this.s.admit.run(r.id, r.revision, r.configHash, r.mode, r.method, r.path, r.receivedAt),
    );
  }

  update(id: string, c: RequestUpdate): void {
    const st = c.state;
    this.enqueue(() =>
      this.s.update.run(
        st,
        c.attempt ?? null,
        c.status ?? null,
        c.error ?? null,
        st,
        c.at,
        st,
        c.at,
        st,
        c.at,
        id,
      ),
    );
  }

  putOutcome(id: string, o: Outcome, at = Date.now()): void {
    this.enqueue(() => this.s.putOutcome.run(id, o.status, JSON.stringify(o.headers), o.body, at));
  }

  afterCommit(cb: () => void): void {
    this.committed.push(cb);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.onTimer, this.flushDelayMs);
    }
  }

  flush(): void {
    this.commit();
    if (this.committed.length === 0) return;
    const cbs = this.committed;
    this.committed = [];
    for (const cb of cbs) cb();
  }

  private commit(): void {
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    try {
      this.db.exec("BEGIN");
      for (const op of ops) op();
      this.db.exec("COMMIT");
      this.count += ops.length;
    } catch (err) {
      try {
        this.db.exec("ROLLBACK");
      } catch {
        // no transaction left to roll back
      }
      this.onError(err);
    }
  }

  get(id: string): RequestRecord | undefined {
    this.flush();
    const row = this.s.get.get(id);
    if (!row) return undefined;
    return {
      id: String(row["id"]),
      revision: String(row["revision"]),
      configHash: String(row["config_hash"]),
      mode: row["mode"] as RequestRecord["mode"],
      method: String(row["method"]),
      path: String(row["path"]),
      state: row["state"] as RequestRecord["state"],
      attempt: Number(row["attempt"]),
      receivedAt: Number(row["received_at"]),
      queuedAt: nullableNumber(row["queued_at"]),
      dispatchedAt: nullableNumber(row["dispatched_at"]),
      finishedAt: nullableNumber(row["finished_at"]),
      status: nullableNumber(row["status"]),
      error: row["error"] === null ? null : String(row["error"]),
    };
  }

  getConfig(hash: string): string | undefined {
    this.flush();
    const row = this.s.getConfig.get(hash);
    return row ? String(row["body"]) : undefined;
  }

  getOutcome(id: string): Outcome | undefined {
    this.flush();
    const row = this.s.getOutcome.get(id);
    if (!row) return undefined;
    return {
      status: Number(row["status"]),
      headers: JSON.parse(String(row["headers"])) as Record<string, string>,
      body: Buffer.from(row["body"] as Uint8Array),
    };
  }

  sweep(olderThan: number): number {
    this.flush();
    const a = this.s.sweepReq.run(olderThan);
    this.s.sweepOut.run(olderThan);
    this.s.sweepCfg.run(olderThan);
    this.knownConfigs.clear();
    return Number(a.changes);
  }

  close(): void {
    this.flush();
    const c = this.checkpointer;
    if (c) {
      this.checkpointer = undefined;
      Atomics.store(c.flag, 0, 1);
      Atomics.notify(c.flag, 0);
      Atomics.wait(c.flag, 0, 1, 5_000);
    }
    this.db.close();
  }
}

function nullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
