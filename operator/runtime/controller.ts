// A controller: a work queue of keys ("namespace/name") and workers that reconcile
// them. Informer callbacks only enqueue keys; reconcile reads the current state
// itself (level-based). A thrown error requeues the key with per-key backoff,
// TerminalError does not; {requeueAfterMs} schedules the next look.
import { randomUUID } from "node:crypto";
import { TerminalError } from "./errors.ts";
import type { Logger } from "../../lib/log.ts";
import type { ControllerMetrics } from "./metrics.ts";
import { type BackoffOptions, type Clock, systemClock, WorkQueue } from "./work-queue.ts";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  reconcileId: string;
  log: Logger;
  /** Aborted when the controller stops (lost leadership, shutdown): stop writing. */
  signal: AbortSignal;
}

export type Reconcile = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | undefined>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  log: Logger;
  workers?: number;
  backoff?: BackoffOptions;
  metrics?: ControllerMetrics;
  clock?: Clock;
}

export class Controller {
  readonly name: string;
  private queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private abort = new AbortController();
  private workers: Promise<void>[] = [];
  private running = false;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.queue = new WorkQueue(opts.backoff, opts.clock ?? systemClock);
  }

  get isRunning(): boolean {
    return this.running;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Queue a key. Before start() or after stop() the key is dropped (a resync brings it back). */
  enqueue(key: string): void {
    if (!this.running) return;
    this.queue.add(key);
    this.opts.metrics?.queueDepth.set({ controller: this.name }, this.queue.length);
  }

  enqueueAfter(key: string, ms: number): void {
    if (this.running) this.queue.addAfter(key, ms);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.queue = new WorkQueue(this.opts.backoff, this.opts.clock ?? systemClock);
    const n = this.opts.workers ?? 2;
    this.workers = Array.from({ length: n }, () => this.work(this.queue, this.abort.signal));
    // The error series exists at 0 from the start, so a dashboard shows "no errors", not "no data".
    this.opts.metrics?.errors.inc({ controller: this.name }, 0);
    this.opts.log.info("controller started", { controller: this.name, workers: n });
  }

  /** Stops at once: no new reconciles start, running ones see their signal aborted. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort(new Error("controller stopped"));
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.opts.log.info("controller stopped", { controller: this.name });
  }

  private async work(queue: WorkQueue, signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined || signal.aborted) return;
      try {
        await this.reconcileOne(queue, key, signal);
      } finally {
        queue.done(key);
        this.opts.metrics?.queueDepth.set({ controller: this.name }, queue.length);
      }
    }
  }

  private async reconcileOne(queue: WorkQueue, key: string, signal: AbortSignal): Promise<void> {
    const reconcileId = randomUUID();
    const log = this.opts.log.child({ controller: this.name, key, reconcileId });
    const started = performance.now();
    const m = this.opts.metrics;
    let result = "success";
    try {
      const out = await this.opts.reconcile(key, { reconcileId, log, signal });
      queue.forget(key);
      if (out?.requeueAfterMs !== undefined) {
        queue.addAfter(key, out.requeueAfterMs);
        result = "requeue_after";
      }
      log.debug("reconciled", {
        requeueAfterMs: out?.requeueAfterMs,
        ms: Math.round(performance.now() - started),
      });
    } catch (err) {
      if (signal.aborted) {
        result = "aborted";
        return;
      }
      m?.errors.inc({ controller: this.name });
      if (err instanceof TerminalError) {
        result = "terminal_error";
        queue.forget(key);
        log.error("reconcile failed, not retrying", { err });
      } else {
        result = "error";
        const delay = queue.addRateLimited(key);
        log.warn("reconcile failed, will retry", {
          err,
          retryInMs: delay,
          retries: queue.limiter.retries(key),
        });
      }
    } finally {
      m?.reconciles.inc({ controller: this.name, result });
      m?.duration.observe({ controller: this.name }, (performance.now() - started) / 1000);
    }
  }
}
