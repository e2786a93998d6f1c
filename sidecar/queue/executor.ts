// The executing side: pulls from the shared durable consumer only for free slots
// (so this pod's app never has more than maxConcurrency in flight), calls the app,
// replies (sync) or stores the outcome (async), commits the record, then acks.
// Failures to reach the app are retried by redelivery up to maxDeliver, then the
// request is dead-lettered.
import { jetstream } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { errors as natsErrors, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import type { CurrentConfig } from "../config/current-config.ts";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import type { Metrics } from "../metrics.ts";
import { veltrixHeaders, type HeaderMap } from "../app/headers.ts";
import type { Upstream } from "../app/upstream.ts";
import { AppReachability, connectionRefused } from "../app/reachability.ts";
import type { RequestStore } from "../state/store.ts";
import {
  readJob,
  readResult,
  resultHeaders,
  wireHeaders,
  type JobResult,
  type QueuedJob,
} from "./envelope.ts";
import { outcomeKey, type QueueNames } from "./names.ts";
import { Puller, type PulledMsg } from "../nats/pull.ts";
import { logger } from "../log.ts";

const log = logger("executor");

/** Largest async outcome body kept (bytes). */
export const maxOutcomeBody = 256 * 1024;
/** Largest sync reply body: below NATS's default max_payload of 1 MiB with room for headers. */
export const maxReplyBody = 960 * 1024;
/** Longest wait before a redelivery, however many attempts failed. */
const maxRetryDelayMs = 60_000;
/** Back-off before redelivering after a claim went unanswered. */
const unclaimedDelayMs = 500;
/** How long the server keeps a pull open waiting for messages. */
const pullExpiresMs = 5_000;
/** Pause after the server refused a pull (consumer gone, JetStream down). */
const refusedPauseMs = 500;
/** How long a claim waits for the holder's answer before the request goes back to the stream. */
const claimTimeoutMs = 2_000;

/** The holding side in this process: replies and claims for requests it holds skip NATS. */
export interface LocalHolder {
  /** True when `reply` is a subject of this process's holder. */
  holds(reply: string): boolean;
  deliverLocal(reply: string, result: JobResult, body: Buffer | undefined): boolean;
  claim(reply: string): JobResult;
}

/**
 * Whether a sync request may run: the attempt to present to the app, "refused" (its
 * client was answered: never run it), "holder gone" (nobody can receive the answer),
 * or "no answer" (the holder did not answer in time: try again later).
 */
type Claim = number | "refused" | "holder gone" | "no answer";

export interface ExecutorDeps {
  nc: NatsConnection;
  names: QueueNames;
  config: CurrentConfig;
  store: RequestStore;
  upstream: Upstream;
  metrics: Metrics;
  outcomes: KV;
  /** This process's holder (JetStreamQueueClient), for in-process replies and claims. */
  holder?: LocalHolder;
  /** App slots taken outside the queue (requests served directly while the broker was away). */
  slotsElsewhere?: () => number;
  /** Told when this executor frees an app slot. */
  onSlotFreed?: () => void;
}

export class Executor {
  private readonly d: ExecutorDeps;
  private puller: Puller | undefined;
  private executing = 0;
  private stopping = false;
  /** No pulls before this (ms epoch): the server refused the last one. */
  private pausedUntil = 0;
  private wake: (() => void) | undefined;
  private readonly running = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  /** Wakes the pull loop now and then even without events (limit changes, errors). */
  private tick: NodeJS.Timeout | undefined;
  /** Label children of the hot path, bound once (labelled lookups hash on every call). */
  private readonly queueWait: Record<"sync" | "async", { observe(seconds: number): void }>;
  /** No pulls while the app refuses connections (or before it first accepts one). */
  private readonly app: AppReachability;

  constructor(deps: ExecutorDeps) {
    this.d = deps;
    this.app = new AppReachability({
      ...deps.upstream.origin,
      onReachable: () => {
        log.info("the app accepts connections: pulling requests");
        this.wake?.();
      },
      onUnreachable: () => log.warn("the app refused a connection: no pulls until it accepts one again"),
    });
    this.queueWait = {
      sync: deps.metrics.queueWait.labels({ mode: "sync" }),
      async: deps.metrics.queueWait.labels({ mode: "async" }),
    };
  }

  get inFlight(): number {
    return this.executing;
  }

  /** App slots this executor holds: requests running, and messages pulled on their way. */
  get slots(): number {
    return this.executing + (this.puller?.pending ?? 0);
  }

  /** Pulls again now (another user of the app's slots freed one). */
  wakeUp(): void {
    this.wake?.();
  }

  async start(): Promise<void> {
    // Fails here, not in the pull loop, when the consumer does not exist.
    await jetstream(this.d.nc).consumers.get(this.d.names.stream, this.d.names.consumer);
    this.puller = new Puller(this.d.nc, {
      stream: this.d.names.stream,
      consumer: this.d.names.consumer,
      expiresMs: pullExpiresMs,
      onMessage: (m) => this.onPulled(m),
      onRelease: () => this.wake?.(),
      onRefused: (why) => {
        log.error(why);
        this.pausedUntil = Date.now() + refusedPauseMs;
      },
    });
    this.tick = setInterval(() => this.wake?.(), 1_000).unref();
    this.app.start();
    this.loop = this.pullLoop();
  }

  /** Stops pulling; waits for executing requests (naks what arrives late) up to `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
    await this.loop;
    clearInterval(this.tick);
    this.app.stop();
    // Only now: until the pulls still open on the server lose their inbox, what they
    // deliver is nak'ed (onPulled), so other pods get it at once. A message on its way
    // when the inbox goes would wait out the consumer's ack_wait instead.
    this.puller?.stop();
  }

  private async pullLoop(): Promise<void> {
    const puller = this.puller;
    if (!puller) return;
    while (!this.stopping) {
      const max = this.d.config.current.settings.maxConcurrency;
      const free = max - this.executing - puller.pending - (this.d.slotsElsewhere?.() ?? 0);
      // Pull for every free slot, in batches: a new pull when none is pending, or once a
      // quarter of the slots are free (each pull is a request the server queues).
      if (
        free > 0 &&
        (puller.pending === 0 || free >= Math.ceil(max / 4)) &&
        Date.now() >= this.pausedUntil &&
        this.app.up
      )
        puller.pull(free);
      // Woken by every finished request and handed-back pull, and by `tick`. (A timer per
      // wait here was one more timer per request, each alive for a second.)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  private onPulled(m: PulledMsg): void {
    if (this.stopping) {
      m.nak();
      return;
    }
    this.executing++;
    const p = this.execute(m).finally(() => {
      this.executing--;
      this.running.delete(p);
      this.wake?.();
      this.d.onSlotFreed?.();
    });
    this.running.add(p);
  }

  private async execute(m: PulledMsg): Promise<void> {
    const { store, metrics, upstream, config } = this.d;
    const kind = m.subject.endsWith(".async") ? "async" : "sync";
    const job = readJob(m.headers);
    if ("malformed" in job) return this.refuseMalformed(m, kind, job.malformed);
    const { id } = job;
    const reply = job.reply ?? "";
    let attempt = m.deliveryCount;
    const s = config.current.settings;
    if (kind === "sync" && reply) {
      const claim = job.claim ? await this.claim(reply) : legacyClaim(job, attempt);
      if (claim === "no answer") {
        m.nak(unclaimedDelayMs);
        return;
      }
      if (typeof claim !== "number") {
        m.term(claim === "refused" ? "its holder answered the client already" : "its holder is gone");
        if (claim === "refused") metrics.shed.inc({ reason: "VX_ERR_QUEUE_TIMEOUT" });
        else metrics.requests.inc({ mode: "sync", outcome: "abandoned" });
        return;
      }
      attempt = Math.max(attempt, claim);
    }
    if (kind === "async" && (await this.finishedBefore(id))) {
      // Delivered again after it ran to its end (an ack lost with nats-server, which may
      // then number the delivery 1 again): never run twice what already has its outcome.
      m.ack();
      metrics.requests.inc({ mode: "async", outcome: "repeat skipped" });
      return;
    }
    const now = Date.now();
    if (attempt > s.maxDeliver)
      return this.deadLetter(m, id, kind, reply, attempt, "executor lost on the last attempt");
    store.admit({
      id,
      revision: job.revision,
      configHash: job.configKey,
      mode: kind,
      method: job.method,
      path: job.path,
      receivedAt: job.receivedAt,
    });
    store.update(id, { state: "dispatched", at: now, attempt });
    this.queueWait[kind].observe((now - job.receivedAt) / 1000);
    if (kind === "sync" && reply && !job.claim) this.send(reply, { event: "started" }, undefined);
    const reqHeaders = job.headers;
    reqHeaders[veltrixHeaders.attempt] = String(attempt);
    metrics.inFlight.inc();
    const t0 = Date.now();
    try {
      const res = await upstream.call(
        job.method,
        job.path,
        reqHeaders,
        Buffer.from(m.data),
        s.requestTimeoutMs,
        kind === "sync" ? maxReplyBody : maxOutcomeBody,
      );
      metrics.upstreamLatency.observe((Date.now() - t0) / 1000);
      if (kind === "sync") {
        const result: JobResult = { status: res.status, headers: res.headers };
        if (Object.keys(res.trailers).length > 0) result.trailers = res.trailers;
        if (res.truncated) result.error = "VX_ERR_UPSTREAM_UNAVAILABLE";
        if (reply) this.send(reply, result, res.body);
      } else {
        await this.d.outcomes.put(
          outcomeKey(this.d.names, id),
          JSON.stringify({
            id,
            state: "done",
            attempt,
            revision: job.revision,
            status: res.status,
            headers: res.headers,
            body: res.body.toString("base64"),
            truncated: res.truncated,
            at: Date.now(),
          }),
        );
      }
      store.update(id, { state: "done", at: Date.now(), status: res.status });
      if (kind === "async")
        store.putOutcome(id, { status: res.status, headers: flat(res.headers), body: res.body });
      store.afterCommit(() => m.ack());
      if (kind === "async") metrics.requests.inc({ mode: "async", outcome: "done" });
    } catch (err) {
      const code: ErrorCode = err instanceof VeltrixError ? err.code : "VX_ERR_INTERNAL";
      if (connectionRefused(err)) this.app.refused();
      if (kind === "sync" && code === "VX_ERR_UPSTREAM_TIMEOUT") {
        // The client is answered 504; running it again would not reach it in time.
        this.replyError(reply, code);
        store.update(id, { state: "failed", at: Date.now(), error: code });
        store.afterCommit(() => m.term(code));
        return;
      }
      if (attempt < s.maxDeliver && !this.stopping) {
        store.update(id, { state: "queued", at: Date.now(), attempt, error: code });
        store.afterCommit(() => m.nak(retryDelay(s.retryDelayMs, attempt)));
        return;
      }
      if (this.stopping && attempt < s.maxDeliver) {
        m.nak();
        return;
      }
      await this.deadLetter(m, id, kind, reply, attempt, code);
    } finally {
      metrics.inFlight.dec();
    }
  }

  /** True when the async request's shared outcome is final ("done" or dead-lettered). */
  private async finishedBefore(id: string): Promise<boolean> {
    try {
      const e = await this.d.outcomes.get(outcomeKey(this.d.names, id));
      if (!e || e.operation !== "PUT") return false;
      const state = (e.json<{ state?: string }>() ?? {}).state;
      return state === "done" || state === "expired";
    } catch {
      // The bucket unreadable: at least once still holds; run it.
      return false;
    }
  }

  /** Asks the request's holder whether it may run (see JetStreamQueueClient.claim). */
  private async claim(reply: string): Promise<Claim> {
    const holder = this.d.holder;
    let r: JobResult;
    if (holder?.holds(reply)) r = holder.claim(reply);
    else {
      try {
        const msg = await this.d.nc.request(reply, undefined, {
          timeout: claimTimeoutMs,
          headers: resultHeaders({ event: "claim" }),
        });
        r = readResult(msg.headers);
      } catch (err) {
        // No subscriber on the reply subject: its sidecar (and so its client) is gone.
        if (err instanceof natsErrors.RequestError && err.isNoResponders()) return "holder gone";
        return "no answer";
      }
    }
    return r.event === "claimed" && typeof r.attempt === "number" ? r.attempt : "refused";
  }

  private send(reply: string, result: JobResult, body: Buffer | undefined): void {
    if (this.d.holder?.deliverLocal(reply, result, body)) return;
    this.d.nc.publish(reply, body, { headers: resultHeaders(result) });
  }

  private replyError(reply: string, code: ErrorCode): void {
    if (reply) this.send(reply, { error: code }, undefined);
  }

  /** Not a request a sidecar published (or of another wire version): never run it. */
  private refuseMalformed(m: PulledMsg, kind: string, why: string): void {
    log.error("dead-lettering a malformed message", { subject: m.subject, reason: why });
    this.announceDeadLetter(m, undefined, `malformed message: ${why}`);
    this.d.metrics.requests.inc({ mode: kind, outcome: "malformed" });
    m.term(why);
  }

  private async deadLetter(
    m: PulledMsg,
    id: string,
    kind: string,
    reply: string,
    attempt: number,
    why: string,
  ): Promise<void> {
    const { store, metrics } = this.d;
    const at = Date.now();
    await this.d.outcomes
      .put(
        outcomeKey(this.d.names, id),
        JSON.stringify({ id, state: "expired", deadLettered: true, attempt, error: why, at }),
      )
      .catch(() => undefined);
    store.update(id, { state: "expired", at, attempt, error: `VX_ERR_DEAD_LETTERED: ${why}` });
    await store.flush();
    if (kind === "sync") this.replyError(reply, "VX_ERR_DEAD_LETTERED");
    this.announceDeadLetter(m, id, why);
    metrics.requests.inc({ mode: kind, outcome: "expired" });
    m.term(why);
  }

  /** The documented dead-letter message: the original body, `Vx-Id` (when known) and `Vx-Error`. */
  private announceDeadLetter(m: PulledMsg, id: string | undefined, error: string): void {
    const dh = natsHeaders();
    if (id !== undefined) dh.set(wireHeaders.id, id);
    dh.set(wireHeaders.error, error);
    this.d.nc.publish(this.d.names.deadLetterSubject, m.data, { headers: dh });
  }
}

/** The wait before redelivering after `attempt` failed: retryDelay, doubling per attempt. */
export function retryDelay(firstMs: number, attempt: number): number {
  return Math.min(maxRetryDelayMs, firstMs * 2 ** (attempt - 1));
}

/**
 * A request from a holder that predates claims: its wall-clock deadline (the holder's
 * clock) is all there is to go by.
 */
function legacyClaim(job: QueuedJob, attempt: number): Claim {
  return job.deadline && Date.now() > job.deadline ? "refused" : attempt;
}

function flat(h: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}
