// Clients on keep-alive connections while the sidecar drains (SIGTERM): every request sent
// on an open connection gets an answer (the app's, or 503 VX_ERR_DRAINING with Connection:
// close), never a connection closed under it; only new connections are refused. The node
// suite's rolling restart found the race this guards against: idle connections closed at
// once while their clients were sending the next request ("other side closed", issue 13).
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("a draining sidecar and its clients' keep-alive connections", () => {
  it("answers every request sent on an open connection; only new connections are refused", async () => {
    const dir = tempDir("sidecar-drain-keepalive");
    const app = await startApp(dir, "app");
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, {
      name: `drain-${randomBytes(3).toString("hex")}`,
      queue: { mode: "direct", maxConcurrency: 4 },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, natsUrl: natsUrl() });
    cleanups.push(() => sc.process.stop());

    const outcomes: string[] = [];
    let exited = false;
    // Four clients, each on its own keep-alive connection, with a few ms between requests
    // (a client's think time: its connection sits idle in between).
    const loop = async (): Promise<void> => {
      while (!exited) {
        try {
          const res = await fetch(`${sc.url}/drain`);
          await res.arrayBuffer();
          outcomes.push(`${res.status} ${res.headers.get("x-veltrix-error") ?? ""}`.trim());
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          outcomes.push(`error ${cause?.code ?? cause?.message ?? String(err)}`);
        }
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

    expect(outcomes.filter((o) => o.startsWith("error") && o !== "error ECONNREFUSED")).toEqual([]);
    expect(outcomes).toContain("503 VX_ERR_DRAINING");
    expect(outcomes.filter((o) => !["200", "503 VX_ERR_DRAINING", "error ECONNREFUSED"].includes(o))).toEqual(
      [],
    );
  });
});
