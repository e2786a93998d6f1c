// The operator's NATS connection: the process-wide supervisor (lib/nats-supervisor.ts)
// with the JetStream handles and buckets a reconcile uses. It reports whether NATS is
// usable right now so a reconcile fails fast (Ready=False, reason NatsUnavailable)
// instead of waiting on timeouts; onUp fires on every (re)connect so the controller
// can resync at once.
import { jetstream, type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { configBucket, sidecarStatusBucket, sidecarStatusTtlMs } from "../../api/contract.ts";
import { type ErrorCode, VeltrixError } from "../../api/errors.ts";
import { credentialsFileProblem, type NatsClientSettings, natsFailureKind } from "../../lib/nats-auth.ts";
import { NatsSupervisor } from "../../lib/nats-supervisor.ts";
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

/** The operator's NATS connection (lib/nats-supervisor.ts) with its JetStream handles and buckets. */
export class NatsLink {
  private readonly opts: NatsLinkOptions;
  private readonly supervisor: NatsSupervisor<NatsHandles>;

  constructor(opts: NatsLinkOptions) {
    this.opts = opts;
    const timeout = opts.timeoutMs ?? 3_000;
    const replicas = opts.bucketReplicas ?? 1;
    this.supervisor = new NatsSupervisor<NatsHandles>({
      servers: opts.servers,
      name: opts.name ?? "veltrix-operator",
      log: opts.log,
      ...(opts.client ? { client: opts.client } : {}),
      setup: async (nc) => {
        const jsm = await jetstreamManager(nc, { timeout });
        const js = jetstream(nc, { timeout });
        const kvm = new Kvm(js);
        const configKv = await kvm.create(configBucket, { history: 5, replicas });
        const sidecarKv = await kvm.create(sidecarStatusBucket, {
          history: 1,
          ttl: sidecarStatusTtlMs,
          replicas,
        });
        return { nc, jsm, js, configKv, sidecarKv };
      },
    });
    // Every (re)connect: the controller resyncs at once.
    this.supervisor.onChange((up) => {
      const handles = this.supervisor.handles;
      if (up && handles) opts.onUp?.(handles);
    });
  }

  start(): void {
    this.supervisor.start();
  }

  get isConnected(): boolean {
    return this.supervisor.available;
  }

  /**
   * The handles, or VX_ERR_NATS_UNAVAILABLE when NATS cannot be used right now
   * (VX_ERR_NATS_AUTH / VX_ERR_NATS_TLS when the last connect failed on credentials or TLS).
   */
  get(): NatsHandles {
    const handles = this.supervisor.handles;
    if (handles) return handles;
    const cause = this.supervisor.lastFailure;
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    const servers = this.opts.servers;
    const kind = natsFailureKind(cause);
    if (kind === "auth") {
      const fileProblem = credentialsFileProblem(cause);
      throw new VeltrixError(
        "VX_ERR_NATS_AUTH",
        fileProblem
          ? `cannot use the operator's NATS credentials for ${servers}: ${fileProblem.message}`
          : `NATS at ${servers} refused the operator's credentials${why}`,
        { cause },
      );
    }
    if (kind === "tls") throw new VeltrixError("VX_ERR_NATS_TLS", `${servers}${why}`, { cause });
    throw new VeltrixError("VX_ERR_NATS_UNAVAILABLE", `${servers}${why}`, { cause });
  }

  /** Remembers why a request failed (shown in the next unavailable error). */
  noteFailure(err: unknown): void {
    // Our own "unavailable" error wraps the failure already; keeping it would nest messages.
    if (err instanceof VeltrixError && natsConnectCodes.has(err.code)) return;
    this.supervisor.noteFailure(err);
  }

  close(): Promise<void> {
    return this.supervisor.close();
  }
}
