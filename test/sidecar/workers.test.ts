import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { eventually, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

describe("sidecar with --workers 2 (real processes sharing the listener)", () => {
  it("serves through both workers; the primary's admin API answers for all of them; SIGTERM drains all", async () => {
    const dir = tempDir("sidecar-workers");
    const app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, {
      name: "multi",
      queue: { mode: "direct", maxConcurrency: 4 },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, extraArgs: ["--workers", "2"] });
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `multi-req-${String(i).padStart(4, "0")}`);
      // Fresh connections so the cluster spreads them over both workers.
      const statuses = await Promise.all(
        ids.map(async (id) => {
          const res = await fetch(`${sc.url}/w?delay=20`, {
            headers: { "x-veltrix-request-id": id, connection: "close" },
          });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      const found = await Promise.all(
        ids.map(async (id) => {
          const rec = await eventually(`record ${id}`, async () => {
            const r = await fetch(`${sc.admin}/v1/requests/${id}`);
            return r.ok ? ((await r.json()) as { record: { state: string } }) : undefined;
          });
          return rec.record.state;
        }),
      );
      expect(found.every((s) => s === "done")).toBe(true);
      const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
      const done = /veltrix_sidecar_requests_total\{mode="direct",outcome="done"\} (\d+)/.exec(metrics);
      expect(Number(done?.[1])).toBe(40);
      // Both workers took requests: each one's record file has rows.
      for (const n of [1, 2]) {
        const db = new DatabaseSync(join(sc.dataDir, `requests-${n}.db`), { readOnly: true });
        const row = db.prepare("SELECT count(*) AS n FROM requests").get();
        db.close();
        expect(Number(row?.["n"])).toBeGreaterThan(0);
      }
      const ready = (await (await fetch(`${sc.admin}/readyz`)).json()) as { ready: boolean; workers: number };
      expect(ready).toMatchObject({ ready: true, workers: 2 });

      // maxConcurrency is per pod: two workers split 4 slots, so the app never sees more
      // than 4 at once however the connections spread over the workers.
      await app.reset();
      const burst = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          fetch(`${sc.url}/burst?delay=150`, {
            headers: { "x-veltrix-request-id": `burst-${i}`, connection: "close" },
          }).then(async (r) => (await r.arrayBuffer(), r.status)),
        ),
      );
      expect(burst.filter((s) => s === 200).length).toBeGreaterThan(0);
      expect((await app.stats()).maxInFlight).toBeLessThanOrEqual(4);

      const inflight = Array.from({ length: 4 }, () =>
        fetch(`${sc.url}/long?delay=600`).then((r) => r.status),
      );
      await eventually("at the app", async () => ((await app.stats()).inFlight >= 1 ? true : undefined));
      await sc.process.stop();
      expect(await Promise.all(inflight)).toEqual([200, 200, 200, 200]);
      await eventually("exit logged", () =>
        Promise.resolve(sc.process.tail().includes("exited code=0") ? true : undefined),
      );
    } finally {
      await sc.process.stop();
      await app.process.stop();
    }
  }, 90_000);
});
