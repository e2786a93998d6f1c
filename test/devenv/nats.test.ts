import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsUrl } from "../harness/env.ts";

describe("nats-server with JetStream (real server)", () => {
  let nc: Awaited<ReturnType<typeof connect>>;
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl() });
  });
  afterAll(async () => {
    await nc.drain();
  });

  it("creates a work-queue stream, publishes with de-duplication and consumes with acks", async () => {
    const jsm = await jetstreamManager(nc);
    const stream = `SMOKE_${Date.now()}`;
    const subject = `smoke.${Date.now()}.work`;
    await jsm.streams.add({ name: stream, subjects: [subject], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add(stream, { durable_name: "workers", ack_policy: AckPolicy.Explicit });

    const js = jetstream(nc);
    const first = await js.publish(subject, "one", { msgID: "req-1" });
    const again = await js.publish(subject, "one", { msgID: "req-1" });
    await js.publish(subject, "two", { msgID: "req-2" });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);

    const consumer = await js.consumers.get(stream, "workers");
    const batch = await consumer.fetch({ max_messages: 10, expires: 2_000 });
    const seen: string[] = [];
    for await (const m of batch) {
      seen.push(m.string());
      m.ack();
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(["one", "two"]);
    // Work-queue retention removes acknowledged messages.
    await expect.poll(async () => (await jsm.streams.info(stream)).state.messages).toBe(0);
    await jsm.streams.delete(stream);
  });
});
