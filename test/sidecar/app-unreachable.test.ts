// A pod whose app refuses connections (not listening yet after the native sidecar started,
// exited after its preStop while the pod terminates, restarting) pulls no queued request
// until the app accepts a connection again, so the other pods' apps run them on their
// first attempt, instead of this pod spending their deliveries (queue.maxDeliver) and
// dead-lettering requests no app saw. Found by the node suite's scale and roll (issue 13).
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig, type Sidecar } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Answer {
  status: number;
  attempt: string | undefined;
}

/** `n` sync requests at once through `sc`, each answer's status and the attempt the app saw. */
async function send(sc: Sidecar, path: string, n: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${sc.url}/${path}/${i}`);
      const text = await res.text();
      const attempt = res.status === 200 ? (JSON.parse(text) as { attempt?: string }).attempt : undefined;
      return { status: res.status, attempt };
    }),
  );
}

describe("a sidecar whose app refuses connections", () => {
  it("pulls nothing until its app listens, and stops pulling once it refuses again", async () => {
    const dir = tempDir("sidecar-app-unreachable");
    const maxConcurrency = 2;
    // A's app: its port, with nothing listening on it yet.
    const appA = await startApp(dir, "app-a");
    cleanups.push(() => appA.process.stop());
    await appA.process.stop();
    const appB = await startApp(dir, "app-b");
    cleanups.push(() => appB.process.stop());
    const configFile = writeVeltrixConfig(dir, {
      name: `unreachable-${randomBytes(3).toString("hex")}`,
      queue: { mode: "sync", maxConcurrency, maxQueueDepth: 100, maxWait: "60s" },
    });
    const a = await startSidecar({ dir, name: "sc-a", configFile, appPort: appA.port, natsUrl: natsUrl() });
    cleanups.push(() => a.process.stop());
    const b = await startSidecar({ dir, name: "sc-b", configFile, appPort: appB.port, natsUrl: natsUrl() });
    cleanups.push(() => b.process.stop());

    // Held by A, run by B's app only, each on its first attempt: A never pulled one.
    const before = await send(a, "before", 30);
    expect(before.filter((r) => r.status !== 200 || r.attempt !== "1")).toEqual([]);
    expect((await appB.stats()).count).toBe(30);

    // A's app listens: A pulls again, and its app runs requests.
    appA.process.start();
    await appA.process.waitUntil(
      "app-a listening",
      async () => (await fetch(`http://127.0.0.1:${appA.port}/__stats`)).ok,
    );
    await eventually("a request run by A's app", async () => {
      await send(b, "listening", 4);
      return (await appA.stats()).count > 0 ? true : undefined;
    });

    // A's app exits: what A had pulled or was running fails once and goes to B; nothing more.
    // (A keep-alive connection the app closed may fail one more round with a reset before a
    // refused connect stops the pulls: at most two rounds of A's slots.)
    await appA.process.stop();
    const after = await send(a, "after", 30);
    expect(after.filter((r) => r.status !== 200)).toEqual([]);
    expect(after.filter((r) => r.attempt !== "1").length).toBeLessThanOrEqual(2 * maxConcurrency);
    const metrics = await (await fetch(`${a.admin}/metrics`)).text();
    expect(metrics).not.toMatch(/veltrix_sidecar_requests_total\{[^}]*outcome="expired"[^}]*\} [1-9]/);
  });
});
