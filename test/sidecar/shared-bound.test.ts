// One maxConcurrency per pod, whichever path a request takes: with
// queue.onBrokerUnavailable: direct, requests served directly while NATS was away and
// queued requests pulled once it is back share the app's slots.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { workQueueConsumer, workQueueStream } from "../../api/jetstream.ts";
import { queueSettings } from "../../api/queue-settings.ts";
import { applyDefaults } from "../../api/resolve.ts";
import { startNats } from "../../devenv/nats.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { publishAsyncJob, startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("the app's concurrency bound across the direct fallback and the queue", () => {
  it("queued requests wait for the slots that direct ones hold", async () => {
    const dir = tempDir("shared-bound");
    const ref = { namespace: "default", name: "shared-bound" };
    const queue = { mode: "async", maxConcurrency: 2, onBrokerUnavailable: "direct" } as const;
    // Two requests wait in the stream, queued by another pod, before this one starts.
    const nats = await startNats({ dir, name: "nats" });
    cleanups.push(() => nats.kill());
    const nc = await connect({ servers: nats.url });
    const settings = queueSettings(applyDefaults({ queue }));
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(workQueueStream(ref, settings));
    await jsm.consumers.add(workQueueStream(ref, settings).name, workQueueConsumer(settings));
    for (const id of ["queued-1", "queued-2"]) await publishAsyncJob(nc, ref, id, "/queued?hold=1");
    await nc.close();
    await nats.stop(); // away when the sidecar starts

    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, { name: ref.name, queue });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, natsUrl: nats.url });
    cleanups.push(() => sc.process.stop());
    // NATS away: both slots go to requests served directly, held at the app.
    const direct = [1, 2].map((i) => fetch(`${sc.url}/direct-${i}?hold=1`, { method: "POST" }));
    await eventually("two direct requests at the app", async () =>
      (await app.stats()).held === 2 ? true : undefined,
    );
    // NATS back: the queue attaches while both slots are taken, and pulls nothing yet.
    await nats.start();
    await eventually("attached", async () => {
      const r = (await (await fetch(`${sc.admin}/readyz`)).json()) as { broker?: string };
      return r.broker === "up" ? true : undefined;
    });
    // One direct request ends: exactly one queued request takes its slot.
    await fetch(`http://127.0.0.1:${app.port}/__release?one=1`, { method: "POST" });
    await eventually("a queued request at the app", async () => {
      const s = await app.stats();
      return (s.seen["queued-1"] ?? 0) + (s.seen["queued-2"] ?? 0) >= 1 ? s : undefined;
    });
    const s = await app.stats();
    expect([s.maxInFlight, s.held]).toEqual([2, 2]);
    // The rest follows as slots free up (the positive control: queued ones do run).
    await eventually("both queued requests ran", async () => {
      await app.release();
      const x = await app.stats();
      return x.seen["queued-1"] === 1 && x.seen["queued-2"] === 1 ? true : undefined;
    });
    for (const r of await Promise.all(direct)) expect(r.status).toBe(200);
    expect((await app.stats()).maxInFlight).toBe(2);
  });
});
