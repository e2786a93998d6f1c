// Read side over the record files of several workers (requests-<n>.db), for the admin
// API of a multi-worker sidecar. Each worker is the only writer of its own file.
import { RecordReader } from "./record-reader.ts";
import type { Outcome, RecordLookup, RequestRecord } from "./store.ts";

export class ShardedReader implements RecordLookup {
  private readonly shards: RecordReader[];

  constructor(paths: string[]) {
    this.shards = paths.map((p) => new RecordReader(p));
  }

  get(id: string): Promise<RequestRecord | undefined> {
    return Promise.resolve(this.first((s) => s.get(id)));
  }

  getConfig(hash: string): Promise<string | undefined> {
    return Promise.resolve(this.first((s) => s.getConfig(hash)));
  }

  getOutcome(id: string): Promise<Outcome | undefined> {
    return Promise.resolve(this.first((s) => s.getOutcome(id)));
  }

  close(): void {
    for (const s of this.shards) s.close();
  }

  private first<T>(read: (s: RecordReader) => T | undefined): T | undefined {
    for (const s of this.shards) {
      const found = read(s);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}
