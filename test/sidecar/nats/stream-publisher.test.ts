import { jetstreamManager, DiscardPolicy } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PublishError, StreamPublisher } from "../../../sidecar/nats/stream-publisher.ts";
import { tempDir } from "../../harness/env.ts";
import { startNats, type NatsServer } from "../../../devenv/nats.ts";

const body = new TextEncoder().encode("x");

async function failure(p: Promise<unknown>): Promise<PublishError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PublishError)) throw new Error(`expected a PublishError, got ${String(err)}`);
  return err;
}

describe("publishing to JetStream with one ack inbox (real nats-server)", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  // Everything but the timeout test waits on a deadline no busy machine reaches: an answer
  // that is not a timeout shows the server's reply, not the clock, ended the publish.
  let publisher: StreamPublisher;
  let impatient: StreamPublisher;

  beforeAll(async () => {
    nats = await startNats({
      dir: tempDir("stream-publisher"),
      name: "publisher-nats",
      extraConfig: [
        "authorization {",
        '  users: [ { user: "app", password: "app-pw", permissions: {',
        '    publish: { allow: ["q.>", "$JS.API.>"] }, subscribe: { allow: ["_INBOX.>", "q.silent"] } } } ]',
        "}",
      ].join("\n"),
    });
    nc = await connect({ servers: nats.url, user: "app", pass: "app-pw" });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "Q", subjects: ["q.work"] });
    await jsm.streams.add({ name: "FULL", subjects: ["q.full"], max_msgs: 1, discard: DiscardPolicy.New });
    publisher = new StreamPublisher(nc, 60_000);
    impatient = new StreamPublisher(nc, 400);
  });
  afterAll(async () => {
    publisher.close();
    impatient.close();
    await nc.close();
    await nats.stop();
  });

  it("resolves once stored, and says when the msgID was stored before", async () => {
    const first = await Promise.all(
      ["a", "b", "c"].map((id) => publisher.publish("q.work", body, headers(), id)),
    );
    expect(first).toEqual([false, false, false]);
    expect(await publisher.publish("q.work", body, headers(), "b")).toBe(true);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("Q")).state.messages).toBe(3);
  });

  it("passes the stream's refusal on (a full stream)", async () => {
    await publisher.publish("q.full", body, headers(), "only");
    const err = await failure(publisher.publish("q.full", body, headers(), "one-too-many"));
    expect(err.kind).toBe("stream");
    expect(err.message).toMatch(/maximum messages/i);
  });

  it("fails at once when no stream listens on the subject (not after the ack timeout)", async () => {
    const err = await failure(publisher.publish("q.nowhere", body, headers(), "lost"));
    expect(err.kind).toBe("no-stream");
  });

  it("fails every publish to a subject NATS refuses, not just one", async () => {
    const errs = await Promise.all(
      ["r1", "r2", "r3"].map((id) => failure(publisher.publish("denied.work", body, headers(), id))),
    );
    expect(errs.map((e) => e.kind)).toEqual(["refused", "refused", "refused"]);
    expect(errs[0]?.message).toMatch(/permissions violation/i);
    // The ack timeout is a minute away: the refusal, not the timeout, failed them.
  });

  it("times out when nothing acknowledges", async () => {
    // A plain subscriber takes the message and never answers.
    const silent = nc.subscribe("q.silent");
    const err = await failure(impatient.publish("q.silent", body, headers(), "unanswered"));
    expect(err.kind).toBe("timeout");
    silent.unsubscribe();
  });
});
