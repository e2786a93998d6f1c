// The sidecar's NATS connections, with one change to how nats.js writes: it flushes its
// outbound buffer from a microtask, so once per I/O callback, and every HTTP request's
// publish and every app answer's ack arrives in a callback of its own: a write syscall
// each. This transport corks the socket at the first write of an event-loop turn and
// uncorks it when the turn's I/O callbacks are done (setImmediate), so the turn's
// commands leave in one writev and nats-server reads them in one.
import { createInbox, NatsConnectionImpl, setTransportFactory } from "@nats-io/nats-core/internal";
import type { NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

class TurnBatchingTransport extends NodeTransport {
  private corked = false;

  override send(frame: Uint8Array): void {
    const socket = this.socket as NodeTransport["socket"] | undefined;
    if (socket && !this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    super.send(frame);
  }
}

/**
 * `connect` of @nats-io/transport-node, with writes batched per event-loop turn. The
 * transport factory is process-wide in nats.js (its own `connect` sets it too): every
 * NATS connection the sidecar makes goes through here.
 */
export function connectNats(opts: NodeConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new TurnBatchingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}

/**
 * A new inbox under the connection's own root (its `inboxPrefix` option, the config's
 * contract.inboxPrefix for a sidecar), as nats.js makes its own.
 */
export function inboxFor(nc: NatsConnection): string {
  return createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}
