import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryCount, Puller, type PulledMsg } from "../../../sidecar/nats/pull.ts";
import { eventually, tempDir } from "../../harness/env.ts";
import { startNats, type NatsServer } from "../../../devenv/nats.ts";

/** A puller on `stream`'s consumer `w` that records what happens to it. */
function recordingPuller(nc: NatsConnection, stream: string, expiresMs = 400) {
  const got: PulledMsg[] = [];
  const refused: string[] = [];
  let released = 0;
  const puller = new Puller(nc, {
    stream,
    consumer: "w",
    expiresMs,
    onMessage: (m) => got.push(m),
    onRelease: () => released++,
    onRefused: (why) => refused.push(why),
  });
  return { puller, got, refused, released: () => released };
}

describe("pulling from a work queue through one inbox (real nats-server)", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let n = 0;

  /** A fresh work-queue stream with `count` messages and a durable consumer `w`. */
  async function queue(count: number): Promise<string> {
    const name = `PULL${++n}`;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`pull${n}.q`], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add(name, { durable_name: "w", ack_policy: AckPolicy.Explicit, ack_wait: 30e9 });
    for (let i = 0; i < count; i++) nc.publish(`pull${n}.q`, String(i));
    await nc.flush();
    return name;
  }

  beforeAll(async () => {
    nats = await startNats({
      dir: tempDir("pull"),
      name: "pull-nats",
      extraConfig: [
        "authorization {",
        "  users: [",
        '    { user: "app", password: "app-pw" }',
        '    { user: "deaf", password: "deaf-pw", permissions: { subscribe: { deny: ["_INBOX.>"] } } }',
        "  ]",
        "}",
      ].join("\n"),
    });
    nc = await connect({ servers: nats.url, user: "app", pass: "app-pw", reconnectTimeWait: 100 });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  it("delivers no more than asked for, and hands back what an expired pull could not fill", async () => {
    const stream = await queue(5);
    const p = recordingPuller(nc, stream);
    p.puller.pull(3);
    expect(p.puller.pending).toBe(3);
    await eventually("3 delivered", () => Promise.resolve(p.got.length === 3 ? true : undefined));
    expect(p.puller.pending).toBe(0);
    p.puller.pull(4); // 2 left in the stream
    await eventually("the rest delivered", () => Promise.resolve(p.got.length === 5 ? true : undefined));
    expect(p.puller.pending).toBe(2);
    // The server's 408 after 400 ms says 2 never came: those slots are handed back.
    await eventually("expired pull handed back", () =>
      Promise.resolve(p.puller.pending === 0 && p.released() > 0 ? true : undefined),
    );
    expect(p.got.map((m) => new TextDecoder().decode(m.data))).toEqual(["0", "1", "2", "3", "4"]);
    expect(p.got.every((m) => m.subject === `pull${n}.q` && m.deliveryCount === 1)).toBe(true);
    expect(p.refused).toEqual([]);
    for (const m of p.got) m.ack();
    p.puller.stop();
  });

  it("ack, nak and term reach the server: a nak'ed message comes back with its delivery count", async () => {
    const stream = await queue(2);
    const p = recordingPuller(nc, stream);
    p.puller.pull(2);
    await eventually("2 delivered", () => Promise.resolve(p.got.length === 2 ? true : undefined));
    const [first, second] = p.got;
    first?.nak(50);
    second?.term("bad");
    p.puller.pull(2);
    await eventually("redelivered", () => Promise.resolve(p.got.length === 3 ? true : undefined));
    const again = p.got[2];
    expect(again && new TextDecoder().decode(again.data)).toBe("0");
    expect(again?.deliveryCount).toBe(2);
    again?.ack();
    await eventually("stream empty", async () => {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      return info.state.messages === 0 ? true : undefined;
    });
    p.puller.stop();
  });

  it("a pull the server refuses is reported and handed back whole", async () => {
    const p = recordingPuller(nc, "NO_SUCH_STREAM");
    p.puller.pull(4);
    await eventually("refused", () => Promise.resolve(p.refused.length > 0 ? true : undefined));
    expect(p.puller.pending).toBe(0);
    expect(p.released()).toBeGreaterThan(0);
    p.puller.stop();
  });

  it("a connection that may not subscribe its inbox says so, and every pull tries again", async () => {
    const stream = await queue(1);
    const deaf = await connect({ servers: nats.url, user: "deaf", pass: "deaf-pw" });
    try {
      const p = recordingPuller(deaf, stream);
      await eventually("refused", () => Promise.resolve(p.refused.length > 0 ? true : undefined));
      expect(p.refused[0]).toMatch(/cannot receive pulled messages: .*[Pp]ermissions/);
      p.puller.pull(1);
      await eventually("refused again", () => Promise.resolve(p.refused.length > 1 ? true : undefined));
      expect(p.puller.pending).toBe(0);
      expect(p.got).toEqual([]);
      p.puller.stop();
    } finally {
      await deaf.close();
    }
  });

  it("after a reconnect, hands every slot back and pulls again", async () => {
    const stream = await queue(0);
    const jsm = await jetstreamManager(nc);
    const waitingPulls = async (): Promise<number> => (await jsm.consumers.info(stream, "w")).num_waiting;
    const p = recordingPuller(nc, stream, 60_000);
    p.puller.pull(8);
    expect(p.puller.pending).toBe(8);
    // The server holds the pull (what the restart must take away).
    await eventually("the pull of 8 waiting at the server", async () =>
      (await waitingPulls()) === 1 ? true : undefined,
    );
    await nats.stop();
    await nats.start();
    await eventually("slots handed back after the reconnect", () =>
      Promise.resolve(p.puller.pending === 0 ? true : undefined),
    );
    // Stored for sure: a plain publish right after the restart can come before the stream is loaded.
    const js = jetstream(nc);
    await eventually("stored after the restart", () =>
      js.publish(`pull${n}.q`, "after").then(
        () => true,
        () => undefined,
      ),
    );
    // Pulled again until delivered, as the executor does: a pull can be refused (503)
    // while the restarted server is still loading the stream.
    await eventually("delivered after the reconnect", () => {
      if (p.got.length === 0 && p.puller.pending === 0) p.puller.pull(1);
      return Promise.resolve(p.got.length === 1 ? true : undefined);
    });
    // The pull of 8 from before the restart is gone: the server holds no pull for us,
    // so a message published now waits in the stream, never delivered...
    expect(await waitingPulls()).toBe(0);
    await js.publish(`pull${n}.q`, "unasked");
    expect(p.got.length).toBe(1);
    // ...until asked for, and then it comes on its first delivery (a delivery to a
    // leftover pull would have been nak'ed by the puller and counted by the server).
    p.puller.pull(1);
    await eventually("the unasked message once asked", () =>
      Promise.resolve(p.got.length === 2 ? true : undefined),
    );
    expect(new TextDecoder().decode(p.got[1]?.data)).toBe("unasked");
    expect(p.got[1]?.deliveryCount).toBe(1);
    for (const m of p.got) m.ack();
    p.puller.stop();
  }, 30_000);
});

describe("deliveryCount (JetStream ack subjects)", () => {
  it("reads both subject forms; anything else counts as a first delivery", () => {
    expect(deliveryCount("$JS.ACK.S.w.3.10.9.1700000000000000000.0")).toBe(3);
    expect(deliveryCount("$JS.ACK.dom.ACCHASH.S.w.2.10.9.1700000000000000000.0.rnd")).toBe(2);
    expect(deliveryCount("_INBOX.x")).toBe(1);
  });
});
