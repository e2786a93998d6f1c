// Config revisions on disk through keyv + @keyv/sqlite. Config changes arrive a few
// times a day, so keyv's ~1–7k writes/s (docs/adr/0002-sidecar-store.md) is plenty;
// request records use node:sqlite directly.
import KeyvSqlite from "@keyv/sqlite";
import Keyv from "keyv";

export interface ConfigSnapshot {
  revision: string;
  /** The VeltrixConfig spec as applied (JSON-serialisable). */
  spec: unknown;
  appliedAt: number;
}

export class ConfigSnapshots {
  private readonly keyv: Keyv<ConfigSnapshot>;
  private readonly adapter: KeyvSqlite;
  private ready: Promise<unknown>;

  constructor(path: string) {
    this.adapter = new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 5_000 });
    this.ready = this.adapter.query("PRAGMA journal_mode=WAL");
    this.keyv = new Keyv<ConfigSnapshot>({ store: this.adapter, namespace: "veltrix-config" });
  }

  /** Persists a revision and makes it the latest. Resolves once both are on disk. */
  async save(snapshot: ConfigSnapshot): Promise<void> {
    await this.ready;
    await this.keyv.set(`rev:${snapshot.revision}`, snapshot);
    await this.keyv.set("latest", snapshot);
  }

  async latest(): Promise<ConfigSnapshot | undefined> {
    await this.ready;
    return this.keyv.get("latest");
  }

  async get(revision: string): Promise<ConfigSnapshot | undefined> {
    await this.ready;
    return this.keyv.get(`rev:${revision}`);
  }

  async close(): Promise<void> {
    await this.ready;
    await this.keyv.disconnect();
  }
}
