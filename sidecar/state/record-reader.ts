// Reads request records from a record file. Readers never block the writer thread:
// in WAL mode each read sees the last commit. Also the whole store of the admin API in
// a multi-worker sidecar, where each worker writes its own file.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { pragmas, schema } from "./record-schema.ts";
import type { Outcome, RequestRecord } from "./store.ts";

export class RecordReader {
  private readonly db: DatabaseSync;
  private readonly s: Record<"get" | "getConfig" | "getOutcome", StatementSync>;

  /** Creates the file and its tables when missing, so reads work before the first write. */
  constructor(path: string) {
    this.db = new DatabaseSync(path, { timeout: 5_000 });
    this.db.exec(pragmas);
    this.db.exec(schema);
    this.s = {
      get: this.db.prepare("SELECT * FROM requests WHERE id = ?"),
      getConfig: this.db.prepare("SELECT body FROM configs WHERE hash = ?"),
      getOutcome: this.db.prepare("SELECT status, headers, body FROM outcomes WHERE id = ?"),
    };
  }

  get(id: string): RequestRecord | undefined {
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
    const row = this.s.getConfig.get(hash);
    return row ? String(row["body"]) : undefined;
  }

  getOutcome(id: string): Outcome | undefined {
    const row = this.s.getOutcome.get(id);
    if (!row) return undefined;
    return {
      status: Number(row["status"]),
      headers: JSON.parse(String(row["headers"])) as Record<string, string>,
      body: Buffer.from(row["body"] as Uint8Array),
    };
  }

  close(): void {
    this.db.close();
  }
}

function nullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
