// The holding side of sync and async requests: publish to the work-queue stream with
// msgID = request id (so a retried publish is de-duplicated), wait for the publish ack,
// then (sync) wait for the reply on this sidecar's inbox. Memory per held request is
// one small entry in `waiting`; the request body leaves memory once published.
//
// A sync request runs only once its holder granted a claim (`claim`): the holder alone
// decides between "runs" and "timed out", on its own clock, so a client answered 503
// never has its request run, and no deadline depends on two sidecars' clocks agreeing.
import type { KV } from "@nats-io/kv";
import type { Subscription } from "@nats-io/transport-node";
import { isSidecarErrorCode, VeltrixError } from "../../api/errors.ts";
import type { Job, QueueClient, SyncReply } from "./port.ts";
import type { Broker } from "../nats/broker.ts";
import { jobHeaders, readResult, resultHeaders, type JobResult } from "./envelope.ts";
import { outcomeKey, type QueueNames } from "./names.ts";
import { PublishError, StreamPublisher } from "../nats/stream-publisher.ts";
import { logger } from "../log.ts";

const log = logger("queue");

const empty = Buffer.alloc(0);
/** How long a publish waits for the stream's ack before its outcome counts as unknown. */
const publishAckTimeoutMs = 5_000;

interface Waiting {
  resolve: (r: SyncReply) => void;
  reject: (e: unknown) => void;
  /** Fires at `timerAt`, no later than `giveUpAt(...)`; re-armed if that moved later. */
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  receivedAt: number;
  maxWaitMs: number;
  /** When an executor last claimed it (ms epoch, this holder's clock), 0 before. */
  startedAt: number;
  /** Claims granted so far: a rerun is never presented to the app as attempt 1. */
  claims: number;
  requestTimeoutMs: number;
}

/** Room for the reply's way back after the app's timeout. */
const replyRoomMs = 2_000;

/**
 * When a held sync request stops waiting (ms epoch): at maxWait until an executor
 * dispatched it, then the app's timeout plus room for the reply, from the dispatch.
 */
export function giveUpAt(
  w: Pick<Waiting, "receivedAt" | "maxWaitMs" | "startedAt" | "requestTimeoutMs">,
): number {
  return w.startedAt > 0 ? w.startedAt + w.requestTimeoutMs + replyRoomMs : w.receivedAt + w.maxWaitMs;
}

export class JetStreamQueueClient implements QueueClient {
  private readonly broker: Broker;
  private readonly names: QueueNames;
  private publisher: StreamPublisher | undefined;
  private sub: Subscription | undefined;
  private outcomes: KV | undefined;
  private readonly waiting = new Map<string, Waiting>();
  /** The last publish refusal logged (one log line per distinct refusal). */
  private lastRefusal = "";

  constructor(broker: Broker, names: QueueNames) {
    this.broker = broker;
    this.names = names;
  }

