import type { Socket } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { connectNats } from "../../../sidecar/nats/connect.ts";
import { tempDir } from "../../harness/env.ts";
import { startNats } from "../../../devenv/nats.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Counts the writes that reach the connection's socket (one per syscall: write or writev). */
function countSocketWrites(nc: NatsConnection): { calls: number } {
  const socket = (nc as unknown as { protocol: { transport: { socket: Socket } } }).protocol.transport.socket;
  const counter = { calls: 0 };
  const s = socket as unknown as Record<"_write" | "_writev", (...a: unknown[]) => void>;
  for (const k of ["_write", "_writev"] as const) {
    const original = s[k].bind(socket);
    s[k] = (...a: unknown[]) => {
      counter.calls++;
      original(...a);
    };
  }
  return counter;
}

/** Publishes `n` messages, each from its own timer callback of one event-loop turn. */
function publishFromSeparateCallbacks(nc: NatsConnection, subject: string, n: number): Promise<void> {
  const timers = Array.from(
    { length: n },
    (_, i) => new Promise<void>((r) => setTimeout(() => (nc.publish(subject, String(i)), r()), 0)),
  );
  return Promise.all(timers).then(() => undefined);
}

describe("the sidecar's NATS connection (real nats-server)", () => {
  it("sends the commands of one event-loop turn in one write, in order", async () => {
    const dir = tempDir("nats-connect");
    const nats = await startNats({ dir, name: "batching-nats" });
    cleanups.push(() => nats.stop());
    const subscriber = await connect({ servers: nats.url });
    cleanups.push(() => subscriber.close());
    const got: string[] = [];
    const sub = subscriber.subscribe("turn.test", {
      callback: (_e, m) => {
        got.push(m.string());
      },
    });
    await subscriber.flush();

    const batching = await connectNats({ servers: nats.url });
    cleanups.push(() => batching.close());
    const plain = await connect({ servers: nats.url });
    cleanups.push(() => plain.close());
    await Promise.all([batching.flush(), plain.flush()]);

    const plainWrites = countSocketWrites(plain);
    await publishFromSeparateCallbacks(plain, "turn.test", 20);
    await plain.flush();
    const batchedWrites = countSocketWrites(batching);
    await publishFromSeparateCallbacks(batching, "turn.test", 20);
    await batching.flush();
    await subscriber.flush();

    // Plain nats.js: a write per callback (its flush is a microtask); batched: the 20
    // publishes in one write, then the flush's PING in the next turn.
    expect(plainWrites.calls).toBeGreaterThanOrEqual(20);
    expect(batchedWrites.calls).toBeLessThanOrEqual(2);
    const expected = Array.from({ length: 20 }, (_, i) => String(i));
    expect(got).toEqual([...expected, ...expected]);
    sub.unsubscribe();
  });
});
