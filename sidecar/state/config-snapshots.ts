// Config revisions on disk through keyv, on a node:sqlite store of our own
// (keyv-sqlite-store.ts). Config changes arrive a few times a day, so keyv's ~1k
// durable writes/s (docs/adr/0002-sidecar-store.md) is plenty; request records use
// node:sqlite directly. A failed write rejects: it is never dropped silently.
import Keyv from "keyv";
import { KeyvSqliteStore } from "./keyv-sqlite-store.ts";

export interface ConfigSnapshot {
  revision: string;
  /** The VeltrixConfig spec as applied (JSON-serialisable). */
  spec: unknown;
  appliedAt: number;
}

export class ConfigSnapshots {
  private readonly keyv: Keyv<ConfigSnapshot>;

  constructor(path: string) {
    this.keyv = new Keyv<ConfigSnapshot>({
      store: new KeyvSqliteStore(path),
      namespace: "veltrix-config",
      throwOnErrors: true,
    });
  }

  /** Persists a revision and makes it the latest. Resolves once both are on disk. */
  async save(snapshot: ConfigSnapshot): Promise<void> {
    await this.keyv.set(`rev:${snapshot.revision}`, snapshot);
    await this.keyv.set("latest", snapshot);
  }

  async latest(): Promise<ConfigSnapshot | undefined> {
    return this.keyv.get("latest");
  }

  async get(revision: string): Promise<ConfigSnapshot | undefined> {
    return this.keyv.get(`rev:${revision}`);
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }
}