  /** Call once connected: subscribes the reply inbox (again after a failed attach). */
  attach(outcomes: KV): void {
    const nc = this.broker.connection;
    if (!nc) throw new Error("broker not connected");
    this.close();
    this.publisher = new StreamPublisher(nc, publishAckTimeoutMs);
    this.outcomes = outcomes;
    this.sub = nc.subscribe(`${this.names.replyPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const r = readResult(msg.headers);
        if (r.event === "claim") msg.respond(empty, { headers: resultHeaders(this.claim(msg.subject)) });
        else this.onReply(msg.subject, r, Buffer.from(msg.data));
      },
    });
  }

  get available(): boolean {
    return this.broker.available && this.publisher !== undefined;
  }

  get held(): number {
    return this.waiting.size;
  }

  async sync(job: Job): Promise<SyncReply> {
    const s = job.settings;
    if (this.waiting.has(job.id)) throw new VeltrixError("VX_ERR_DUPLICATE_REQUEST");
    const result = new Promise<SyncReply>((resolve, reject) => {
      const w: Waiting = {
        resolve,
        reject,
        timer: undefined,
        timerAt: 0,
        receivedAt: job.receivedAt,
        maxWaitMs: s.maxWaitMs,
        startedAt: 0,
        claims: 0,
        requestTimeoutMs: s.requestTimeoutMs,
      };
      this.waiting.set(job.id, w);
      this.arm(job.id, w, giveUpAt(w));
    });
    // `abandon` may reject it while the publish is still out; the caller awaits it after.
    result.catch(() => undefined);
    try {
      const duplicate = await this.publish(
        this.names.syncSubject,
        job,
        `${this.names.replyPrefix}.${job.id}`,
        job.receivedAt + s.maxWaitMs,
      );
      // Queued before under this id (by another holder, or answered within the
      // duplicate window): its reply goes to that holder, never here.
      if (duplicate) throw new VeltrixError("VX_ERR_DUPLICATE_REQUEST");
    } catch (err) {
      // No ack, yet the stream may hold it: keep waiting for its reply. It either runs
      // and answers here, or its deadline passes and no executor runs it (VX_ERR_QUEUE_TIMEOUT).
      if (err instanceof VeltrixError && err.code === "VX_ERR_OUTCOME_UNKNOWN" && this.waiting.has(job.id)) {
        job.body = empty;
        job.headers = {};
        return result;
      }
      const w = this.waiting.get(job.id);
      if (w) {
        clearTimeout(w.timer);
        this.waiting.delete(job.id);
      }
      void result.catch(() => undefined);
      throw err;
    }
    // Published: the body and headers live in JetStream now, not in this process.
    job.body = empty;
    job.headers = {};
    return result;
  }

  async async(job: Job): Promise<void> {
    const duplicate = await this.publish(this.names.asyncSubject, job, undefined, undefined);
    // A retried publish is the same request: 202 again, and its outcome is left alone.
    if (duplicate) return;
    // Only where no outcome is yet: an executor may have run it and written "done" before
    // this line runs, and an outcome never goes back (create fails on an existing key).
    await this.outcomes
      ?.create(
        outcomeKey(this.names, job.id),
        JSON.stringify({ id: job.id, state: "queued", revision: job.revision, attempt: 0, at: Date.now() }),
      )
      .catch(() => undefined);
  }

  async outcome(id: string): Promise<unknown> {
    const e = await this.outcomes?.get(outcomeKey(this.names, id));
    if (!e || e.operation !== "PUT") return undefined;
    return e.json<unknown>();
  }

  /** Waits until no sync request is held here or `ms` passed. */
  async settle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.waiting.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  close(): void {
    this.sub?.unsubscribe();
    this.publisher?.close();
    this.sub = undefined;
    this.publisher = undefined;
  }

  private async publish(
    subject: string,
    job: Job,
    reply: string | undefined,
    deadline: number | undefined,
  ): Promise<boolean> {
    const publisher = this.publisher;
    if (!publisher || !this.broker.available) throw new VeltrixError("VX_ERR_BROKER_UNAVAILABLE");
    const h = jobHeaders({
      id: job.id,
      revision: job.revision,
      configKey: job.configKey,
      method: job.method,
      path: job.path,
      headers: job.headers,
      receivedAt: job.receivedAt,
      reply,
      deadline,
      claim: reply === undefined ? undefined : true,
    });
    try {
      return await publisher.publish(subject, job.body, h, job.id);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (/maximum messages/i.test(text))
        throw new VeltrixError("VX_ERR_QUEUE_FULL", undefined, { cause: err });
      // The client refuses before sending: nothing was published.
      if (/max_payload/i.test(text))
        throw new VeltrixError("VX_ERR_BODY_OVER_BROKER_LIMIT", undefined, { cause: err });
      if (err instanceof PublishError && err.indefinite)
        throw new VeltrixError("VX_ERR_OUTCOME_UNKNOWN", text, { cause: err });
      if (err instanceof PublishError && err.kind === "refused") {
        // A misconfigured NATS user, not an outage: say so once, not per request.
        if (text !== this.lastRefusal) log.error("NATS refused the publish", { subject, reason: text });
        this.lastRefusal = text;
        throw new VeltrixError("VX_ERR_BROKER_REFUSED", text, { cause: err });
      }
      throw new VeltrixError("VX_ERR_BROKER_UNAVAILABLE", text, { cause: err });
    }
  }

  private expire(id: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    const at = giveUpAt(w);
    const now = Date.now();
    if (at > now) {
      // Dispatched since the timer was set: the app's own timeout runs on.
      this.arm(id, w, at);
      return;
    }
    this.waiting.delete(id);
    w.reject(new VeltrixError(w.startedAt > 0 ? "VX_ERR_UPSTREAM_TIMEOUT" : "VX_ERR_QUEUE_TIMEOUT"));
  }

  private arm(id: string, w: Waiting, at: number): void {
    w.timerAt = at;
    w.timer = setTimeout(() => this.expire(id), Math.max(0, at - Date.now()));
  }

  /** True when `reply` is a subject of this sidecar's: it holds that request (or did). */
  holds(reply: string): boolean {
    return reply.startsWith(this.names.replyPrefix);
  }

  /**
   * Delivers a reply in-process when the request is held by this sidecar (the common
   * case with one pod), saving two NATS hops. False when it is held elsewhere.
   */
  deliverLocal(subject: string, result: JobResult, body: Buffer | undefined): boolean {
    if (!this.holds(subject)) return false;
    this.onReply(subject, result, body ?? empty);
    return true;
  }

  /**
   * The client left: a sync request no executor has claimed yet is given up here, so
   * the claim it would ask for is refused and it never runs. False when one was granted
   * (it runs, or ran, and its answer has no one to go to).
   */
  abandon(id: string): boolean {
    const w = this.waiting.get(id);
    if (!w || w.claims > 0) return false;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    w.reject(
      new DOMException("the client closed the connection before the request was dispatched", "AbortError"),
    );
    return true;
  }

  /**
   * An executor asks to run the request held on `subject`: granted while this holder
   * still waits for it, refused once it answered its client (VX_ERR_QUEUE_TIMEOUT) or
   * never held it. A granted claim starts the app's timeout here.
   */
  claim(subject: string): JobResult {
    const id = subject.slice(this.names.replyPrefix.length + 1);
    const w = this.waiting.get(id);
    if (!w) return { error: "VX_ERR_QUEUE_TIMEOUT" };
    w.claims++;
    this.started(id, w);
    return { event: "claimed", attempt: w.claims };
  }

  /**
   * Dispatched: the app's timeout applies now (plus room for the reply). The maxWait
   * timer stays when it fires first (usual: requests finish long before it, and
   * `expire` then re-arms), saving a timer per request; re-armed only to fire earlier.
   */
  private started(id: string, w: Waiting): void {
    w.startedAt = Date.now();
    const at = giveUpAt(w);
    if (at < w.timerAt) {
      clearTimeout(w.timer);
      this.arm(id, w, at);
    }
  }

  private onReply(subject: string, r: JobResult, body: Buffer): void {
    const id = subject.slice(this.names.replyPrefix.length + 1);
    const w = this.waiting.get(id);
    if (!w) return;
    if (r.event === "started") {
      // From an executor that predates claims.
      this.started(id, w);
      return;
    }
    clearTimeout(w.timer);
    this.waiting.delete(id);
    if (r.error !== undefined || r.status === undefined) {
      const error = r.error ?? "VX_ERR_UPSTREAM_UNAVAILABLE";
      w.reject(new VeltrixError(isSidecarErrorCode(error) ? error : "VX_ERR_INTERNAL"));
      return;
    }
    w.resolve({ status: r.status, headers: r.headers ?? {}, body, trailers: r.trailers });
  }
}
