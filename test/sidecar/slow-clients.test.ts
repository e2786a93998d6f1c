// Clients that send their headers and then stall (issue 15): in `direct` they hold only
// their sockets, never the app's slots, and are answered 408 once the client request
// timeout passes. Real sidecar and app processes.
import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Sends headers and part of a body, then nothing; collects what comes back. */
function stall(port: number, id: string): { socket: Socket; answer: () => string } {
  const socket = connect(port, "127.0.0.1");
  let got = "";
  socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
  socket.on("error", () => undefined);
  socket.write(
    `POST /upload HTTP/1.1\r\nHost: a.test\r\nx-veltrix-request-id: ${id}\r\nContent-Length: 100\r\n\r\nabc`,
  );
  return { socket, answer: () => got };
}

describe("direct: clients that stall in their body", () => {
  it("take no app slot: a request after them is served; they get 408", async () => {
    const dir = tempDir("slow-clients");
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, {
      name: "slow",
      queue: { mode: "direct", maxConcurrency: 2, maxQueueDepth: 2, maxWait: "60s" },
    });
    const sc = await startSidecar({
      dir,
      configFile,
      appPort: app.port,
      extraArgs: ["--client-headers-timeout-ms", "1000", "--client-request-timeout-ms", "3000"],
    });
    cleanups.push(() => sc.process.stop());

    // Twice the slots and the queue together, all stalled in their bodies.
    const ids = Array.from({ length: 8 }, (_, i) => `stalled-${i}-${Date.now()}`);
    const stalled = ids.map((id) => stall(sc.port, id));
    for (const id of ids) {
      await eventually(`stalled request ${id} admitted`, async () =>
        (await fetch(`${sc.admin}/v1/requests/${id}`)).ok ? true : undefined,
      );
    }
    const res = await fetch(`${sc.url}/fine`);
    expect(res.status).toBe(200);

    const answers = await eventually("every stalled client answered", () =>
      Promise.resolve(stalled.every((s) => s.answer() !== "") ? stalled.map((s) => s.answer()) : undefined),
    );
    for (const a of answers) {
      expect(a).toMatch(/^HTTP\/1\.1 408 /);
      expect(a).toContain('"code":"VX_ERR_REQUEST_TIMEOUT"');
    }
    const stats = await app.stats();
    expect(stats.count).toBe(1);
  }, 120_000);
});
