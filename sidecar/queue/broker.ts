// The sidecar's NATS connection: connects in the background (the sidecar serves from
// disk/direct while NATS is unreachable), reconnects forever, and tracks whether it is
// up now for readiness, metrics and the onBrokerUnavailable choice.
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";

export class Broker {
  private conn: NatsConnection | undefined;
  private up = false;
  private readonly connected: Promise<NatsConnection>;
  private readonly listeners = new Set<(up: boolean) => void>();
  private closed = false;
  /** When the connection was last known up (ms epoch), 0 if never. */
  lastUpAt = 0;

  constructor(url: string, name: string, credentialsFile?: string) {
    this.connected = connect({
      servers: url,
      name,
      ...(credentialsFile ? { authenticator: credsAuthenticator(readFileSync(credentialsFile)) } : {}),
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5_000,
      maxPingOut: 2,
    }).then((nc) => {
      this.conn = nc;
      this.set(true);
      void this.watch(nc);
      return nc;
    });
    this.connected.catch((err: unknown) => {
      if (!this.closed) console.error("veltrix broker: connect failed", err);
    });
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
    console.log(`veltrix broker: ${up ? "connected" : "disconnected"}`);
    for (const l of this.listeners) l(up);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "staleConnection") this.set(false);
      else if (s.type === "reconnect") this.set(true);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.set(false);
    if (this.conn && !this.conn.isClosed()) await this.conn.drain().catch(() => undefined);
  }
}
