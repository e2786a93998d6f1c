// A keyv store on node:sqlite, so the config snapshots need no native addon (the
// sqlite3 addon behind @keyv/sqlite was built on every install). Same table as
// @keyv/sqlite (`keyv`: key, value), so its files read as before. Every write is
// durable when it returns: WAL with synchronous=FULL (a few writes a day).
import { DatabaseSync, type StatementSync } from "node:sqlite";

export class KeyvSqliteStore {
  /** Set by keyv: its keys arrive prefixed with `<namespace>:`. */
  namespace: string | undefined;
  private readonly db: DatabaseSync;
  private readonly selectOne: StatementSync;
  private readonly upsert: StatementSync;
  private readonly deleteOne: StatementSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path, { timeout: 5_000 });
    this.db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
    this.db.exec("CREATE TABLE IF NOT EXISTS keyv (key VARCHAR(255) PRIMARY KEY, value TEXT)");
    this.selectOne = this.db.prepare("SELECT value FROM keyv WHERE key = ?");
    this.upsert = this.db.prepare(
      "INSERT INTO keyv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.deleteOne = this.db.prepare("DELETE FROM keyv WHERE key = ?");
  }

  get(key: string): string | undefined {
    const row = this.selectOne.get(key) as { value: string } | undefined;
    return row?.value;
  }

  set(key: string, value: string): boolean {
    this.upsert.run(key, value);
    return true;
  }

  delete(key: string): boolean {
    return Number(this.deleteOne.run(key).changes) > 0;
  }

  /** Removes this namespace's keys (all keys without one). */
  clear(): void {
    if (this.namespace) this.db.prepare("DELETE FROM keyv WHERE key LIKE ?").run(`${this.namespace}:%`);
    else this.db.exec("DELETE FROM keyv");
  }

  disconnect(): void {
    if (this.db.isOpen) this.db.close();
  }
}
