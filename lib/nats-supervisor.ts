// One NATS connection kept for a whole process, the same way in the operator and the
// sidecar: it connects in the background and keeps trying while the server is
// unreachable (backoff 250 ms doubling to 2 s, each failure explained once in the log),
// reconnects forever, and says at any moment whether it is usable and, when not, why.
// `setup` turns a fresh connection into what the program works with (the operator opens
// its JetStream handles and buckets); listeners hear every change between up and down.
// If the client ever gives up on a connection, a new one is made, reading the credential
// files again (lib/nats-auth.ts reads them on every connect).
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import type { Logger } from "./log.ts";
import {
  credentialsFileProblem,
  type NatsClientSettings,
  natsConnectionOptions,
  natsFailureKind,
} from "./nats-auth.ts";

export interface NatsSupervisorOptions<T> {
  /** One URL or several, comma-separated. */
  servers: string;
  name: string;
  client?: NatsClientSettings;
  log: Logger;
  /** Opens a connection (default nats.js `connect`). */
  connect?: (opts: NodeConnectionOptions) => Promise<NatsConnection>;
  /** Options of every connection beyond servers, name, credentials and reconnects. */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Makes a fresh connection usable; a throw counts as a failed connect. */
  setup: (nc: NatsConnection) => Promise<T>;
}

export class NatsSupervisor<T> {
  private readonly o: NatsSupervisorOptions<T>;
  private current: { nc: NatsConnection; handles: T } | undefined;
  private up = false;
  private closed = false;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(up: boolean) => void>();
  private readonly first: Promise<T>;
  private resolveFirst!: (handles: T) => void;
  /** When the connection was last known up (ms epoch), 0 if never. */
  lastUpAt = 0;
  /** Why the last connect or the connection failed, while it is not up. */
  lastFailure: unknown;

  constructor(o: NatsSupervisorOptions<T>) {
    this.o = o;
    this.first = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  start(): void {
    this.loop ??= this.connectLoop();
  }

  get available(): boolean {
    return this.up;
  }

  /** The connection and what setup made of it, while up; undefined while down. */
  get handles(): T | undefined {
    return this.up ? this.current?.handles : undefined;
  }

  get connection(): NatsConnection | undefined {
    return this.current?.nc;
  }

  /**
   * Resolves with the first usable connection's handles. Never rejects: closed before a
   * first connect, it stays pending (whoever waits is being shut down too).
   */
  ready(): Promise<T> {
    return this.first;
  }

  /** One sentence on why NATS is not usable, naming the servers and what to check. */
  get lastError(): string | undefined {
    return this.lastFailure === undefined
      ? undefined
      : describeFailure(this.o.servers, this.o.client ?? {}, this.lastFailure);
  }

  onChange(listener: (up: boolean) => void): void {
    this.listeners.add(listener);
  }

  /** Remembers why a use of the connection failed, for `lastError` while it is down. */
  noteFailure(err: unknown): void {
    this.lastFailure = err;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.set(false);
    const nc = this.current?.nc;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close().catch(() => undefined));
    await this.loop;
  }

  private async connectLoop(): Promise<void> {
    let delay = 250;
    while (!this.closed) {
      try {
        const nc = await (this.o.connect ?? connect)({
          // connect() takes one URL per entry.
          servers: this.o.servers
            .split(",")
            .map((u) => u.trim())
            .filter((u) => u !== ""),
          name: this.o.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 3_000,
          // nats.js gives up reconnecting after the same auth error twice; credentials
          // rotated on the server may reach a mounted Secret later (re-read on each
          // attempt), so keep trying and say why meanwhile.
          ignoreAuthErrorAbort: true,
          ...this.o.connectOptions,
          ...natsConnectionOptions(this.o.client ?? {}),
        });
        let handles: T;
        try {
          handles = await this.o.setup(nc);
        } catch (err) {
          await nc.close().catch(() => undefined);
          throw err;
        }
        if (this.closed) {
          await nc.close().catch(() => undefined);
          return;
        }
        this.current = { nc, handles };
        this.lastFailure = undefined;
        this.said = undefined;
        this.o.log.info("connected to NATS", { servers: this.o.servers });
        this.set(true);
        this.resolveFirst(handles);
        void this.watch(nc);
        return;
      } catch (err) {
        if (this.closed) return;
        this.lastFailure = err;
        this.sayOnce();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "staleConnection") {
        this.lastFailure ??= new Error("disconnected");
        if (this.up) this.o.log.warn("NATS disconnected", { servers: this.o.servers });
        this.set(false);
      } else if (s.type === "reconnect") {
        this.lastFailure = undefined;
        this.said = undefined;
        this.o.log.info("NATS reconnected", { servers: this.o.servers });
        this.set(true);
      } else if (s.type === "error") {
        this.lastFailure = s.error;
        this.sayOnce();
      }
    }
    this.set(false);
    if (this.closed) return;
    // The client gave up on this connection: connect anew.
    this.lastFailure = (await nc.closed()) ?? new Error("NATS connection closed");
    this.o.log.warn("NATS connection closed, connecting again", { reason: this.lastError });
    this.current = undefined;
    this.loop = this.connectLoop();
  }

  private said: string | undefined;

  /** Logs why NATS is not usable when the reason changed since it was last said. */
  private sayOnce(): void {
    const why = this.lastError;
    if (why !== undefined && why !== this.said) this.o.log.warn("NATS is not usable", { reason: why });
    this.said = why;
  }

  private set(up: boolean): void {
    if (up || this.up) this.lastUpAt = Date.now();
    if (up === this.up) return;
    this.up = up;
    for (const l of this.listeners) l(up);
  }
}

function messages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (!parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(": ") || String(err);
}

/** One line naming the servers, the kind of failure and, for TLS and credentials, what fixes it. */
export function describeFailure(servers: string, client: NatsClientSettings, err: unknown): string {
  const kind = natsFailureKind(err);
  if (kind === "tls") {
    const hint =
      client.tlsCaFile || client.tlsDir
        ? "check the CA (--nats-tls-ca / --nats-tls-dir) and --nats-tls-server-name"
        : "set the CA with --nats-tls-ca or VELTRIX_NATS_TLS_CA (or --nats-tls-dir)";
    return `TLS to NATS at ${servers} failed: ${messages(err)}; ${hint}`;
  }
  if (kind === "auth") {
    // Our own reading of the files failed (missing, malformed): the server never saw them.
    const fileProblem = credentialsFileProblem(err);
    if (fileProblem) return `cannot use the NATS credentials for ${servers}: ${fileProblem.message}`;
    const source = client.credentialsFile ?? client.credentialsDir;
    const hint = source
      ? `check ${source}`
      : "no credentials are set (--nats-credentials or --nats-credentials-dir, VELTRIX_NATS_CREDENTIALS or VELTRIX_NATS_CREDENTIALS_DIR)";
    return `authentication to NATS at ${servers} failed, the server refused the credentials: ${messages(err)}; ${hint}`;
  }
  return `cannot connect to NATS at ${servers}: ${messages(err)}`;
}
