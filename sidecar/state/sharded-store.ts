// Read side over the record files of several workers (requests-<n>.db), for the admin
// API of a multi-worker sidecar. Each worker is the only writer of its own file.
import { SqliteRequestStore } from "./sqlite-store.ts";
import type { Outcome, RequestRecord, RequestStore } from "./store.ts";

export class ShardedReader implements RequestStore {
  private readonly shards: SqliteRequestStore[];

  constructor(paths: string[]) {
    this.shards = paths.map((p) => new SqliteRequestStore(p));
  }

  get written(): number {
    return 0;
  }

  get(id: string): RequestRecord | undefined {
    for (const s of this.shards) {
      const r = s.get(id);
      if (r) return r;
    }
    return undefined;
  }

  getConfig(hash: string): string | undefined {
    for (const s of this.shards) {
      const c = s.getConfig(hash);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  getOutcome(id: string): Outcome | undefined {
    for (const s of this.shards) {
      const o = s.getOutcome(id);
      if (o) return o;
    }
    return undefined;
  }

  putConfig(): void {
    throw new Error("ShardedReader is read-only");
  }
  admit(): void {
    throw new Error("ShardedReader is read-only");
  }
  update(): void {
    throw new Error("ShardedReader is read-only");
  }
  putOutcome(): void {
    throw new Error("ShardedReader is read-only");
  }
  afterCommit(cb: () => void): void {
    cb();
  }
  flush(): void {}
  sweep(): number {
    return 0;
  }
  close(): void {
    for (const s of this.shards) s.close();
  }
}
