// What the proxy needs from the queue (sidecar/queue/client.ts implements it); absent
// in a direct-only sidecar.
import type { AppliedRevision } from "../config/current-config.ts";
import type { HeaderMap } from "../app/headers.ts";
import type { JobMeta } from "./envelope.ts";

/** What the proxy needs from the queue (sidecar/queue); absent in a direct-only sidecar. */
export interface QueueClient {
  /** True while the broker is reachable. */
  readonly available: boolean;
  /** Publishes a sync request and waits for the app's answer. Throws VeltrixError. */
  sync(job: Job): Promise<SyncReply>;
  /** The sync request's client left: true when no executor claimed it, so it never runs. */
  abandon(id: string): boolean;
  /** Publishes an async request; resolves once JetStream acknowledged it. */
  async(job: Job): Promise<void>;
  /** Outcome of an async request from the shared outcome bucket, any pod. */
  outcome(id: string): Promise<unknown>;
}

/** The app's answer to a sync request, as it came back through NATS. */
export interface SyncReply {
  status: number;
  headers: HeaderMap;
  body: Buffer;
  /** The app's trailers, when it sent any. */
  trailers?: HeaderMap | undefined;
}

export interface Job extends JobMeta {
  body: Buffer;
  settings: AppliedRevision["settings"];
}
