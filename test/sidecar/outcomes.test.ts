// Each VeltrixConfig's async outcomes live in a KV bucket of its own whose TTL is that
// config's store.retention (a shared bucket kept whichever TTL it was created with). The
// operator keeps it (test/operator/veltrixconfig/reconcile.test.ts); a local-mode sidecar does it here.
// Real nats-server (the suite's).
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Broker } from "../../sidecar/nats/broker.ts";
import { JetStreamQueueClient } from "../../sidecar/queue/client.ts";
import { outcomeKey, queueNames } from "../../sidecar/queue/names.ts";
import { ensureQueue, openOutcomes } from "../../sidecar/queue/setup.ts";
import type { QueueSettings } from "../../sidecar/config/settings.ts";
import { natsUrl } from "../harness/env.ts";

const settings = (retentionMs: number): QueueSettings => ({
  mode: "async",
  maxConcurrency: 1,
  maxQueueDepth: 10,
  maxWaitMs: 1_000,
  requestTimeoutMs: 1_000,
  maxBodyBytes: 1_000,
  maxDeliver: 1,
  retryDelayMs: 1_000,
  overflowStatus: 503,
  retryAfterSeconds: 1,
  onBrokerUnavailable: "fail",
  retentionMs,
  streamStorage: "file",
  streamReplicas: 1,
  streamMaxAgeMs: 60_000,
});

describe("outcome buckets (real nats-server)", () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl() });
  });
  afterAll(async () => {
    await nc.close();
  });

  it("gives each config its own bucket with its retention as TTL, and follows a retention change", async () => {
    const suffix = String(Date.now());
    const a = queueNames({ namespace: "shop", name: `orders-${suffix}` });
    const b = queueNames({ namespace: "shop-orders", name: suffix });
    expect(a.outcomeBucket).not.toBe(b.outcomeBucket);
    const kvA = await openOutcomes(nc, a, settings(60_000), true);
    const kvB = await openOutcomes(nc, b, settings(3_600_000), true);
    const jsm = await jetstreamManager(nc);
    const maxAgeMs = async (bucket: string): Promise<number> =>
      (await jsm.streams.info(`KV_${bucket}`)).config.max_age / 1_000_000;
    expect(await maxAgeMs(a.outcomeBucket)).toBe(60_000);
    expect(await maxAgeMs(b.outcomeBucket)).toBe(3_600_000);

    await kvA.put("shop.x.r1", "a's outcome");
    expect(await kvB.get("shop.x.r1")).toBeNull();

    // A new revision with a longer retention: the bucket's TTL follows, entries stay.
    const again = await openOutcomes(nc, a, settings(120_000), true);
    expect(await maxAgeMs(a.outcomeBucket)).toBe(120_000);
    expect((await again.get("shop.x.r1"))?.string()).toBe("a's outcome");
    // In a cluster (no --ensure-stream) the sidecar only opens what the operator made.
    const c = queueNames({ namespace: "shop", name: `missing-${suffix}` });
    await expect(openOutcomes(nc, c, settings(60_000), false)).rejects.toThrow();
    const opened = await openOutcomes(nc, a, settings(60_000), false);
    expect((await opened.get("shop.x.r1"))?.string()).toBe("a's outcome");
    expect(await maxAgeMs(a.outcomeBucket)).toBe(120_000);
  });
});

describe("async outcomes only move forward (real nats-server, real sidecar client)", () => {
  it("the holder's 'queued' never overwrites an outcome an executor already wrote", async () => {
    const name = `forward-${Date.now()}`;
    const names = queueNames({ namespace: "default", name });
    const s = settings(60_000);
    const broker = new Broker(natsUrl(), "outcomes-test");
    try {
      const nc = await broker.ready();
      await ensureQueue(nc, names, s, true);
      const outcomes = await openOutcomes(nc, names, s, true);
      const client = new JetStreamQueueClient(broker, names);
      client.attach(outcomes);
      const job = (id: string) => ({
        id,
        revision: "r1",
        configKey: "h",
        method: "POST",
        path: "/x",
        headers: {},
        body: Buffer.from("x"),
        receivedAt: Date.now(),
        settings: s,
      });
      // An executor on another pod ran the request and wrote "done" before the holder's
      // write of "queued" (publish ack, then the write: the executor can come between).
      await outcomes.put(outcomeKey(names, "ran-first"), JSON.stringify({ id: "ran-first", state: "done" }));
      await client.async(job("ran-first"));
      expect((await outcomes.get(outcomeKey(names, "ran-first")))?.json()).toMatchObject({ state: "done" });
      // Positive control: with no outcome yet, the holder's write is there.
      await client.async(job("fresh"));
      expect((await outcomes.get(outcomeKey(names, "fresh")))?.json()).toMatchObject({ state: "queued" });
      client.close();
    } finally {
      await broker.close();
    }
  });
});
