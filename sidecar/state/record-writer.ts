// The store's writer thread: the only connection that writes the record file. Commits
// each batch the event loop posts in one transaction and answers with its sequence
// number, so acknowledgements gated on a record wait for exactly that commit. SQLite's
// WAL auto-checkpoint runs here too, where its copy and fsync stall nobody's requests.
import { parentPort, workerData } from "node:worker_threads";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  OpCode,
  pragmas,
  schema,
  type FromWriter,
  type RowBatch,
  type ToWriter,
  type WriteOp,
  type WriterData,
} from "./record-schema.ts";
import { NumCol, numCols, TextCol, textCols } from "./row-columns.ts";

const { path } = workerData as WriterData;
const port = parentPort;
if (!port) throw new Error("record-writer runs as a worker thread");

const db = new DatabaseSync(path, { timeout: 5_000 });
db.exec(pragmas);
db.exec(schema);
const p = (sql: string): StatementSync => db.prepare(sql);
const s = {
  config: p("INSERT OR IGNORE INTO configs (hash, revision, body, created_at) VALUES (?, ?, ?, ?)"),
  // ?15: the row carries updates. On an id that exists they apply like an UPDATE would.
  row: p(
    `INSERT INTO requests (id, revision, config_hash, mode, method, path, state, attempt, received_at,
       queued_at, dispatched_at, finished_at, status, error)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, COALESCE(?8, 1), ?9, ?10, ?11, ?12, ?13, ?14)
     ON CONFLICT(id) DO UPDATE SET state = excluded.state,
       attempt = COALESCE(?8, attempt), queued_at = COALESCE(?10, queued_at),
       dispatched_at = COALESCE(?11, dispatched_at), finished_at = COALESCE(?12, finished_at),
       status = COALESCE(?13, status), error = COALESCE(?14, error)
     WHERE ?15 = 1`,
  ),
  update: p(
    `UPDATE requests SET state = ?1,
       attempt = COALESCE(?2, attempt), status = COALESCE(?3, status), error = COALESCE(?4, error),
       queued_at = CASE WHEN ?1 = 'queued' THEN ?5 ELSE queued_at END,
       dispatched_at = CASE WHEN ?1 = 'dispatched' THEN ?5 ELSE dispatched_at END,
       finished_at = CASE WHEN ?1 IN ('done','failed','shed','expired') THEN ?5 ELSE finished_at END
     WHERE id = ?6`,
  ),
  outcome: p(
    "INSERT OR REPLACE INTO outcomes (id, status, headers, body, finished_at) VALUES (?, ?, ?, ?, ?)",
  ),
  sweepRequests: p("DELETE FROM requests WHERE finished_at IS NOT NULL AND finished_at < ?"),
  sweepUnfinished: p("DELETE FROM requests WHERE finished_at IS NULL AND received_at < ?"),
  sweepOutcomes: p("DELETE FROM outcomes WHERE finished_at < ?"),
  sweepConfigs: p(
    "DELETE FROM configs WHERE created_at < ? AND hash NOT IN (SELECT DISTINCT config_hash FROM requests)",
  ),
};

function apply(op: WriteOp): void {
  switch (op[0]) {
    case OpCode.config:
      s.config.run(op[1], op[2], op[3], op[4]);
      return;
    case OpCode.update:
      s.update.run(op[2], op[3], op[4], op[5], op[6], op[1]);
      return;
    case OpCode.outcome:
      s.outcome.run(op[1], op[2], op[3], op[4], op[5]);
  }
}

/** Column `col` of row `i`'s strings; index 0 is null. */
function textAt(b: RowBatch, i: number, col: number): string | null {
  const k = b.text[i * textCols + col] ?? 0;
  return k === 0 ? null : (b.strings[k] ?? null);
}

/** Column `col` of row `i`'s numbers; NaN is null. */
function numAt(b: RowBatch, i: number, col: number): number | null {
  const x = b.nums[i * numCols + col] ?? Number.NaN;
  return Number.isNaN(x) ? null : x;
}

function applyRow(b: RowBatch, i: number): void {
  s.row.run(
    b.ids[i] ?? null,
    textAt(b, i, TextCol.revision),
    textAt(b, i, TextCol.configHash),
    textAt(b, i, TextCol.mode),
    textAt(b, i, TextCol.method),
    b.paths[i] ?? null,
    textAt(b, i, TextCol.state),
    numAt(b, i, NumCol.attempt),
    numAt(b, i, NumCol.receivedAt),
    numAt(b, i, NumCol.queuedAt),
    numAt(b, i, NumCol.dispatchedAt),
    numAt(b, i, NumCol.finishedAt),
    numAt(b, i, NumCol.status),
    textAt(b, i, TextCol.error),
    b.touched[i] ?? 0,
  );
}

/** The batch's rows and other writes, in the order they were queued. */
function applyBatch(msg: Extract<ToWriter, { type: "batch" }>): void {
  let row = 0;
  msg.ops.forEach((op, k) => {
    for (const upTo = msg.opAfterRows[k] ?? 0; row < upTo; row++) applyRow(msg.rows, row);
    apply(op);
  });
  for (; row < msg.rows.n; row++) applyRow(msg.rows, row);
}

function inTransaction<T>(fn: () => T): T {
  db.exec("BEGIN");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

function handle(msg: ToWriter): FromWriter {
  try {
    switch (msg.type) {
      case "batch":
        if (msg.ops.length + msg.rows.n > 0) inTransaction(() => applyBatch(msg));
        return { seq: msg.seq, written: msg.ops.length + msg.rows.n };
      case "sweep": {
        const swept = inTransaction(() => {
          const n =
            Number(s.sweepRequests.run(msg.olderThan).changes) +
            Number(s.sweepUnfinished.run(msg.unfinishedBefore).changes);
          s.sweepOutcomes.run(msg.olderThan);
          s.sweepConfigs.run(msg.olderThan);
          return n;
        });
        return { seq: msg.seq, written: 0, swept };
      }
      case "close":
        db.close();
        return { seq: msg.seq, written: 0 };
    }
  } catch (err) {
    return { seq: msg.seq, written: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

port.on("message", (msg: ToWriter) => {
  port.postMessage(handle(msg));
  if (msg.type === "close") port.close();
});
