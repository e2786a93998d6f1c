// Read side over the record files of several workers (requests-<n>.db), for the admin
// API of a multi-worker sidecar. Each worker is the only writer of its own file;
// `beforeRead` lets the workers commit what they have queued before each read.
import { RecordReader } from "./record-reader.ts";
import { isTerminal } from "./request-state.ts";
import type { Outcome, RecordLookup, RequestRecord } from "./store.ts";

export class ShardedReader implements RecordLookup {
  private readonly shards: RecordReader[];

  private readonly beforeRead: () => Promise<void>;

  constructor(paths: string[], beforeRead: () => Promise<void> = () => Promise.resolve()) {
    this.shards = paths.map((p) => new RecordReader(p));
    this.beforeRead = beforeRead;
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    await this.beforeRead();
    return furthest(this.shards.map((s) => s.get(id)));
  }

  async getConfig(hash: string): Promise<string | undefined> {
    await this.beforeRead();
    return this.first((s) => s.getConfig(hash));
  }

  async getOutcome(id: string): Promise<Outcome | undefined> {
    await this.beforeRead();
    return this.first((s) => s.getOutcome(id));
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

/**
 * Of the rows several workers hold for one request (a `sync` request is recorded by the
 * worker holding the client and by the one executing it), the one furthest along: the
 * latest attempt, then the later state, then the later event.
 */
export function furthest(rows: readonly (RequestRecord | undefined)[]): RequestRecord | undefined {
  let best: RequestRecord | undefined;
  for (const r of rows) if (r && (!best || compareProgress(r, best) > 0)) best = r;
  return best;
}

function compareProgress(a: RequestRecord, b: RequestRecord): number {
  return a.attempt - b.attempt || stage(a) - stage(b) || lastEventAt(a) - lastEventAt(b);
}

function stage(r: RequestRecord): number {
  if (isTerminal(r.state)) return 3;
  return r.state === "dispatched" ? 2 : r.state === "queued" ? 1 : 0;
}

function lastEventAt(r: RequestRecord): number {
  return r.finishedAt ?? r.dispatchedAt ?? r.queuedAt ?? r.receivedAt;
}
