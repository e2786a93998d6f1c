// The operator's NATS connection. Connects in the background and keeps trying while
// the server is unreachable; reports whether it is usable right now so a reconcile
// fails fast (Ready=False, reason NatsUnavailable) instead of waiting on timeouts.
// onUp fires on every (re)connect so the controller can resync at once.
import { jetstream, type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { configBucket, sidecarStatusBucket, sidecarStatusTtlMs } from "../../api/contract.ts";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import {
  credentialsFileProblem,
  type NatsClientSettings,
  natsConnectionOptions,
  natsFailureKind,
} from "../../lib/nats-auth.ts";
import type { Logger } from "../../lib/log.ts";

export interface NatsHandles {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  configKv: KV;
  sidecarKv: KV;
}

export interface NatsLinkOptions {
  servers: string;
  /** Credentials and TLS for every connection (lib/nats-auth.ts). */
  client?: NatsClientSettings;
  log: Logger;
  name?: string;
  /** JetStream API request timeout (default 3 s). */
  timeoutMs?: number;
  /** Replicas of the operator's KV buckets (default 1). */
  bucketReplicas?: number;
  onUp?: (h: NatsHandles) => void;
}

const natsConnectCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "VX_ERR_NATS_UNAVAILABLE",
  "VX_ERR_NATS_AUTH",
  "VX_ERR_NATS_TLS",
]);

export class NatsLink {
  private readonly opts: NatsLinkOptions;
  private handles: NatsHandles | undefined;
  private connected = false;
  private lastError: unknown;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(opts: NatsLinkOptions) {
    this.opts = opts;
  }

  get isConnected(): boolean {
    return this.connected && this.handles !== undefined;
  }

  start(): void {
    this.loop ??= this.connectLoop();
  }

  /**
   * The handles, or VX_ERR_NATS_UNAVAILABLE when NATS cannot be used right now
   * (VX_ERR_NATS_AUTH / VX_ERR_NATS_TLS when the last connect failed on credentials or TLS).
   */
  get(): NatsHandles {
    if (!this.handles || !this.connected) {
      const why = this.lastError instanceof Error ? `: ${this.lastError.message}` : "";
      const kind = this.handles ? "other" : natsFailureKind(this.lastError);
      if (kind === "auth") {
        const fileProblem = credentialsFileProblem(this.lastError);
        throw new VeltrixError(
          "VX_ERR_NATS_AUTH",
          fileProblem
            ? `cannot use the operator's NATS credentials for ${this.opts.servers}: ${fileProblem.message}`
            : `NATS at ${this.opts.servers} refused the operator's credentials${why}`,
          { cause: this.lastError },
        );
      }
      if (kind === "tls") {
        throw new VeltrixError("VX_ERR_NATS_TLS", `${this.opts.servers}${why}`, {
          cause: this.lastError,
        });
      }
      throw new VeltrixError("VX_ERR_NATS_UNAVAILABLE", `${this.opts.servers}${why}`, {
        cause: this.lastError,
      });
    }
    return this.handles;
  }

  /** Remembers why a request failed (shown in the next unavailable error). */
  noteFailure(err: unknown): void {
    // Our own "unavailable" error wraps lastError already; keeping it would nest messages.
    if (err instanceof VeltrixError && natsConnectCodes.has(err.code)) return;
    this.lastError = err;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.handles?.nc.close().catch(() => undefined);
    await this.loop;
  }

  private async connectLoop(): Promise<void> {
    let delay = 250;
    while (!this.closed && !this.handles) {
      try {
        const nc = await connect({
          // connect() takes one URL per entry; --nats-url is comma-separated.
          servers: this.opts.servers
            .split(",")
            .map((u) => u.trim())
            .filter((u) => u !== ""),
          name: this.opts.name ?? "veltrix-operator",
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 3_000,
          ...natsConnectionOptions(this.opts.client ?? {}),
        });
        const timeout = this.opts.timeoutMs ?? 3_000;
        const jsm = await jetstreamManager(nc, { timeout });
        const js = jetstream(nc, { timeout });
        const kvm = new Kvm(js);
        const replicas = this.opts.bucketReplicas ?? 1;
        const configKv = await kvm.create(configBucket, { history: 5, replicas });
        const sidecarKv = await kvm.create(sidecarStatusBucket, {
          history: 1,
          ttl: sidecarStatusTtlMs,
          replicas,
        });
        this.handles = { nc, jsm, js, configKv, sidecarKv };
        this.connected = true;
        this.lastError = undefined;
        this.opts.log.info("connected to NATS", { servers: this.opts.servers });
        void this.watchStatus(nc);
        this.opts.onUp?.(this.handles);
      } catch (err) {
        this.lastError = err;
        this.opts.log.warn("NATS connect failed, retrying", {
          servers: this.opts.servers,
          err,
          retryInMs: delay,
        });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.lastError = new Error("disconnected");
        this.opts.log.warn("NATS disconnected");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.lastError = undefined;
        this.opts.log.info("NATS reconnected");
        if (this.handles) this.opts.onUp?.(this.handles);
      }
    }
    this.connected = false;
    if (this.closed) return;
    // The client gave up on this connection (it retries forever, except after repeated
    // authorization errors, e.g. rotated or revoked credentials): connect anew, which reads
    // the credential files again.
    const why = await nc.closed();
    this.lastError = why ?? new Error("NATS connection closed");
    this.handles = undefined;
    this.opts.log.warn("NATS connection closed, connecting again", { err: this.lastError });
    this.loop = this.connectLoop();
  }
}
