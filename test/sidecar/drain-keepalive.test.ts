// Clients on keep-alive connections while the sidecar drains (SIGTERM): every request sent
// on an open connection gets an answer (the app's, or 503 VX_ERR_DRAINING with Connection:
// close), never a connection closed under it; only new connections are refused. The node
// suite's rolling restart found the race this guards against: idle connections closed at
// once while their clients were sending the next request ("other side closed", issue 13).
// The sidecar closes a connection only once it has been quiet for 1 s (docs/sidecar.md):
// a client silent that long that sends at the very moment of the close can still race it.
import { randomBytes } from "node:crypto";
import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { type App, startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** The test app behind a `direct` sidecar, both stopped after the file's tests. */
async function appBehindSidecar(
  name: string,
): Promise<{ app: App; sc: Awaited<ReturnType<typeof startSidecar>> }> {
  const dir = tempDir(name);
  const app = await startApp(dir, "app");
  cleanups.push(() => app.process.stop());
  const configFile = writeVeltrixConfig(dir, {
    name: `drain-${randomBytes(3).toString("hex")}`,
    queue: { mode: "direct", maxConcurrency: 4 },
  });
  const sc = await startSidecar({ dir, configFile, appPort: app.port, natsUrl: natsUrl() });
  cleanups.push(() => sc.process.stop());
  return { app, sc };
}

describe("a draining sidecar and its clients' keep-alive connections", () => {
  it("answers every request sent on an open connection; only new connections are refused", async () => {
    const { app, sc } = await appBehindSidecar("sidecar-drain-keepalive");

    const outcomes: string[] = [];
    /** Errors after the client was silent long enough for the sidecar to close its connection. */
    const afterSilence: string[] = [];
    let exited = false;
    // Four clients, each on its own keep-alive connection, with a few ms between requests
    // (a client's think time: its connection sits idle in between).
    const loop = async (): Promise<void> => {
      let answeredAt = Date.now();
      while (!exited) {
        const silentMs = Date.now() - answeredAt;
        try {
          const res = await fetch(`${sc.url}/drain`);
          await res.arrayBuffer();
          outcomes.push(`${res.status} ${res.headers.get("x-veltrix-error") ?? ""}`.trim());
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          const outcome = `error ${cause?.code ?? cause?.message ?? String(err)}`;
          // A loaded machine can stall this process past the sidecar's quiet period.
          if (silentMs >= 500 && outcome !== "error ECONNREFUSED")
            afterSilence.push(`${outcome} after ${silentMs} ms`);
          else outcomes.push(outcome);
        }
        answeredAt = Date.now();
        await sleep(5);
      }
    };
    const loops = Array.from({ length: 4 }, () => loop());
    await eventually("answers before the drain", () =>
      Promise.resolve(outcomes.filter((o) => o === "200").length >= 40 ? true : undefined),
    );
    // A request held at the app keeps the drain going until the test releases it, so the
    // clients' connections are seen through the drain however slow the machine is.
    const held = fetch(`${sc.url}/held?hold=1`);
    await eventually("a request held at the app", async () =>
      (await app.stats()).held === 1 ? true : undefined,
    );
    const stopped = sc.process.stop();
    await eventually("requests on open connections answered 503 while draining", () =>
      Promise.resolve(outcomes.includes("503 VX_ERR_DRAINING") ? true : undefined),
    );
    expect(await app.release()).toBe(1);
    expect((await held).status).toBe(200);
    await stopped;
    exited = true;
    await Promise.all(loops);

    if (afterSilence.length > 0) console.log("errors after a client's silence (allowed):", afterSilence);
    expect(outcomes.filter((o) => o.startsWith("error") && o !== "error ECONNREFUSED")).toEqual([]);
    expect(outcomes).toContain("503 VX_ERR_DRAINING");
    expect(outcomes.filter((o) => !["200", "503 VX_ERR_DRAINING", "error ECONNREFUSED"].includes(o))).toEqual(
      [],
    );
  });

  it("answers the next request on a connection whose answer ended during the drain", async () => {
    const { app, sc } = await appBehindSidecar("sidecar-drain-late-answer");
    // One keep-alive connection: the second request goes on the first one's connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const get = (path: string): Promise<IncomingMessage> =>
      new Promise((resolve, reject) =>
        httpRequest(`${sc.url}${path}`, { agent }, resolve).on("error", reject).end(),
      );

    // Its headers went out before the drain, so it keeps its connection alive.
    const first = await get("/held?hold=1&early=1");
    expect(first.statusCode).toBe(200);
    const stopped = sc.process.stop();
    // Past the old fixed 1 s linger: the drain now waits only for this answer.
    await sleep(1_500);
    // The next request is sent the moment the answer ends: it must be answered, not cut.
    const second = new Promise<IncomingMessage>((resolve, reject) =>
      first.once("end", () => void get("/after").then(resolve, reject)),
    );
    first.resume();
    expect(await app.release()).toBe(1);
    const answer = await second;
    answer.resume();
    expect(answer.statusCode).toBe(503);
    expect(answer.headers["x-veltrix-error"]).toBe("VX_ERR_DRAINING");
    expect(answer.headers.connection).toBe("close");
    await stopped;
  });
});
