// Publishes to a JetStream stream and waits for the stream's ack, as js.publish does,
// but with every ack arriving on one wildcard inbox subscription. js.publish is a
// nats.js request per message: a request object, a timeout timer, and, once the ack
// resolves it, a "cancelled" RequestError with a captured stack (~6 % of the sidecar's
// CPU in sync mode). Here a publish is a map entry, and one sweep expires them all.
// A refused publish (a NATS permission violation) fails every publish waiting on that
// subject at once; nats.js fails one of them and lets the others time out.
import {
  PermissionViolationError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Status,
  type Subscription,
} from "@nats-io/transport-node";
import { inboxFor } from "./connect.ts";

/**
 * Why a publish failed: `refused` (permissions), `no-stream`, the stream's own error
 * (`stream`), or no ack: `timeout`, or `no-ack` when the ack inbox itself was refused.
 * Without an ack the message may be stored all the same (`indefinite`).
 */
export class PublishError extends Error {
  readonly kind: "refused" | "no-stream" | "timeout" | "no-ack" | "stream";
  constructor(kind: PublishError["kind"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PublishError";
    this.kind = kind;
  }

  /** No ack came: the stream may have stored the message. */
  get indefinite(): boolean {
    return this.kind === "timeout" || this.kind === "no-ack";
  }
}

interface Pending {
  resolve: (duplicate: boolean) => void;
  reject: (err: PublishError) => void;
  subject: string;
  deadline: number;
}

interface PubAck {
  stream?: string;
  duplicate?: boolean;
  error?: { code?: number; description?: string };
}

const sweepEveryMs = 250;

export class StreamPublisher {
  private readonly nc: NatsConnection;
  private readonly timeoutMs: number;
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;
  /** The connection's status events (nats.js's iterator has a `stop`, not in its type). */
  private readonly status: AsyncIterable<Status> & { stop?: () => void };

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.nc = nc;
    this.timeoutMs = timeoutMs;
    const inbox = inboxFor(nc);
    this.prefix = `${inbox}.`;
    this.sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, m) => {
        if (err) this.failAll("no-ack", `cannot receive publish acks: ${err.message}`);
        else this.onAck(m);
      },
    });
    this.status = nc.status();
    void this.watchRefusals();
  }

  /** Resolves with whether the stream had this `msgId` already (a de-duplicated publish). */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs, msgId: string): Promise<boolean> {
    headers.set("Nats-Msg-Id", msgId);
    const token = (this.next++).toString(36);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, subject, deadline: Date.now() + this.timeoutMs });
      try {
        this.nc.publish(subject, body, { reply: this.prefix + token, headers });
      } catch (err) {
        this.pending.delete(token);
        reject(new PublishError("stream", err instanceof Error ? err.message : String(err), { cause: err }));
        return;
      }
      this.sweeper ??= setInterval(this.sweep, sweepEveryMs).unref();
    });
  }

  close(): void {
    this.sub.unsubscribe();
    this.status.stop?.();
    this.failAll("timeout", "the publisher closed before the stream acknowledged");
  }

  private onAck(m: Msg): void {
    const token = m.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // expired already
    this.pending.delete(token);
    // The server's "no responders" status: nothing (no stream) listens on the subject.
    if (m.data.length === 0 && m.headers?.code === 503) {
      p.reject(new PublishError("no-stream", `no stream listens on ${p.subject}`));
      return;
    }
    let ack: PubAck;
    try {
      ack = m.json<PubAck>();
    } catch {
      p.reject(new PublishError("stream", `unreadable publish ack on ${p.subject}`));
      return;
    }
    if (ack.error) p.reject(new PublishError("stream", ack.error.description ?? `error ${ack.error.code}`));
    else if (!ack.stream) p.reject(new PublishError("stream", `invalid publish ack on ${p.subject}`));
    else p.resolve(ack.duplicate === true);
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new PublishError("timeout", `no publish ack from the stream within ${this.timeoutMs} ms`));
    }
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };

  /** A publish the server refuses is reported on the connection's status, by subject. */
  private async watchRefusals(): Promise<void> {
    for await (const s of this.status) {
      if (s.type !== "error" || !(s.error instanceof PermissionViolationError)) continue;
      if (s.error.operation !== "publish") continue;
      const refused = s.error;
      for (const [token, p] of this.pending) {
        if (p.subject !== refused.subject) continue;
        this.pending.delete(token);
        p.reject(new PublishError("refused", refused.message, { cause: refused }));
      }
    }
  }

  private failAll(kind: PublishError["kind"], message: string): void {
    for (const p of this.pending.values()) p.reject(new PublishError(kind, message));
    this.pending.clear();
  }
}
