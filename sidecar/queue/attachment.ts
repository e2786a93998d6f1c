// Brings the JetStream queue up once NATS is reachable (the sidecar serves before
// that: direct mode, or the onBrokerUnavailable choice) and takes it down in order on
// shutdown: stop pulling, finish or nak, wait for held sync replies, drain NATS.
import { jetstreamManager } from "@nats-io/jetstream";
import type { CurrentConfig } from "../config/current-config.ts";
import { payloadLimitWarning } from "../../api/payload-limit.ts";
import type { Metrics } from "../metrics.ts";
import type { Upstream } from "../app/upstream.ts";
import type { Attachment } from "../attachment.ts";
import type { RequestStore } from "../state/store.ts";
import type { Broker } from "../nats/broker.ts";
import { JetStreamQueueClient } from "./client.ts";
import { Executor } from "./executor.ts";
import { queueNames, type QueueNames } from "./names.ts";
import { ensureQueue, openOutcomes } from "./setup.ts";
import { logger } from "../log.ts";

const log = logger("queue");

export interface QueueAttachmentDeps {
  broker: Broker;
  config: CurrentConfig;
  store: RequestStore;
  upstream: Upstream;
  metrics: Metrics;
  createStream: boolean;
  /** App slots taken outside the queue, and a call when one is freed there (see Executor). */
  slotsElsewhere?: () => number;
  onSlotFreed?: () => void;
}

export class QueueAttachment implements Attachment {
  readonly client: JetStreamQueueClient;
  readonly names: QueueNames;
  private executor: Executor | undefined;
  private readonly d: QueueAttachmentDeps;
  private stopped = false;
  private depthTimer: NodeJS.Timeout | undefined;
  private lastError = "";

  constructor(d: QueueAttachmentDeps) {
    this.d = d;
    this.names = queueNames(d.config.current.doc);
    this.client = new JetStreamQueueClient(d.broker, this.names);
    d.broker.onChange((up) => d.metrics.brokerUp.set(up ? 1 : 0));
    void this.bringUp();
  }

  /** App slots the executor holds (0 before it is attached). */
  get slots(): number {
    return this.executor?.slots ?? 0;
  }

  /** Another user of the app's slots freed one: pull again. */
  slotFreed(): void {
    this.executor?.wakeUp();
  }

  get ready(): boolean {
    const s = this.d.config.current.settings;
    return s.mode === "direct" || s.onBrokerUnavailable === "direct" || this.client.available;
  }

  get notReadyReason(): string {
    const why = (!this.d.broker.available && this.d.broker.lastError) || this.lastError;
    return `broker unavailable and queue.onBrokerUnavailable is fail${why ? ` (${why})` : ""}`;
  }

  detail(): Record<string, unknown> {
    return {
      broker: this.d.broker.available ? "up" : "down",
      queue: this.client.available ? "attached" : "detached",
      stream: this.names.stream,
      executing: this.executor?.inFlight ?? 0,
      held: this.client.held,
      ...this.payloadWarnings(),
    };
  }

  /** The gap between maxBodyBytes and the connected server's max_payload, if any. */
  private payloadWarnings(): { warnings?: string[] } {
    const warning = payloadLimitWarning(
      this.d.config.current.settings.maxBodyBytes,
      this.d.broker.connection?.info?.max_payload,
    );
    return warning ? { warnings: [warning] } : {};
  }

  private async bringUp(): Promise<void> {
    const nc = await this.d.broker.ready();
    const s = this.d.config.current.settings;
    while (!this.stopped) {
      try {
        await ensureQueue(nc, this.names, s, this.d.createStream);
        const outcomes = await openOutcomes(nc, this.names, s, this.d.createStream);
        this.client.attach(outcomes);
        this.executor = new Executor({
          nc,
          names: this.names,
          config: this.d.config,
          store: this.d.store,
          upstream: this.d.upstream,
          metrics: this.d.metrics,
          outcomes,
          holder: this.client,
          ...(this.d.slotsElsewhere && { slotsElsewhere: this.d.slotsElsewhere }),
          ...(this.d.onSlotFreed && { onSlotFreed: this.d.onSlotFreed }),
        });
        await this.executor.start();
        this.lastError = "";
        log.info("attached", { stream: this.names.stream, consumer: this.names.consumer });
        for (const warning of this.payloadWarnings().warnings ?? []) log.warn(warning);
        this.sampleDepth();
        return;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        log.error("not attached yet", { reason: this.lastError });
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
  }

  private sampleDepth(): void {
    const nc = this.d.broker.connection;
    if (!nc) return;
    this.depthTimer = setInterval(() => {
      if (!this.d.broker.available) return;
      void jetstreamManager(nc)
        .then((jsm) => jsm.streams.info(this.names.stream))
        .then((i) => this.d.metrics.queueDepth.set(i.state.messages))
        .catch(() => undefined);
    }, 5_000);
    this.depthTimer.unref();
  }

  async drain(graceMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.depthTimer);
    await this.executor?.drain(graceMs);
    await this.client.settle(graceMs);
    this.client.close();
  }
}
