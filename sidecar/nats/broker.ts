// The sidecar's NATS connection: connects in the background (the sidecar serves from
// disk/direct while NATS is unreachable), reconnects forever, and tracks whether it is
// up now for readiness, metrics and the onBrokerUnavailable choice. Credentials and TLS
// come from lib/nats-auth.ts (files re-read on every connect); `lastError`
// says why the last connect or reconnect failed (TLS, credentials, unreachable).
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "./connect.ts";
import {
  credentialsFileProblem,
  type NatsClientSettings,
  natsConnectionOptions,
  natsFailureKind,
} from "../../lib/nats-auth.ts";
import { logger } from "../log.ts";

const log = logger("broker");

export class Broker {
  private conn: NatsConnection | undefined;
  private up = false;
  private readonly connected: Promise<NatsConnection>;
  private readonly listeners = new Set<(up: boolean) => void>();
  private closed = false;
  /** When the connection was last known up (ms epoch), 0 if never. */
  lastUpAt = 0;
  /** Why the last connect attempt failed (cleared once connected). */
  lastError: string | undefined;

  private readonly url: string;
  private readonly client: NatsClientSettings;

  constructor(url: string, name: string, client: NatsClientSettings = {}) {
    this.url = url;
    this.client = client;
    this.connected = this.connectLoop(url, name, client).then((nc) => {
      this.conn = nc;
      this.lastError = undefined;
      this.set(true);
      void this.watch(nc);
      return nc;
    });
    this.connected.catch((err: unknown) => {
      if (!this.closed) log.error("connect failed", { err });
    });
  }

  /** First connect: retried every 500 ms, each failure explained once in the log. */
  private async connectLoop(url: string, name: string, client: NatsClientSettings): Promise<NatsConnection> {
    for (;;) {
      if (this.closed) throw new Error("broker closed before it connected");
      try {
        return await connectNats({
          servers: url,
          name,
          ...natsConnectionOptions(client),
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          pingInterval: 5_000,
          maxPingOut: 2,
          // Every request (each JetStream publish) would otherwise build two Error objects
          // up front for their stack traces: ~8% of the sidecar's CPU in sync mode.
          noAsyncTraces: true,
          // nats.js gives up reconnecting after the same auth error twice; credentials
          // rotated on the server may reach the mounted Secret later (re-read on each
          // attempt), so keep trying and say why in /readyz meanwhile.
          ignoreAuthErrorAbort: true,
        });
      } catch (err) {
        this.noteError(describeFailure(url, client, err));
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  get available(): boolean {
    return this.up;
  }

  get connection(): NatsConnection | undefined {
    return this.conn;
  }

  /** Resolves once connected (never rejects while retrying). */
  ready(): Promise<NatsConnection> {
    return this.connected;
  }

  onChange(l: (up: boolean) => void): void {
    this.listeners.add(l);
  }

  private set(up: boolean): void {
    if (up) this.lastUpAt = Date.now();
    else if (this.up) this.lastUpAt = Date.now();
    if (up === this.up) return;
    this.up = up;
    log.info(up ? "connected" : "disconnected");
    for (const l of this.listeners) l(up);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "staleConnection") this.set(false);
      else if (s.type === "reconnect") {
        this.lastError = undefined;
        this.set(true);
      } else if (s.type === "error") this.noteError(describeFailure(this.url, this.client, s.error));
    }
    if (!this.closed) log.error("the NATS connection closed for good; restart the sidecar");
  }

  private noteError(why: string): void {
    if (why !== this.lastError) log.error(why);
    this.lastError = why;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.set(false);
    if (this.conn && !this.conn.isClosed()) await this.conn.drain().catch(() => undefined);
  }
}

function messages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (!parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(": ") || String(err);
}

/** One line naming the URL, the kind of failure and, for TLS, the options that fix it. */
export function describeFailure(url: string, client: NatsClientSettings, err: unknown): string {
  const kind = natsFailureKind(err);
  if (kind === "tls") {
    const hint =
      client.tlsCaFile || client.tlsDir
        ? "check the CA (--nats-tls-ca / --nats-tls-dir) and --nats-tls-server-name"
        : "set the CA with --nats-tls-ca or VELTRIX_NATS_TLS_CA (or --nats-tls-dir)";
    return `TLS to NATS at ${url} failed: ${messages(err)}; ${hint}`;
  }
  if (kind === "auth") {
    // Our own reading of the files failed (missing, malformed): the server never saw them.
    const fileProblem = credentialsFileProblem(err);
    if (fileProblem) return `cannot use the NATS credentials for ${url}: ${fileProblem.message}`;
    const source = client.credentialsFile ?? client.credentialsDir;
    const hint = source
      ? `check ${source}`
      : "no credentials are set (--nats-credentials or --nats-credentials-dir, VELTRIX_NATS_CREDENTIALS or VELTRIX_NATS_CREDENTIALS_DIR)";
    return `authentication to NATS at ${url} failed, the server refused the credentials: ${messages(err)}; ${hint}`;
  }
  return `cannot connect to NATS at ${url}: ${messages(err)}`;
}
