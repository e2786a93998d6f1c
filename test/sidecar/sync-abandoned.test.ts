// A sync request whose client hangs up before the request is dispatched is never run
// (issue 15): its holder refuses the executor's claim, and its record says so.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("sync: a client that left before dispatch", () => {
  it("its request is not executed, the next one is, and its record says why", async () => {
    const dir = tempDir("sync-abandoned");
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, {
      name: `abandoned-${randomBytes(3).toString("hex")}`,
      queue: { mode: "sync", maxConcurrency: 1, maxWait: "60s", requestTimeout: "60s" },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, natsUrl: natsUrl() });
    cleanups.push(() => sc.process.stop());
    const tag = randomBytes(4).toString("hex");
    const [busy, gone, next] = [`busy-${tag}`, `gone-${tag}`, `next-${tag}`];
    const send = (id: string, hold: boolean): Promise<Response> =>
      fetch(`${sc.url}/work${hold ? "?hold=1" : ""}`, {
        method: "POST",
        body: id,
        headers: { "x-veltrix-request-id": id },
      });

    // The app's one slot is taken, so what follows waits in the stream.
    const first = send(busy, true);
    await eventually("the first request held at the app", async () =>
      (await app.stats()).held === 1 ? true : undefined,
    );

    // A client that sends its request and hangs up while it is queued.
    const socket = connect(sc.port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(
      `POST /work HTTP/1.1\r\nHost: a.test\r\nx-veltrix-request-id: ${gone}\r\nContent-Length: 2\r\n\r\nhi`,
    );
    await eventually("the abandoned request queued", async () => {
      const r = await fetch(`${sc.admin}/v1/requests/${gone}`);
      return r.ok && ((await r.json()) as { record: { state: string } }).record.state === "queued"
        ? true
        : undefined;
    });
    socket.destroy();
    await eventually("its record says it was not executed", async () => {
      const r = await fetch(`${sc.admin}/v1/requests/${gone}`);
      const rec = ((await r.json()) as { record: { state: string; error?: string } }).record;
      return rec.state === "failed" && rec.error?.includes("not executed") ? rec : undefined;
    });

    // Positive control: a request queued after it runs once the slot is free.
    const third = send(next, false);
    await app.release();
    expect((await first).status).toBe(200);
    expect((await third).status).toBe(200);
    const seen = (await app.stats()).seen;
    expect(seen[next]).toBe(1);
    expect(seen[gone]).toBeUndefined();
  }, 120_000);
});
