// The sidecar's NATS connection: the process-wide supervisor (lib/nats-supervisor.ts)
// on the sidecar's write-batching transport (connect.ts). It connects in the
// background (the sidecar serves from disk/direct while NATS is unreachable), reconnects
// forever, and tells readiness, metrics and the onBrokerUnavailable choice whether it is
// up now and, when not, why (`lastError`: TLS, credentials, unreachable).
import type { NatsConnection } from "@nats-io/transport-node";
import type { NatsClientSettings } from "../../lib/nats-auth.ts";
import { NatsSupervisor } from "../../lib/nats-supervisor.ts";
import { logger } from "../log.ts";
import { connectNats } from "./connect.ts";

export class Broker extends NatsSupervisor<NatsConnection> {
  /** `inbox`: the config's inbox root (contract.inboxPrefix), so its replies carry the config. */
  constructor(url: string, name: string, client: NatsClientSettings = {}, inbox?: string) {
    super({
      servers: url,
      name,
      client,
      log: logger("broker"),
      connect: connectNats,
      connectOptions: {
        pingInterval: 5_000,
        maxPingOut: 2,
        // Every request (each JetStream publish) would otherwise build two Error objects
        // up front for their stack traces: ~8% of the sidecar's CPU in sync mode.
        noAsyncTraces: true,
        ...(inbox ? { inboxPrefix: inbox } : {}),
      },
      setup: (nc) => Promise.resolve(nc),
    });
    this.start();
  }
}
